import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { startProgress } from '../../../src/oauth/flows/progress.js';
import { manualClock } from '../../support/clock.js';

function fakeStream(isTTY: boolean) {
  const writes: string[] = [];
  const stream = {
    isTTY,
    write(chunk: string) {
      writes.push(chunk);
      return true;
    },
  } as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  return { stream, writes };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('startProgress', () => {
  test('TTY: one spinner line with the seconds left, rewritten in place, cleared on stop', () => {
    const clock = manualClock();
    const { stream, writes } = fakeStream(true);
    const progress = startProgress({
      stream,
      label: 'Waiting for the browser',
      deadline: clock.now() + 120_000,
      now: clock.now,
    });
    expect(writes).toEqual(['\r\u001b[K⠋ Waiting for the browser (120 s left)']);
    clock.advance(1_500);
    vi.advanceTimersByTime(100);
    expect(writes.at(-1)).toBe('\r\u001b[K⠙ Waiting for the browser (119 s left)');
    for (const write of writes) expect(write).not.toContain('\n');
    progress.stop('Signed in.');
    expect(writes.slice(-2)).toEqual(['\r\u001b[K', 'Signed in.\n']);
    const count = writes.length;
    vi.advanceTimersByTime(10_000);
    progress.stop('again');
    expect(writes).toHaveLength(count);
  });

  test('TTY: never below 0 s', () => {
    const clock = manualClock();
    const { stream, writes } = fakeStream(true);
    const progress = startProgress({
      stream,
      label: 'x',
      deadline: clock.now() + 1_000,
      now: clock.now,
      intervalMs: 50,
    });
    clock.advance(5_000);
    vi.advanceTimersByTime(50);
    expect(writes.at(-1)).toMatch(/\(0 s left\)$/);
    progress.stop();
    expect(writes.at(-1)).toBe('\r\u001b[K');
  });

  test('not a TTY: a line at the start, then one every 30 s, no escape sequences', () => {
    const clock = manualClock();
    const { stream, writes } = fakeStream(false);
    const progress = startProgress({
      stream,
      label: 'Waiting for the browser',
      deadline: clock.now() + 300_000,
      now: clock.now,
    });
    expect(writes).toEqual(['Waiting for the browser (300 s left)\n']);
    clock.advance(29_000);
    vi.advanceTimersByTime(29_000);
    expect(writes).toHaveLength(1);
    clock.advance(1_000);
    vi.advanceTimersByTime(1_000);
    clock.advance(30_000);
    vi.advanceTimersByTime(30_000);
    expect(writes.slice(1)).toEqual(['still waiting, 270 s left\n', 'still waiting, 240 s left\n']);
    progress.stop();
    progress.stop('Done.');
    expect(writes).toHaveLength(3);
    for (const write of writes) {
      expect(write.endsWith('\n')).toBe(true);
      expect(write.slice(0, -1)).not.toMatch(/\p{Cc}/u);
    }
  });

  test('not a TTY: stop with a final line', () => {
    const { stream, writes } = fakeStream(false);
    const progress = startProgress({ stream, label: 'x', deadline: Date.now() + 10_000 });
    progress.stop('Signed in.');
    expect(writes.at(-1)).toBe('Signed in.\n');
  });

  test('control characters in the label never reach the terminal', () => {
    const { stream, writes } = fakeStream(true);
    const progress = startProgress({ stream, label: 'a\u001b]0;pwned\u0007b', deadline: 0 });
    progress.stop();
    expect(writes[0]?.slice(4)).not.toMatch(/\p{Cc}/u);
  });

  test('the timer is unref’d, and cleared on stop', () => {
    vi.useRealTimers();
    const unref = vi.fn();
    const clear = vi.spyOn(globalThis, 'clearInterval');
    const set = vi.spyOn(globalThis, 'setInterval').mockReturnValue({
      unref,
    } as unknown as NodeJS.Timeout);
    try {
      const { stream } = fakeStream(false);
      const progress = startProgress({ stream, label: 'x', deadline: Date.now() });
      expect(unref).toHaveBeenCalledOnce();
      progress.stop();
      expect(clear).toHaveBeenCalledWith(set.mock.results[0]?.value);
    } finally {
      set.mockRestore();
      clear.mockRestore();
    }
  });
});
