/**
 * Logins through `createAgentAuth`, on the fake network of `fake-world.ts`: the default
 * hand-over consent (a needed login fails at once with the authorization URL; `completeLogin`
 * finishes it with the address the browser was sent back to), per end user, with a step-up asked
 * for ahead of a request (`login({ scopes })`); the interactive consent (the CLI's, as a library)
 * with the browser replaced; and the errors of completing a login that is not one.
 */

import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { interactiveConsent } from '../../src/client/consent-interactive.js';
import { authorizationRequiredIn, handOverConsent } from '../../src/client/hand-over.js';
import { AuthorizationRequiredError } from '../../src/errors.js';
import { tempTree } from '../helpers/cli.js';
import { freePort } from '../support/net.js';
import { failure, fakeSettings, ISSUER, MCP_URL, openFake } from './fake-world.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((auth) => auth.close()));
});

function open() {
  return openFake(closing);
}

/** The address the authorization server would send the browser back to, with `code`. */
function callbackOf(handed: AuthorizationRequiredError, code = 'code-1'): string {
  const authorization = new URL(handed.authorizationUrl);
  const callback = new URL(authorization.searchParams.get('redirect_uri') ?? '');
  callback.searchParams.set('code', code);
  callback.searchParams.set('state', authorization.searchParams.get('state') ?? '');
  callback.searchParams.set('iss', ISSUER);
  return callback.href;
}

