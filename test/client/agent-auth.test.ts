/**
 * `createAgentAuth`: where its settings come from (a configuration file read as the CLI reads
 * it, or an object validated with the same schema and the same issue list as `config check`),
 * the server handles, the end users' scopes, and the errors of bad input: an unknown server name,
 * an invalid settings object, an empty, huge or reserved identity, use after `close()`. The
 * network is the fake one of `fake-world.ts` (real `Response`s through the injected `fetch`).
 */
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { run } from '../../src/cli/run.js';
import { createAgentAuth } from '../../src/client/agent-auth.js';
import { ConfigError, formatIssue } from '../../src/config/issues.js';
import { type SettingsInput, settingsSchema } from '../../src/config/schema/settings.js';
import { tempTree } from '../helpers/cli.js';
import { CANARY_ACCESS, failure, fakeSettings, MCP_URL, openFake } from './fake-world.js';

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(closing.splice(0).map((auth) => auth.close()));
});

/** An AgentAuth on the fake network, closed after the test. */
function open(settings?: SettingsInput) {
  return openFake(closing, settings ? { settings } : {});
}

describe('the settings: a configuration file, or an object', () => {
  test('configPath: the file and its secrets file, as the CLI reads them', async () => {
    const tree = tempTree({
      'agent/mcp_agent.config.yaml': [
        'name: file-agent',
        'mcp:',
        '  servers:',
        '    docs:',
        '      transport: streamable_http',
        `      url: ${MCP_URL}`,
        '      auth: { oauth: { enabled: true, client_id: agent-client } }',
      ].join('\n'),
      'agent/mcp_agent.secrets.yaml':
        'mcp: { servers: { docs: { headers: { X-Key: "${DOCS_KEY}" } } } }\n',
    });
    try {
      const auth = createAgentAuth({
        configPath: 'agent/mcp_agent.config.yaml',
        cwd: tree.dir,
        env: { DOCS_KEY: 'canary-from-env' },
        homeDir: join(tree.dir, 'home'),
      });
      closing.push(auth);
      expect(auth.settings.name).toBe('file-agent');
      expect(auth.settings.mcp.servers.docs?.headers?.['X-Key']?.reveal()).toBe('canary-from-env');
      expect(auth.server('docs').url.href).toBe(MCP_URL);
      expect(JSON.stringify(auth.settings)).not.toContain('canary-from-env');
    } finally {
      tree.cleanup();
    }
  });

  test('a settings object, or settings already parsed (their Secrets taken as they are)', () => {
    const { auth } = open(settingsSchema.parse(fakeSettings()) as never);
    expect(Object.keys(auth.settings.mcp.servers)).toEqual(['docs', 'notes', 'plain']);
    expect(auth.settings.mcp.servers.docs?.auth?.oauth?.access_token?.reveal()).toBe(CANARY_ACCESS);
    expect(auth.warnings).toEqual([]);
  });

  test('an invalid object: one ConfigError with every problem, as config check lists them, without file:line', async () => {
    const document = {
      mcp: {
        servers: {
          docs: { transport: 'streamable_htp', url: MCP_URL, read_timeout_seconds: 'soon' },
        },
      },
      oauth: { token_store: { backend: 'memory' }, loopback_port: [1] },
    };
    let error: unknown;
    try {
      createAgentAuth({ settings: document as never, env: {} });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const issues = (error as ConfigError).errors;
    expect(issues.length).toBe(3);
    expect(issues.every((issue) => issue.origin === undefined)).toBe(true);

    // The same document as a file: config check reports the same keys and messages.
    const tree = tempTree({
      'mcp_agent.config.yaml': JSON.stringify(document),
    });
    try {
      let stdout = '';
      const code = await run(['--json', 'config', 'check'], {
        stdout: { write: (text: string) => (stdout += text) },
        stderr: { write: () => true },
        env: {},
        cwd: tree.dir,
        homeDir: join(tree.dir, 'home'),
      });
      expect(code).toBe(2);
      const reported = (
        JSON.parse(stdout) as { error: { issues: { path?: string; message: string }[] } }
      ).error.issues.map((issue) => `${issue.path} ${issue.message}`);
      expect(issues.map((issue) => formatIssue(issue))).toEqual(reported);
    } finally {
      tree.cleanup();
    }
  });

  test('settings that are not an object, and configPath with settings, are one clear error each', async () => {
    const notObject = await failure(() => createAgentAuth({ settings: 'mcp: {}' as never }));
    expect(notObject).toBeInstanceOf(ConfigError);
    expect(notObject.message).toBe(
      'Invalid configuration: the settings must be an object (the configuration document), not a string',
    );
    const both = await failure(() =>
      createAgentAuth({ settings: fakeSettings(), configPath: 'mcp_agent.config.yaml' }),
    );
    expect(both.code).toBe('USAGE');
    expect(both.message).toContain('either configPath or settings');
  });
});

describe('server names', () => {
  test('a configured server: its handle, the same one each time', () => {
    const { auth } = open();
    const docs = auth.server('docs');
    expect(auth.server('docs')).toBe(docs);
    expect(docs.name).toBe('docs');
    expect(docs.identity).toBe('app');
    expect(docs.url.href).toBe(MCP_URL);
  });

  test.each([
    [
      'doc',
      'No server named "doc" in mcp.servers (did you mean "docs"?); configured: docs, notes, plain.',
    ],
    ['github', 'No server named "github" in mcp.servers; configured: docs, notes, plain.'],
    ['__proto__', 'No server named "__proto__" in mcp.servers; configured: docs, notes, plain.'],
  ])('%s: SERVER_UNKNOWN naming the configured servers', async (name, message) => {
    const { auth } = open();
    for (const attempt of [
      () => auth.server(name),
      () => auth.login(name),
      () => auth.connect(name),
      () => auth.status(name),
      () => auth.forUser('alice').server(name),
    ]) {
      const error = await failure(attempt);
      expect(error.code).toBe('SERVER_UNKNOWN');
      expect(error.message).toBe(message);
    }
  });

  test('a name that is not a string, or is huge, is not quoted whole', async () => {
    const { auth } = open();
    expect((await failure(() => auth.server(42 as never))).message).toBe(
      'No server named that in mcp.servers; configured: docs, notes, plain.',
    );
    const huge = `x${'canary-name'.repeat(1000)}`;
    const error = await failure(() => auth.server(huge));
    expect(error.message.length).toBeLessThan(250);
  });

  test('a stdio server has no URL or fetch; a server without OAuth has no authProvider or login', async () => {
    const { auth } = open();
    const notes = auth.server('notes');
    expect((await failure(() => notes.url)).message).toBe(
      'Server "notes" is a stdio server and has no URL; use connect() for its SDK Client.',
    );
    expect((await failure(() => notes.fetch)).code).toBe('USAGE');
    expect((await failure(() => notes.authProvider)).message).toContain(
      'it takes its credentials from env, not from OAuth',
    );
    const plain = auth.server('plain');
    expect(typeof plain.fetch).toBe('function');
    expect((await failure(() => plain.login())).message).toBe(
      'Server "plain" does not use OAuth (set mcp.servers.plain.auth.oauth.enabled: true); its fetch carries its configured headers.',
    );
  });

  test('status() and logout() without a name cover the servers that use OAuth', async () => {
    const { auth } = open();
    expect(await auth.status()).toEqual([]);
    expect((await auth.logout()).map((result) => result.server)).toEqual(['docs']);
  });
});

describe('forUser', () => {
  test('the same identity gives the same scope; OAuth servers are the user’s, the others the agent’s', () => {
    const { auth } = open();
    const alice = auth.forUser('alice@example.com');
    expect(auth.forUser('alice@example.com')).toBe(alice);
    expect(alice.identity).toBe('alice@example.com');
    expect(alice.server('docs').identity).toBe('alice@example.com');
    expect(alice.server('plain').identity).toBe('app');
    expect(alice.server('notes').identity).toBe('app');
  });

  test('end users share the discovery: the metadata is fetched once for everyone', async () => {
    const { auth, world } = open();
    const metadata = () =>
      world.seen.filter((request) => request.url.pathname.startsWith('/.well-known/')).length;
    await auth.server('docs').fetch(MCP_URL, { method: 'POST', body: '{}' });
    const fetched = metadata();
    expect(fetched).toBeGreaterThan(0);
    await failure(() => auth.forUser('alice').login('docs'));
    await failure(() => auth.forUser('bob').login('docs'));
    expect(metadata()).toBe(fetched);
  });

  test('kept for the most recent users (maxUsers): an evicted user gets a new scope', () => {
    const { auth } = openFake(closing, { maxUsers: 2 });
    const a = auth.forUser('a');
    auth.forUser('b');
    expect(auth.forUser('a')).toBe(a);
    auth.forUser('c');
    expect(auth.forUser('a')).toBe(a);
    expect(auth.forUser('b')).not.toBe(auth.forUser('c'));
  });

  const HUGE = `canary-identity-${'x'.repeat(2000)}`;
  test.each([
    ['empty', '', 'a non-empty string'],
    ['blank', '   ', 'a non-empty string'],
    ['not a string', 42, 'a non-empty string'],
    ['undefined', undefined, 'a non-empty string'],
    ['huge', HUGE, 'at most 1024 characters; this one has 2016'],
    ['the agent’s own', 'app', "names the agent's own tokens"],
    // The store keys identities as well-formed text: these would share another user's tokens.
    ['a lone high surrogate', 'canary-identity-\uD800', 'well-formed Unicode'],
    ['a lone low surrogate', 'canary-identity-\uDC00-x', 'well-formed Unicode'],
    ['a NUL', 'canary-identity\u0000other', 'no control characters'],
    ['a line break', 'canary-identity\nforged log line', 'no control characters'],
    ['an escape', 'canary-identity\u001b[31m', 'no control characters'],
  ])('%s: one USAGE error that does not quote it', async (_what, identity, message) => {
    const { auth } = open();
    const error = await failure(() => auth.forUser(identity as string));
    expect(error.code).toBe('USAGE');
    expect(error.message).toContain(message);
    expect(error.message).not.toContain('canary-identity');
  });
});

describe('after close()', () => {
  test('every use is one clear error; close() again is harmless', async () => {
    const { auth, world } = open();
    const docs = auth.server('docs');
    const fetch = docs.fetch;
    const provider = docs.authProvider;
    const alice = auth.forUser('alice');
    await auth.close();
    await auth.close();
    const uses: (() => unknown)[] = [
      () => auth.server('docs'),
      () => auth.login('docs'),
      () => auth.status(),
      () => auth.logout('docs'),
      () => auth.connect('notes'),
      () => auth.forUser('bob'),
      () => alice.server('docs'),
      () => docs.login(),
      () => docs.status(),
      () => docs.connect(),
      () => fetch(MCP_URL),
      () => provider.token(),
      () => provider.onUnauthorized({ response: new Response(null, { status: 401 }) }),
    ];
    for (const use of uses) {
      const error = await failure(use);
      expect(error.code).toBe('USAGE');
      expect(error.message).toBe(
        'This AgentAuth was closed (close() was called); create another with createAgentAuth() to reach the servers again.',
      );
    }
    expect(world.mcpRequests()).toEqual([]);
  });
});
