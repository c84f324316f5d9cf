import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { isMcpAgentError } from '../../../src/errors.js';
import { createPasteReceiver } from '../../../src/oauth/flows/paste.js';

const REDIRECT = 'http://127.0.0.1:33418/callback';

function setup(options: { timeoutMs?: number; signal?: AbortSignal } = {}) {
  const input = new PassThrough();
  const hints: string[] = [];
  const receiver = createPasteReceiver({
    redirectUri: REDIRECT,
    input,
    prompt: (text) => hints.push(text),
    timeoutMs: options.timeoutMs ?? 5_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { input, hints, receiver };
}

/** Resolves once `hints` has `count` entries (the receiver reads asynchronously). */
async function hinted(hints: string[], count: number): Promise<void> {
  while (hints.length < count) await new Promise((resolve) => setImmediate(resolve));
}

describe('createPasteReceiver', () => {
  test('garbage, another address and another state get hints; the right URL resolves', async () => {
    const { input, hints, receiver } = setup();
    expect(receiver.redirectUri).toBe(REDIRECT);
    const url = receiver.wait('s1');
    input.write('CANARY-not a url\n');
    input.write('\n');
    input.write('http://127.0.0.1:33418/elsewhere?code=CANARY&state=s1\n');
    input.write('http://localhost:33418/callback?code=CANARY&state=s1\r\n');
    input.write('http://127.0.0.1:33418/callback?code=CANARY&state=CANARY\n');
    await hinted(hints, 4);
    input.write('  http://127.0.0.1:33418/callback?code=real&state=s1  \r\n');
    const received = await url;
    expect(received.searchParams.get('code')).toBe('real');
    expect(received.origin + received.pathname).toBe(REDIRECT);
    expect(hints).toHaveLength(4);
    expect(hints[0]).toMatch(/not a URL/);
    expect(hints[1]).toMatch(/not the redirect address/);
    expect(hints[2]).toMatch(/not the redirect address/);
    expect(hints[3]).toMatch(/state does not match/);
    for (const hint of hints) {
      expect(hint).not.toContain('CANARY');
      expect(hint).not.toContain('\n');
    }
  });

  test('a URL pasted before wait() is read when the wait starts', async () => {
    const { input, receiver } = setup();
    input.write(`${REDIRECT}?code=c&state=s1\n`);
    await expect(receiver.wait('s1')).resolves.toBeInstanceOf(URL);
  });

  test('an error response with the right state resolves (the caller reports it)', async () => {
    const { input, receiver } = setup();
    const url = receiver.wait('s1');
    input.write(`${REDIRECT}?error=access_denied&state=s1\n`);
    expect((await url).searchParams.get('error')).toBe('access_denied');
  });

  test('end of input: OAUTH_CALLBACK', async () => {
    const { input, receiver } = setup();
    const url = receiver.wait('s1');
    input.end(`${REDIRECT}?code=c&state=other\n`);
    const error = await url.catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toMatch(/Input ended/);
  });

  test('input that already ended: OAUTH_CALLBACK at once', async () => {
    const { input, receiver } = setup();
    input.end();
    input.resume();
    await new Promise((resolve) => input.once('end', resolve));
    expect(isMcpAgentError(await receiver.wait('s1').catch((e) => e), 'OAUTH_CALLBACK')).toBe(true);
  });

  test('timeout: OAUTH_CALLBACK without the state, and the input is released', async () => {
    const { input, receiver } = setup({ timeoutMs: 20 });
    const error = await receiver.wait('secret-state').catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toMatch(/within 0\.02 s/);
    expect(error.message).not.toContain('secret-state');
    expect(input.listenerCount('data')).toBe(0);
  });

  test('abort: OAUTH_CALLBACK', async () => {
    const controller = new AbortController();
    const { receiver } = setup({ signal: controller.signal });
    const url = receiver.wait('s1');
    controller.abort();
    const error = await url.catch((e) => e);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(error.message).toMatch(/cancelled/);
  });

  test('close() ends a pending wait and stops reading', async () => {
    const { input, receiver } = setup();
    const url = receiver.wait('s1');
    await receiver.close();
    expect(isMcpAgentError(await url.catch((e) => e), 'OAUTH_CALLBACK')).toBe(true);
    expect(input.listenerCount('data')).toBe(0);
    await expect(receiver.wait('s2')).rejects.toThrow(TypeError);
  });

  test('close() before wait(): wait rejects', async () => {
    const { receiver } = setup();
    await receiver.close();
    expect(isMcpAgentError(await receiver.wait('s1').catch((e) => e), 'OAUTH_CALLBACK')).toBe(true);
  });

  test('nothing pasted is ever written anywhere but the hints', async () => {
    const input = new PassThrough();
    const output: string[] = [];
    const receiver = createPasteReceiver({
      redirectUri: REDIRECT,
      input,
      prompt: (text) => output.push(text),
      timeoutMs: 5_000,
    });
    const url = receiver.wait('s1');
    input.write(`${REDIRECT}?code=SECRETCODE&state=nope\n`);
    input.write(`${REDIRECT}?code=SECRETCODE&state=s1\n`);
    await url;
    expect(output.join('\n')).not.toContain('SECRETCODE');
  });

  test('a redirect URI that is not a URL is a caller error', () => {
    expect(() =>
      createPasteReceiver({ redirectUri: 'callback', input: new PassThrough(), timeoutMs: 1 }),
    ).toThrow(TypeError);
  });
});
