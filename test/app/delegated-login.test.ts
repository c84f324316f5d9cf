/**
 * The wait after a URL elicitation, as real clients answer it (accept first, the person signs in
 * afterwards), the answers that stop it, a token the downstream no longer accepts, and what a
 * caller who is not signed in yet sees in `tools/list`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ToolNames } from '../../src/config/tool-names.js';
import { userTokens } from '../server/serve-support.js';
import { waitFor } from '../support/net.js';
import {
  connect,
  DOWN_SCOPE,
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
  subOf,
  textOf,
} from './delegated-support.js';

let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm();
  agent = await serveAgent(delegatedSettings({ realm, inbound }), inbound.port);
}, 30_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
});

async function tokenOf(user: string): Promise<string> {
  return (await userTokens(inbound.as.issuer, inbound.resource, user)).accessToken;
}

/** Resolves when `check` holds, or after `ms` anyway. */
async function until(check: () => boolean, ms: number): Promise<void> {
  await waitFor('the condition', () => (check() ? true : undefined), ms).catch(() => {});
}

describe('the wait after the elicitation', () => {
  test('a client that answers before the person signs in: the call waits for the callback, then completes', async () => {
    const client = await connect(agent.running.url, await tokenOf('kim'), {
      signInAs: 'kim-down',
      background: true,
    });
    try {
      const result = await client.call('down_whoami');
      expect(result.isError).toBeFalsy();
      expect(subOf(result)).toBe('kim-down');
      await Promise.all(client.log.running);
      expect(client.log.pages[0]?.status).toBe(200);
      expect(client.log.requests).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  test('the client is told the elicitation completed (notifications/elicitation/complete)', async () => {
    const client = await connect(agent.running.url, await tokenOf('lou'), {
      signInAs: 'lou-down',
    });
    try {
      expect(subOf(await client.call('down_whoami'))).toBe('lou-down');
      const request = client.log.requests[0];
      const id = request?.mode === 'url' ? request.elicitationId : undefined;
      await waitFor('the completion notification', () =>
        client.log.completed.includes(id ?? '') ? true : undefined,
      );
    } finally {
      await client.close();
    }
  });

  test('cancel: the call ends with a tool error, nothing runs downstream', async () => {
    const before = realm.server.calls.length;
    const client = await connect(agent.running.url, await tokenOf('max'), {
      signInAs: 'max-down',
      answer: 'cancel',
    });
    try {
      const result = await client.call('down_whoami');
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/not accepted/);
    } finally {
      await client.close();
    }
    expect(realm.server.calls.length).toBe(before);
  });

  test('after the downstream rejects a stored token, the wait lasts until the new sign-in is stored, then the call goes on', async () => {
    const token = await tokenOf('rita');
    // Rita deposits a token the downstream does not accept (revoked, say): still unexpired here.
    const rejected = 'rejected-by-the-downstream-0123456789';
    const depositor = await connect(agent.running.url, token);
    try {
      const stored = await depositor.call('workflows-store-credentials', {
        tokens: [
          {
            server_name: 'down',
            access_token: rejected,
            expires_at: Math.floor(Date.now() / 1000) + 3600,
            scopes: [DOWN_SCOPE],
            authorization_server: realm.as.issuer,
          },
        ],
      });
      expect(stored.isError).toBeFalsy();
    } finally {
      await depositor.close();
    }
    const sentRejected = () =>
      realm.server.requests.filter((entry) => entry.token === rejected).length;
    let atAnswer = 0;
    // The person signs in a little later: once the agent has tried again, or after 1.5 s.
    const client = await connect(agent.running.url, token, {
      signInAs: 'rita-down',
      background: () => {
        atAnswer = sentRejected();
        return until(() => sentRejected() > atAnswer, 1_500);
      },
    });
    try {
      const result = await client.call('down_whoami');
      expect(client.log.requests).toHaveLength(1);
      // Expected: the call waits for a new token (not the rejected one) and completes with it.
      // Observed: the retry goes out at once with the rejected token, 401, and the tool fails.
      expect({ retriedWithRejected: sentRejected() > atAnswer, text: textOf(result) }).toEqual({
        retriedWithRejected: false,
        text: expect.stringContaining('rita-down'),
      });
    } finally {
      await Promise.allSettled(client.log.running);
      await client.close();
    }
  });
});

describe('tools/list for a caller not signed in yet', () => {
  test("shows the downstream tools another caller listed; calling one starts the caller's own sign-in", async () => {
    const signedIn = await connect(agent.running.url, await tokenOf('nia'), {
      signInAs: 'nia-down',
    });
    try {
      expect(subOf(await signedIn.call('down_whoami'))).toBe('nia-down');
      const listed = (await signedIn.client.listTools()).tools.map((tool) => tool.name);
      expect(listed).toContain('down_whoami');
    } finally {
      await signedIn.close();
    }
    const newcomer = await connect(agent.running.url, await tokenOf('oli'), {
      signInAs: 'oli-down',
    });
    try {
      const names = (await newcomer.client.listTools()).tools.map((tool) => tool.name);
      expect(names).toContain('down_whoami');
      expect(names).toContain('workflows-store-credentials');
      expect(newcomer.log.requests).toHaveLength(0);
      expect(subOf(await newcomer.call('down_whoami'))).toBe('oli-down');
      expect(newcomer.log.requests).toHaveLength(1);
    } finally {
      await newcomer.close();
    }
  });
});

describe('the first caller of a fresh agent', () => {
  test('sees a sign-in stand-in (SERVER_sign_in_HASH, a name no server tool can have); calling it signs in and the real tools follow', async () => {
    const signIn = new ToolNames(['down']).signInName('down');
    expect(signIn).toMatch(/^down_sign_in_[0-9a-f]{10}$/);
    const fresh = await serveAgent(delegatedSettings({ realm, inbound }), 0);
    const client = await connect(fresh.running.url, await tokenOf('pia'), { signInAs: 'pia-down' });
    try {
      const before = (await client.client.listTools()).tools.map((tool) => tool.name);
      expect(before).toContain(signIn);
      expect(before).not.toContain('down_whoami');
      const signedIn = await client.call(signIn);
      expect(signedIn.isError).toBeFalsy();
      expect(textOf(signedIn)).toContain('down_whoami');
      expect(client.log.requests).toHaveLength(1);
      const after = (await client.client.listTools()).tools.map((tool) => tool.name);
      expect(after).toContain('down_whoami');
      expect(after).not.toContain(signIn);
      expect(subOf(await client.call('down_whoami'))).toBe('pia-down');
      // The old spellings are not a way to the stand-in (or to anything).
      expect((await client.call('down/~sign_in')).isError).toBe(true);
      expect((await client.call('down/~0sign_in')).isError).toBe(true);
    } finally {
      await client.close();
      await fresh.close();
    }
  });
});
