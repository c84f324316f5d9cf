/**
 * {@link ChatInput}, the one reader of `chat`'s stdin: prompts in order, lines lent to a login
 * while it waits (and not afterwards), and {@link borrowingConsent} cancelling a login's wait with
 * the turn.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { borrowingConsent, ChatInput } from '../../src/cli/chat-input.js';
import { isMcpAgentError } from '../../src/errors.js';
import type { Consent } from '../../src/oauth/consent.js';

/** The next line `stream` gives (a login's paste prompt reads it so). */
async function lineOf(stream: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input: stream, terminal: false });
  const [line] = (await once(lines, 'line')) as [string];
  lines.close();
  return line;
}

describe('ChatInput', () => {
  test('prompts in order; the lines typed while lent go to the login, then prompts again', async () => {
    const stdin = new PassThrough();
    const input = new ChatInput(stdin);
    stdin.write('first\n');
    expect(await input.next()).toBe('first');
    input.lend();
    stdin.write('http://127.0.0.1:1/callback?code=secret&state=s\n');
    expect(await lineOf(input.loan)).toBe('http://127.0.0.1:1/callback?code=secret&state=s');
    stdin.write('typed after the address\n');
    // One turn of the event loop: the line reaches the loan, where no one reads it.
    await new Promise<void>((resolve) => setImmediate(resolve));
    input.reclaim();
    stdin.write('second\n');
    expect(await input.next()).toBe('second');
    // What the first login left unread is not given to the next one.
    input.lend();
    stdin.write('the next address\n');
    expect(await lineOf(input.loan)).toBe('the next address');
    input.reclaim();
    stdin.end();
    expect(await input.next()).toBeUndefined();
  });

  test('the lines queued before the end are still prompts; close() ends them', async () => {
    const stdin = new PassThrough();
    const input = new ChatInput(stdin);
    stdin.end('a\nb\n');
    expect(await input.next()).toBe('a');
    const pending = new ChatInput(new PassThrough());
    const next = pending.next();
    pending.close();
    expect(await next).toBeUndefined();
    expect(await input.next()).toBe('b');
    expect(await input.next()).toBeUndefined();
  });
});

describe('borrowingConsent', () => {
  function fakeConsent(): Consent & { readonly closed: boolean } {
    let closed = false;
    return {
      mode: 'code',
      openReceiver: async () => ({
        redirectUri: 'http://127.0.0.1:1/callback',
        wait: () => new Promise<URL>(() => {}),
        close: async () => {
          closed = true;
        },
      }),
      showAuthorizationUrl: async () => {},
      showDeviceCode: () => {},
      get closed() {
        return closed;
      },
    };
  }
  const request = {
    server: 'notion',
    ports: [1],
    host: '127.0.0.1' as const,
    redirectUris: [],
    timeoutMs: 60_000,
  };

  test("the turn's abort cancels the wait; the lines are the session's again once it ends", async () => {
    const stdin = new PassThrough();
    const input = new ChatInput(stdin);
    const turn = new AbortController();
    const inner = fakeConsent();
    const consent = borrowingConsent(inner, input, () => turn.signal);
    const receiver = await consent.openReceiver(request);
    const waiting = receiver.wait('state');
    turn.abort();
    const error = await waiting.catch((caught: unknown) => caught);
    expect(isMcpAgentError(error, 'OAUTH_CALLBACK')).toBe(true);
    expect(String((error as Error).message)).toContain('cancelled');
    consent.finished?.('failed');
    await receiver.close();
    expect(inner.closed).toBe(true);
    stdin.write('a prompt\n');
    expect(await input.next()).toBe('a prompt');
  });
});
