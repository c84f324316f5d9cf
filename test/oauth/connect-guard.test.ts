/**
 * The connect-time address check (docs/oauth-discovery.md, issue 13 item 9, issue 14 item 7):
 * the OAuth requests of a server that is not on a private address connect only to public
 * addresses, checked on the address each connection really uses, wherever a token manager is
 * built: the CLI, `createApp` (the app's scope, callers' scopes, service accounts, credential
 * profiles). And the network policy's rule that a server counts as private only when every
 * address it resolves to is private.
 *
 * DNS rebinding is staged in process: the resolver of the policy (`node:dns/promises`) says
 * `localhost` is public, while connections resolve it for real, to 127.0.0.1. Only a connection
 * guarded by `publicOnlyLookup` then refuses it; an unguarded one reaches the stub below, which
 * records every path asked for.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import type { AppBuilder } from '../../src/app/define.js';
import { McpAgentError } from '../../src/errors.js';
import { type Lookup, policyFor } from '../../src/oauth/protocol/network.js';
import { TokenManager } from '../../src/oauth/token-manager.js';
import { createTokenStore } from '../../src/stores/token-store.js';
import { runCli, tempTree } from '../helpers/cli.js';
import { loadConfig } from '../support/config.js';
import { type HostileServer, json, startHostileServer } from '../support/hostile-server.js';

/** What the policy's resolver answers for `localhost`: a public address (a rebinding answer). */
const REBOUND = '93.184.216.34';

vi.mock('node:dns/promises', async (importOriginal) => {
  const actual = await importOriginal<typeof import('node:dns/promises')>();
  const lookup = ((host: string, options?: unknown) =>
    host === 'localhost'
      ? Promise.resolve([{ address: REBOUND, family: 4 }])
      : (actual.lookup as (h: string, o?: unknown) => Promise<unknown>)(
          host,
          options,
        )) as typeof actual.lookup;
  return { ...actual, lookup, default: { ...actual, lookup } };
});

let stub: HostileServer;
/** The stub by name (looks public to the policy, is 127.0.0.1) and by address (private). */
let byName: string;
let byAddress: string;

beforeAll(async () => {
  stub = await startHostileServer({
    '/mcp': (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer' });
      res.end();
    },
    '/.well-known/oauth-protected-resource/mcp': (_req, res) => {
      json({ resource: `${byAddress}/mcp`, authorization_servers: [byAddress] })(
        _req,
        res,
        undefined as never,
      );
    },
  });
  byAddress = stub.origin;
  byName = stub.origin.replace('127.0.0.1', 'localhost');
});

afterAll(async () => {
  await stub?.close();
});

/** Paths of the OAuth documents asked for since the test began. */
let seen = 0;
afterEach(() => {
  seen = stub.answers.length;
});
function wellKnownAsked(): string[] {
  return stub.answers
    .slice(seen)
    .map((answer) => answer.path)
    .filter((path) => path.startsWith('/.well-known/'));
}

/** The codes down `error`'s cause chain. */
function codesOf(error: unknown): unknown[] {
  const codes: unknown[] = [];
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    codes.push((cause as { code?: unknown }).code);
  }
  return codes;
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
}

describe('the network policy: a server is private only when every address it has is', () => {
  const lookupOf =
    (addresses: string[]): Lookup =>
    async () =>
      addresses;

  test.each([
    [['10.0.0.1', '192.168.1.1'], true],
    [['127.0.0.1'], true],
    // One private record of a public host (or a rebinding answer) does not switch the guard off.
    [['203.0.113.5', '10.0.0.1'], false],
    [['10.0.0.1', '203.0.113.5'], false],
    [['::1', '2606:2800:220:1::1'], false],
    [[], false],
  ])('%j → private network allowed: %s', async (addresses, allowed) => {
    const policy = await policyFor(new URL('https://mcp.mixed.example/mcp'), {
      lookup: lookupOf(addresses),
    });
    expect(policy.allowPrivate).toBe(allowed);
  });

  test('a server with a public and a private address may not point discovery inward', async () => {
    const asked: string[] = [];
    const { settings, cleanup } = loadConfig(
      'mcp:\n  servers:\n    mixed:\n      transport: streamable_http\n      url: https://mcp.mixed.example/mcp\n      auth:\n        oauth:\n          enabled: true\n          authorization_server: https://10.1.2.3\n',
    );
    const manager = new TokenManager({
      store: createTokenStore(settings.oauth.token_store),
      oauth: settings.oauth,
      fetch: async (input) => {
        asked.push(String(input));
        return new Response(null, { status: 404 });
      },
      lookup: async (host) => (host === 'mcp.mixed.example' ? ['203.0.113.5', '10.0.0.1'] : []),
    });
    try {
      const auth = manager.forServer('mixed', settings.mcp.servers.mixed as never);
      const error = await rejection(auth?.target() ?? Promise.resolve());
      expect(error).toBeInstanceOf(McpAgentError);
      expect((error as McpAgentError).message).toMatch(
        /^Refusing the protected-resource metadata at https:\/\/mcp\.mixed\.example: it is on a private or local address/,
      );
      // No metadata was fetched, the server's own nor the inward issuer's (only the configured
      // URL was probed for a challenge).
      expect(asked.filter((url) => url !== 'https://mcp.mixed.example/mcp')).toEqual([]);
    } finally {
      cleanup();
    }
  });
});

