/**
 * The background refresh scheduler on its own: injected timers, clock and randomness, fake
 * targets. What it schedules and when (nextRefreshAt, backoff, Retry-After), what it reports,
 * and that its real timers never keep a process alive.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { McpAgentError } from '../../src/errors.js';
import { OAuthServerError } from '../../src/oauth/protocol/failures.js';
import {
  MAX_TIMER_DELAY_MS,
  RETRY_BASE_MS,
  RETRY_MAX_MS,
  type RefreshEvent,
  RefreshScheduler,
  type RefreshTarget,
  type SchedulerTimers,
} from '../../src/oauth/scheduler.js';
import { type ManualClock, manualClock } from '../support/clock.js';

const DIST_INDEX = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

/** One timer set through the fake {@link SchedulerTimers}. */
interface FakeTimer {
  readonly id: number;
  readonly run: () => void;
  /** The delay asked for. */
  readonly ms: number;
  /** When it is due on the manual clock. */
  readonly at: number;
  cleared: boolean;
  fired: boolean;
}

/** Timers on a manual clock: nothing runs until {@link FakeTimers.fireDue}. */
interface FakeTimers {
  readonly impl: SchedulerTimers;
  readonly all: FakeTimer[];
  pending(): FakeTimer[];
  /** Move the clock to the earliest pending timer and run every timer due then. */
  fireNext(): Promise<FakeTimer>;
}

/** Let pending promise chains (fake targets resolve at once) run to the end. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

function fakeTimers(clock: ManualClock): FakeTimers {
  const all: FakeTimer[] = [];
  let next = 1;
  const pending = () => all.filter((timer) => !timer.cleared && !timer.fired);
  return {
    all,
    pending,
    impl: {
      set(run, ms) {
        const timer: FakeTimer = {
          id: next++,
          run,
          ms,
          at: clock.now() + ms,
          cleared: false,
          fired: false,
        };
        all.push(timer);
        return timer;
      },
      clear(handle) {
        (handle as FakeTimer).cleared = true;
      },
    },
    async fireNext() {
      const first = pending().sort((a, b) => a.at - b.at)[0];
      if (!first) throw new Error('no timer is pending');
      clock.set(Math.max(clock.now(), first.at));
      for (const timer of pending()) {
        if (timer.at <= clock.now()) {
          timer.fired = true;
          timer.run();
        }
      }
      await settle();
      return first;
    },
  };
}

type Outcome = 'none' | 'not-needed' | 'refreshed' | Error;

/** A target whose refreshes and next times are scripted; it records its refreshIfDue calls. */
function scriptedTarget(
  name: string,
  script: { next: () => number | undefined; outcomes?: Outcome[] },
): RefreshTarget & { calls: number } {
  const outcomes = [...(script.outcomes ?? [])];
  const target = {
    name,
    calls: 0,
    async refreshIfDue() {
      target.calls += 1;
      const outcome = outcomes.shift() ?? 'refreshed';
      if (outcome instanceof Error) throw outcome;
      return outcome;
    },
    async nextRefreshAt() {
      return script.next();
    },
  };
  return target;
}

function setup(random: () => number = () => 0.5) {
  const clock = manualClock();
  const timers = fakeTimers(clock);
  const scheduler = new RefreshScheduler({ now: clock.now, random, timers: timers.impl });
  const events: RefreshEvent[] = [];
  scheduler.on((event) => events.push(event));
  return { clock, timers, scheduler, events };
}

const transient = () =>
  new McpAgentError('OAUTH_TOKEN', 'The token refresh at https://as.example failed: network.');