describe('the hand-over consent (the default)', () => {
  test("an end user's first login: the URL at once, completed out of band; the user's token only", async () => {
    const { auth, world } = open();
    const alice = auth.forUser('alice');
    const handed = await alice.login('docs').catch((error: unknown) => error);
    expect(handed).toBeInstanceOf(AuthorizationRequiredError);
    const error = handed as AuthorizationRequiredError;
    expect(error.server).toBe('docs');
    expect(error.issuer).toBe(ISSUER);
    const url = new URL(error.authorizationUrl);
    expect(url.origin + url.pathname).toBe(`${ISSUER}/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('resource')).toBe(MCP_URL);

    const result = await alice.completeLogin('docs', callbackOf(error));
    expect(result).toEqual({
      server: 'docs',
      identity: 'alice',
      issuer: ISSUER,
      scopes: ['docs:read'],
      expiresAt: expect.any(Number),
      hasRefreshToken: true,
      loggedIn: true,
    });
    expect((await alice.status('docs')).map((row) => row.identity)).toEqual(['alice']);
    expect(await auth.status('docs')).toEqual([]);

    await alice.server('docs').fetch(MCP_URL, { method: 'POST', body: '{}' });
    expect(world.mcpRequests().at(-1)?.headers.get('authorization')).toBe('Bearer issued-access-1');
    // A second login() keeps the good token.
    expect(await alice.login('docs')).toMatchObject({ identity: 'alice', loggedIn: false });
  });

  test('the message says what to do and where the URL is; with the memory store, that only this process can complete it', async () => {
    const { auth } = open();
    const memory = (await failure(() =>
      auth.forUser('alice').login('docs'),
    )) as AuthorizationRequiredError;
    const state = new URL(memory.authorizationUrl).searchParams.get('state') ?? '';
    expect(memory.message).toContain('needs a login at http://127.0.0.1:4102');
    expect(memory.message).toContain("open this error's authorizationUrl in a browser");
    expect(memory.message).toContain('in this process (completeLogin(server, address))');
    expect(memory.message).toContain('interactiveConsent(');
    // The URL's state lets whoever holds it complete the login: it is for the person, not logs.
    expect(memory.message).not.toContain(state);
    expect(memory.message).not.toContain('/authorize');

    const tree = tempTree({});
    closing.push({ close: async () => tree.cleanup() });
    const { auth: filed } = openFake(closing, {
      settings: fakeSettings({
        extra: {
          oauth: {
            token_store: { backend: 'file', path: join(tree.dir, 'tokens.json') },
            loopback_ports: [53_999],
          },
        },
      }),
    });
    const shared = (await failure(() =>
      filed.forUser('alice').login('docs'),
    )) as AuthorizationRequiredError;
    expect(shared.message).toContain('mcp-agent auth complete ADDRESS on the same token store');
    expect(shared.message).not.toContain('in this process');
  });

  test('login({ scopes }) before a request: a held token without them is stepped up', async () => {
    const { auth } = open();
    expect(await auth.login('docs')).toMatchObject({ loggedIn: false, scopes: ['docs:read'] });
    const handed = await failure(() => auth.login('docs', { scopes: ['docs:write'] }));
    const error = handed as AuthorizationRequiredError;
    const scope = new URL(error.authorizationUrl).searchParams.get('scope');
    expect(scope?.split(' ').sort()).toEqual(['docs:read', 'docs:write']);
    const result = await auth.completeLogin('docs', callbackOf(error, 'code-for-write'));
    expect(result.scopes).toEqual(['docs:read', 'docs:write']);
    expect(await auth.login('docs', { scopes: ['docs:write'] })).toMatchObject({
      loggedIn: false,
    });
  });

  test('login({ force: true }) logs in even with a good token', async () => {
    const { auth } = open();
    const error = await failure(() => auth.login('docs', { force: true }));
    expect(error).toBeInstanceOf(AuthorizationRequiredError);
  });

  test('completing twice, with a garbage address, or as another user: one clear error each', async () => {
    const { auth } = open();
    const alice = auth.forUser('alice');
    const handed = (await failure(() => alice.login('docs'))) as AuthorizationRequiredError;
    const callback = callbackOf(handed);

    const asBob = await failure(() => auth.forUser('bob').completeLogin('docs', callback));
    expect(asBob.message).toBe(
      'This login was started for another server or user than server "docs"; it was refused.',
    );
    await alice.completeLogin('docs', callback);
    const replay = await failure(() => alice.completeLogin('docs', callback));
    expect(replay.message).toBe(
      'This login is unknown, expired or already completed; start it again.',
    );
    const garbage = await failure(() => alice.completeLogin('docs', 'not a url at all'));
    expect(garbage.code).toBe('OAUTH_CALLBACK');
  });

  test('onAuthorizationRequired is told of each login handed over, and whose it is', async () => {
    const told: [string, string][] = [];
    const { auth } = openFake(closing, {
      consent: handOverConsent({
        onAuthorizationRequired: (login, identity) => {
          told.push([login.authorizationUrl, identity]);
          throw new Error('a listener that fails changes nothing');
        },
      }),
    });
    const handed = await failure(() => auth.forUser('erin').login('docs'));
    expect(handed).toBeInstanceOf(AuthorizationRequiredError);
    expect(told).toEqual([[(handed as AuthorizationRequiredError).authorizationUrl, 'erin']]);
  });

  test('authorizationRequiredIn finds the hand-over inside the errors a framework wraps it in', async () => {
    const { auth } = open();
    const handed = await failure(() => auth.forUser('carol').login('docs'));
    const wrapped = new Error('MCP error -32603: request failed', {
      cause: new Error('transport failed', { cause: handed }),
    });
    expect(authorizationRequiredIn(wrapped)).toBe(handed);
    expect(authorizationRequiredIn(new Error('other'))).toBeUndefined();
    expect(authorizationRequiredIn('not an error')).toBeUndefined();
  });
});

describe('the interactive consent (the CLI’s, as a library)', () => {
  test('the URL written, the browser opened, the loopback callback received, progress ended', async () => {
    const port = await freePort();
    let written = '';
    const opened: URL[] = [];
    const settings = fakeSettings({
      extra: { oauth: { token_store: { backend: 'memory' }, loopback_ports: [port] } },
    });
    const { auth } = openFake(closing, {
      settings,
      consent: interactiveConsent({
        output: { write: (text: string) => (written += text) },
        // The "browser": the authorization server redirects at once to the loopback callback.
        openBrowser: async (url) => {
          opened.push(url);
          const redirect = new URL(url.searchParams.get('redirect_uri') ?? '');
          redirect.searchParams.set('code', 'code-1');
          redirect.searchParams.set('state', url.searchParams.get('state') ?? '');
          redirect.searchParams.set('iss', ISSUER);
          const answer = await fetch(redirect);
          await answer.body?.cancel();
          return true;
        },
      }),
    });
    const result = await auth.forUser('dave').login('docs');
    expect(result).toMatchObject({ identity: 'dave', loggedIn: true, scopes: ['docs:read'] });
    expect(opened).toHaveLength(1);
    expect(new URL(opened[0]?.searchParams.get('redirect_uri') ?? '').port).toBe(String(port));
    expect(written).toContain(
      `To authorize server "docs" (scopes: docs:read) at ${ISSUER}, open this URL in a browser:\n${opened[0]?.href}\n`,
    );
    expect(written).toContain('Authorization received.');
    expect(written).not.toContain('issued-access');
  });
});