/** A config with `remote` (by name: looks public) and `internal` (by address: private). */
function yaml(extra = ''): string {
  return `
mcp:
  servers:
    remote:
      transport: streamable_http
      url: ${byName}/mcp
      auth:
        oauth:
          enabled: true
    service:
      transport: streamable_http
      url: ${byName}/mcp
      auth:
        oauth:
          enabled: true
          grant_type: client_credentials
          authorization_server: ${byName}
          client_id: svc
          client_secret: svc-secret
    internal:
      transport: streamable_http
      url: ${byAddress}/mcp
      auth:
        oauth:
          enabled: true
credentials:
  api:
    type: oauth2
    grant_type: authorization_code
    hosts: [${new URL(byName).host}]
    authorization_server: ${byName}
    client_id: api-client
${extra}`;
}

describe('the CLI', () => {
  test('a public server: its OAuth requests cannot connect to a private address', async () => {
    const tree = tempTree({ 'mcp_agent.config.yaml': yaml() });
    try {
      const result = await runCli(['tools', 'list', 'remote'], { cwd: tree.dir });
      expect(result.code).not.toBe(0);
      // The MCP server itself was called (the configured URL), its metadata never.
      expect(stub.answers.slice(seen).some((answer) => answer.path === '/mcp')).toBe(true);
      expect(wellKnownAsked()).toEqual([]);
    } finally {
      tree.cleanup();
    }
  });

  test('a private server: discovery goes ahead (the control of the test above)', async () => {
    const tree = tempTree({ 'mcp_agent.config.yaml': yaml() });
    try {
      await runCli(['tools', 'list', 'internal'], { cwd: tree.dir });
      expect(wellKnownAsked()).toContain('/.well-known/oauth-protected-resource/mcp');
    } finally {
      tree.cleanup();
    }
  });
});

describe('createApp', () => {
  let builder: AppBuilder | undefined;
  const open = async () => {
    const { settings, cleanup } = loadConfig(yaml());
    const app = await createApp({
      settings,
      env: {},
      setup: (app) => {
        builder = app;
      },
    });
    return {
      app,
      authOf: (tokens: TokenManager, name: string) => {
        const auth = tokens.forServer(name, settings.mcp.servers[name] as never);
        if (!auth) throw new Error(`${name} does not use OAuth`);
        return auth;
      },
      close: async () => {
        await app.close();
        cleanup();
      },
    };
  };

  test("the app's own scope", async () => {
    const { app, authOf, close } = await open();
    try {
      const error = await rejection(authOf(app.tokens, 'remote').target());
      expect(codesOf(error)).toContain('ENOTPUBLIC');
      expect(wellKnownAsked()).toEqual([]);
    } finally {
      await close();
    }
  });

  test("a caller's scope", async () => {
    const { app, authOf, close } = await open();
    try {
      const scope = app.scopes.forIdentity('https://issuer.example#alice');
      expect(scope.tokens).not.toBe(app.tokens);
      const error = await rejection(authOf(scope.tokens, 'remote').target());
      expect(codesOf(error)).toContain('ENOTPUBLIC');
      expect(wellKnownAsked()).toEqual([]);
    } finally {
      await close();
    }
  });

  test('a service account', async () => {
    const { app, authOf, close } = await open();
    try {
      await rejection(authOf(app.tokens, 'service').token());
      expect(wellKnownAsked()).toEqual([]);
    } finally {
      await close();
    }
  });

  test('a credential profile signed in through the token manager', async () => {
    const { close } = await open();
    try {
      if (!builder) throw new Error('the setup did not run');
      const error = await rejection(builder.credentials.token('api'));
      expect((error as McpAgentError).code).toBe('OAUTH_LOGIN_REQUIRED');
      expect(wellKnownAsked()).toEqual([]);
    } finally {
      await close();
    }
  });

  test('a private server: discovery goes ahead (the control)', async () => {
    const { app, authOf, close } = await open();
    try {
      await rejection(authOf(app.tokens, 'internal').target());
      expect(wellKnownAsked()).toContain('/.well-known/oauth-protected-resource/mcp');
    } finally {
      await close();
    }
  });
});