describe('scheduling', () => {
  test('watch schedules the refresh at nextRefreshAt; nothing runs before it is due', async () => {
    const { clock, timers, scheduler, events } = setup();
    const target = scriptedTarget('notion', { next: () => clock.now() + 45_000 });
    await scheduler.watch(target);
    expect(scheduler.isWatching('notion')).toBe(true);
    expect(timers.pending()).toHaveLength(1);
    expect(timers.pending()[0]?.ms).toBe(45_000);
    expect(target.calls).toBe(0);
    expect(events).toEqual([]);
  });

  test('a target without a refreshable token (nextRefreshAt undefined, or it throws) is not scheduled', async () => {
    const { timers, scheduler } = setup();
    await scheduler.watch(scriptedTarget('none', { next: () => undefined }));
    await scheduler.watch({
      name: 'broken',
      refreshIfDue: async () => 'refreshed',
      nextRefreshAt: async () => {
        throw new McpAgentError('STORE_UNAVAILABLE', 'store down');
      },
    });
    expect(timers.pending()).toEqual([]);
    expect(scheduler.isWatching('none')).toBe(false);
    expect(scheduler.isWatching('broken')).toBe(false);
  });

  test('a refresh due in 40 days waits the longest delay a Node timer keeps, then is rescheduled, not run early', async () => {
    const { clock, timers, scheduler, events } = setup();
    const due = clock.now() + 40 * 24 * 3_600_000;
    const target = scriptedTarget('far', { next: () => due, outcomes: ['not-needed'] });
    await scheduler.watch(target);
    expect(timers.pending()[0]?.ms).toBe(MAX_TIMER_DELAY_MS);
    await timers.fireNext();
    expect(events).toEqual([]);
    expect(timers.pending()[0]?.ms).toBe(due - clock.now());
  });

  test('a time in the past fires at once (delay 0)', async () => {
    const { clock, timers, scheduler } = setup();
    await scheduler.watch(scriptedTarget('late', { next: () => clock.now() - 5_000 }));
    expect(timers.pending()[0]?.ms).toBe(0);
  });

  test('refreshed → a "refreshed" event and the next refresh scheduled from the new token', async () => {
    const { clock, timers, scheduler, events } = setup();
    let next = clock.now() + 10_000;
    const target = scriptedTarget('notion', { next: () => next });
    await scheduler.watch(target);
    next += 3_600_000;
    const fired = await timers.fireNext();
    expect(fired.ms).toBe(10_000);
    expect(target.calls).toBe(1);
    expect(events).toEqual([{ type: 'refreshed', server: 'notion' }]);
    expect(timers.pending()).toHaveLength(1);
    expect(timers.pending()[0]?.at).toBe(next);
    expect(scheduler.isWatching('notion')).toBe(true);
  });

  test('not-needed (another process refreshed first) → no event, rescheduled; none (the record is gone) → no event, not rescheduled', async () => {
    const { clock, timers, scheduler, events } = setup();
    const target = scriptedTarget('notion', {
      next: () => clock.now() + 1_000,
      outcomes: ['not-needed'],
    });
    await scheduler.watch(target);
    await timers.fireNext();
    expect(target.calls).toBe(1);
    expect(events).toEqual([]);
    expect(timers.pending()).toHaveLength(1);
    expect(scheduler.isWatching('notion')).toBe(true);

    let record = true;
    const gone = scriptedTarget('gone', {
      next: () => (record ? clock.now() + 500 : undefined),
      outcomes: ['none'],
    });
    await scheduler.watch(gone);
    record = false;
    await timers.fireNext();
    expect(gone.calls).toBe(1);
    expect(events).toEqual([]);
    expect(scheduler.isWatching('gone')).toBe(false);
  });

  test('an earlier watch replaces a later one; a later one does not replace an earlier one', async () => {
    const { clock, timers, scheduler } = setup();
    const start = clock.now();
    let next = start + 60_000;
    const target = scriptedTarget('notion', { next: () => next });
    await scheduler.watch(target);
    const first = timers.pending()[0];
    next = start + 10_000;
    await scheduler.watch(target);
    expect(first?.cleared).toBe(true);
    expect(timers.pending()).toHaveLength(1);
    expect(timers.pending()[0]?.at).toBe(start + 10_000);
    next = start + 30_000;
    await scheduler.watch(target);
    expect(timers.pending()).toHaveLength(1);
    expect(timers.pending()[0]?.at).toBe(start + 10_000);
    // Each server has its own schedule.
    await scheduler.watch(scriptedTarget('github', { next: () => start + 90_000 }));
    expect(timers.pending()).toHaveLength(2);
    expect(scheduler.isWatching('github')).toBe(true);
  });
});

describe('closed targets', () => {
  test('a closed target is not scheduled: not by watch, nor after a refresh that ran while it was closed', async () => {
    const { clock, timers, scheduler } = setup();
    const closed = {
      ...scriptedTarget('notion', { next: () => clock.now() + 1_000 }),
      closed: true,
    };
    await scheduler.watch(closed);
    expect(scheduler.isWatching('notion')).toBe(false);

    // Closed while its next refresh time is read (an in-flight request's watch) …
    const state = { closed: false };
    let reading: () => void = () => {};
    const slow: RefreshTarget = {
      name: 'github',
      get closed() {
        return state.closed;
      },
      refreshIfDue: async () => 'refreshed',
      nextRefreshAt: () =>
        new Promise((resolve) => {
          reading = () => resolve(clock.now() + 1_000);
        }),
    };
    const watching = scheduler.watch(slow);
    state.closed = true;
    reading();
    await watching;
    expect(scheduler.isWatching('github')).toBe(false);

    // … or while a refresh ran: not rescheduled.
    const running = { closed: false };
    const target: RefreshTarget = {
      name: 'linear',
      get closed() {
        return running.closed;
      },
      refreshIfDue: async () => {
        running.closed = true;
        return 'refreshed';
      },
      nextRefreshAt: async () => clock.now() + 1_000,
    };
    await scheduler.watch(target);
    await timers.fireNext();
    expect(scheduler.isWatching('linear')).toBe(false);
    expect(timers.pending()).toEqual([]);
  });
});

describe('failures', () => {
  test('transient failures: "failed" events with exponential backoff 1 s, 2 s, 4 s … capped at 60 s, jittered to 50–100 %', async () => {
    const randoms = [0, 0.999_999, 0.5, 0, 0.999_999, 0.25, 0.75, 0, 0.999_999];
    const { clock, timers, scheduler, events } = setup(() => randoms.shift() ?? 0.5);
    const errors = Array.from({ length: 9 }, transient);
    const target = scriptedTarget('notion', { next: () => clock.now() + 1_000, outcomes: errors });
    await scheduler.watch(target);
    const delays: number[] = [];
    for (let attempt = 1; attempt <= 9; attempt++) {
      await timers.fireNext();
      const event = events.at(-1);
      expect(event?.type).toBe('failed');
      if (event?.type !== 'failed') throw new Error('unreachable');
      expect(event.server).toBe('notion');
      expect(event.error.code).toBe('OAUTH_TOKEN');
      const backoff = Math.min(RETRY_BASE_MS * 2 ** (attempt - 1), RETRY_MAX_MS);
      expect(event.retryInMs).toBeGreaterThanOrEqual(backoff * 0.5);
      expect(event.retryInMs).toBeLessThanOrEqual(backoff);
      // The retry timer is set for exactly the delay the event announced.
      expect(timers.pending()).toHaveLength(1);
      expect(timers.pending()[0]?.ms).toBe(event.retryInMs);
      delays.push(event.retryInMs);
    }
    expect(delays).toEqual([500, 2_000, 3_000, 4_000, 16_000, 20_000, 52_500, 30_000, 60_000]);
    expect(target.calls).toBe(9);
  });

  test('a success resets the backoff: the next failure waits about 1 s again', async () => {
    const { clock, timers, scheduler, events } = setup(() => 0.999_999);
    const target = scriptedTarget('notion', {
      next: () => clock.now() + 1_000,
      outcomes: [transient(), transient(), transient(), 'refreshed', transient()],
    });
    await scheduler.watch(target);
    for (let i = 0; i < 5; i++) await timers.fireNext();
    const retries = events.flatMap((event) => (event.type === 'failed' ? [event.retryInMs] : []));
    expect(retries).toEqual([1_000, 2_000, 4_000, 1_000]);
    expect(events.filter((event) => event.type === 'refreshed')).toHaveLength(1);
  });

  test("Retry-After (an OAuthServerError's retryAfterMs) is honoured as given, without jitter", async () => {
    const { clock, timers, scheduler, events } = setup(() => 0);
    const unavailable = (retryAfterMs: number) =>
      new OAuthServerError(
        'OAUTH_TOKEN',
        'The token refresh was refused: temporarily_unavailable',
        {
          error: 'temporarily_unavailable',
          status: 503,
          retryAfterMs,
        },
      );
    const target = scriptedTarget('notion', {
      next: () => clock.now() + 1_000,
      outcomes: [unavailable(7_000), unavailable(45_000), 'refreshed'],
    });
    await scheduler.watch(target);
    await timers.fireNext();
    expect(events.at(-1)).toMatchObject({ type: 'failed', retryInMs: 7_000 });
    expect(timers.pending()[0]?.ms).toBe(7_000);
    // Not the exponential backoff of a second failure (1–2 s): the server's 45 s.
    await timers.fireNext();
    expect(events.at(-1)).toMatchObject({ type: 'failed', retryInMs: 45_000 });
    expect(timers.pending()[0]?.ms).toBe(45_000);
    const before = clock.now();
    await timers.fireNext();
    expect(clock.now() - before).toBe(45_000);
    expect(events.at(-1)).toEqual({ type: 'refreshed', server: 'notion' });
  });

  test('an absurd Retry-After (a day) is bounded (5 minutes), so the schedule never dies', async () => {
    const { clock, timers, scheduler, events } = setup();
    const target = scriptedTarget('notion', {
      next: () => clock.now() + 1_000,
      outcomes: [
        new OAuthServerError('OAUTH_TOKEN', 'slow down', {
          error: 'slow_down',
          status: 429,
          retryAfterMs: 86_400_000,
        }),
      ],
    });
    await scheduler.watch(target);
    await timers.fireNext();
    const event = events.at(-1);
    expect(event?.type).toBe('failed');
    expect(event?.type === 'failed' && event.retryInMs).toBe(RETRY_MAX_MS * 5);
  });

  test('OAUTH_LOGIN_REQUIRED (invalid_grant, invalid_client) → "needs-login" and no further refresh', async () => {
    const { clock, timers, scheduler, events } = setup();
    const refused = new McpAgentError(
      'OAUTH_LOGIN_REQUIRED',
      'Server "notion" needs a new login (the authorization server refused its refresh token (invalid_grant)): run `mcp-agent auth login notion`.',
    );
    const target = scriptedTarget('notion', {
      next: () => clock.now() + 1_000,
      outcomes: [transient(), refused],
    });
    await scheduler.watch(target);
    await timers.fireNext();
    await timers.fireNext();
    expect(events.map((event) => event.type)).toEqual(['failed', 'needs-login']);
    expect(events.at(-1)).toEqual({ type: 'needs-login', server: 'notion', error: refused });
    expect(timers.pending()).toEqual([]);
    expect(scheduler.isWatching('notion')).toBe(false);
    expect(target.calls).toBe(2);
  });

  test('a failure that is not an McpAgentError is reported as OAUTH_TOKEN with the cause kept', async () => {
    const { clock, timers, scheduler, events } = setup();
    const cause = new TypeError('fetch failed');
    await scheduler.watch(
      scriptedTarget('notion', { next: () => clock.now() + 1_000, outcomes: [cause] }),
    );
    await timers.fireNext();
    const event = events.at(-1);
    expect(event?.type).toBe('failed');
    if (event?.type !== 'failed') throw new Error('unreachable');
    expect(event.error).toBeInstanceOf(McpAgentError);
    expect(event.error.code).toBe('OAUTH_TOKEN');
    expect(event.error.cause).toBe(cause);
  });
});

describe('listeners and stop', () => {
  test('a throwing listener does not stop the others; on() returns the unsubscribe', async () => {
    const { clock, timers, scheduler, events } = setup();
    const off = scheduler.on(() => {
      throw new Error('listener bug');
    });
    const seen: string[] = [];
    const offSeen = scheduler.on((event) => seen.push(event.type));
    await scheduler.watch(scriptedTarget('notion', { next: () => clock.now() + 1_000 }));
    await timers.fireNext();
    expect(events.map((event) => event.type)).toEqual(['refreshed']);
    expect(seen).toEqual(['refreshed']);
    off();
    offSeen();
    await timers.fireNext();
    expect(seen).toEqual(['refreshed']);
    expect(events).toHaveLength(2);
  });

  test('stop() cancels every scheduled refresh; later watches do nothing; a timer that fires anyway does nothing', async () => {
    const { clock, timers, scheduler, events } = setup();
    const a = scriptedTarget('a', { next: () => clock.now() + 1_000 });
    const b = scriptedTarget('b', { next: () => clock.now() + 2_000 });
    await scheduler.watch(a);
    await scheduler.watch(b);
    const set = timers.pending();
    expect(set).toHaveLength(2);
    scheduler.stop();
    expect(set.every((timer) => timer.cleared)).toBe(true);
    expect(scheduler.isWatching('a')).toBe(false);
    await scheduler.watch(a);
    expect(timers.pending()).toEqual([]);
    // A platform timer that was already queued when stop() ran.
    set[0]?.run();
    await settle();
    expect(a.calls).toBe(0);
    expect(events).toEqual([]);
  });

  test('stop() while a refresh is running: its failure is reported but not retried', async () => {
    const { clock, timers, scheduler, events } = setup();
    let fail: (error: Error) => void = () => {};
    await scheduler.watch({
      name: 'notion',
      nextRefreshAt: async () => clock.now() + 1_000,
      refreshIfDue: () =>
        new Promise((_, reject) => {
          fail = reject;
        }),
    });
    await timers.fireNext();
    scheduler.stop();
    fail(transient());
    await settle();
    expect(timers.pending()).toEqual([]);
    expect(events.every((event) => event.type === 'failed')).toBe(true);
  });
});

describe('real timers', () => {
  test("are unref'd: a process with a refresh scheduled an hour ahead (TokenManager backgroundRefresh: true, and a bare RefreshScheduler) exits at once", async () => {
    expect(existsSync(DIST_INDEX), 'dist/index.js is missing: run `npm run build` first').toBe(
      true,
    );
    const script = `
      import { RefreshScheduler, TokenManager, MemoryKeyValueStore, TokenStore } from ${JSON.stringify(
        new URL(`file://${DIST_INDEX}`).href,
      )};
      const far = { name: 'far', refreshIfDue: async () => 'refreshed', nextRefreshAt: async () => Date.now() + 3_600_000 };
      const tokens = new TokenManager({
        store: new TokenStore(new MemoryKeyValueStore()),
        oauth: {},
        fetch,
        backgroundRefresh: true,
      });
      await tokens.scheduler.watch(far);
      const bare = new RefreshScheduler();
      await bare.watch({ ...far, name: 'bare' });
      process.stdout.write('watching ' + tokens.scheduler.isWatching('far') + ' ' + bare.isWatching('bare') + '\\n');
    `;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let watchingAt = 0;
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (!watchingAt && stdout.includes('watching')) watchingAt = Date.now();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    clearTimeout(killer);
    const exitedAfterMs = Date.now() - watchingAt;
    expect(stderr).toBe('');
    expect(stdout.trim()).toBe('watching true true');
    expect(signal).toBeNull();
    expect(code).toBe(0);
    // An hour-long ref'd timer would have kept it alive until the 10 s kill.
    expect(exitedAfterMs).toBeLessThan(2_000);
  });
});
