import { validateToolName } from '@modelcontextprotocol/sdk/shared/toolNameValidation.js';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import { ConfigError, formatIssue } from '../../src/config/issues.js';
import { loadSettings } from '../../src/config/load.js';
import {
  allowedToolNames,
  isHashedToolName,
  legacyToolIdentity,
  TOOL_NAME_PATTERN,
  ToolNames,
} from '../../src/config/tool-names.js';
import { tempTree } from '../helpers/cli.js';

/** Names as configs and servers write them: mostly plain, with separators, dots, unicode. */
const part = fc.oneof(
  fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/),
  fc.stringMatching(/^[a-z]{1,4}(_[a-z]{1,4}){0,3}$/),
  fc.string({ maxLength: 80 }),
  fc.string({ unit: 'grapheme', maxLength: 12 }),
  fc.constantFrom('a', 'a_b', 'a.b', 'a/b', 'x~1', 'éclair', '日本', '', '_', '-', 'x'.repeat(70)),
);

/** A configuration's servers and some tools of each. */
const configuration = fc.uniqueArray(part, { minLength: 1, maxLength: 6 }).chain((servers) =>
  fc.record({
    servers: fc.constant(servers),
    tools: fc.uniqueArray(fc.tuple(fc.constantFrom(...servers), part), {
      maxLength: 30,
      selector: ([s, t]) => `${s.length}:${s}${t}`,
    }),
  }),
);

describe('served tool names', () => {
  test.each([
    [['everything'], 'everything', 'echo', 'everything_echo'],
    [['fetch'], 'fetch', 'fetch', 'fetch_fetch'],
    [['my_server'], 'my_server', 'get-sum', 'my_server_get-sum'],
    [['github'], 'github', 'search_issues', 'github_search_issues'],
  ])('mcp-agent spelling: %j %s + %s = %s', (servers, server, tool, name) => {
    expect(new ToolNames(servers).name(server, tool)).toBe(name);
    expect(new ToolNames(servers).plainIdentity(name)).toEqual({ server, tool });
  });

  test('a character outside the rule (`/`, `.`, `~`, a space, unicode) gives a stable hashed name', () => {
    const names = new ToolNames(['everything', 'clock']);
    for (const tool of ['a/b', 'files.delete', '~now', 'two words', 'café']) {
      const name = names.name('everything', tool);
      expect(name).toMatch(TOOL_NAME_PATTERN);
      expect(name).toMatch(/^everything_[A-Za-z0-9_-]*_[0-9a-f]{10}$/);
      expect(isHashedToolName(name)).toBe(true);
      // The same from a fresh instance (a restart, a replica) and whatever the order of servers.
      expect(new ToolNames(['clock', 'everything']).name('everything', tool)).toBe(name);
    }
    expect(names.name('everything', 'files.delete')).toMatch(
      /^everything_files_delete_[0-9a-f]{10}$/,
    );
    // Lossy: "files.delete" and "files_delete" differ.
    expect(names.name('everything', 'files_delete')).toBe('everything_files_delete');
  });

  test('a server whose name is outside the rule gets a sanitized stem', () => {
    const names = new ToolNames(['my.server', 'other', '-dash', '']);
    expect(names.stem('my.server')).toBe('my_server');
    expect(names.stem('-dash')).toBe('_dash');
    expect(names.stem('')).toMatch(/^server-[0-9a-f]{10}$/);
    expect(names.name('other', 'trailing-')).toMatch(/^other_trailing-_[0-9a-f]{10}$/);
    expect(names.name('my.server', 'read')).toBe('my_server_read');
    // Two servers that sanitize alike both get hashed stems; neither depends on the other's order.
    const clash = new ToolNames(['a.b', 'a b', 'a_b']);
    expect(clash.stem('a_b')).toBe('a_b');
    expect(clash.stem('a.b')).toMatch(/^a_b-[0-9a-f]{10}$/);
    expect(clash.stem('a b')).toMatch(/^a_b-[0-9a-f]{10}$/);
    expect(clash.stem('a.b')).not.toBe(clash.stem('a b'));
    expect(new ToolNames(['a_b', 'a b', 'a.b']).stem('a.b')).toBe(clash.stem('a.b'));
  });

  test('servers `a` and `a_b`: `a_b_x` is the tool x of a_b; the tool b_x of a is hashed', () => {
    const names = new ToolNames(['a', 'a_b']);
    expect(names.name('a_b', 'x')).toBe('a_b_x');
    const hashed = names.name('a', 'b_x');
    expect(hashed).not.toBe('a_b_x');
    expect(hashed).toMatch(/^a_[0-9a-f]{10}$/);
    expect(names.ownerOf(hashed)).toBe('a');
    expect(names.ownerOf('a_b_x')).toBe('a_b');
    expect(names.plainIdentity('a_b_x')).toEqual({ server: 'a_b', tool: 'x' });
    // Without a_b configured, a's tool b_x keeps its plain name.
    expect(new ToolNames(['a']).name('a', 'b_x')).toBe('a_b_x');
  });

  test('a name past 64 characters is cut and hashed; a tool name that looks hashed is hashed too', () => {
    const names = new ToolNames(['server']);
    const long = `do_${'x'.repeat(70)}`;
    const name = names.name('server', long);
    expect(name).toHaveLength(64);
    expect(name).toMatch(/^server_do_x+_[0-9a-f]{10}$/);
    expect(names.name('server', `${long}y`)).not.toBe(name);
    expect(names.name('server', 'x'.repeat(57))).toBe(`server_${'x'.repeat(57)}`);
    expect(names.name('server', 'x'.repeat(58))).toHaveLength(64);
    expect(isHashedToolName(names.name('server', 'x'.repeat(58)))).toBe(true);
    const lookalike = 'get_0123456789';
    expect(names.name('server', lookalike)).not.toBe(`server_${lookalike}`);
    expect(names.plainIdentity(`server_${lookalike}`)).toBeUndefined();
  });

  test('a long server name gets a 40-character stem, hashed when two such stems meet', () => {
    const server = 's'.repeat(50);
    const names = new ToolNames([server]);
    expect(names.stem(server)).toBe('s'.repeat(40));
    expect(names.name(server, 'echo')).toBe(`${'s'.repeat(40)}_echo`);
    const two = new ToolNames([server, `${server}t`]);
    expect(two.stem(server)).toMatch(/^s{29}-[0-9a-f]{10}$/);
    expect(two.stem(`${server}t`)).toMatch(/^s{29}-[0-9a-f]{10}$/);
    expect(two.stem(server)).not.toBe(two.stem(`${server}t`));
  });

  test('the sign-in stand-in is a name no tool of the server has', () => {
    const names = new ToolNames(['down']);
    const signIn = names.signInName('down');
    expect(signIn).toMatch(/^down_sign_in_[0-9a-f]{10}$/);
    for (const tool of ['sign_in', 'sign-in', 'sign in', '', signIn, signIn.slice(5)]) {
      expect(names.name('down', tool)).not.toBe(signIn);
    }
    expect(names.plainIdentity(signIn)).toBeUndefined();
  });

  test('a name is asked only of configured servers', () => {
    expect(() => new ToolNames(['a']).name('b', 'x')).toThrow(TypeError);
    expect(new ToolNames(['a']).ownerOf('b_x')).toBeUndefined();
  });
});

describe('served tool names: properties', () => {
  test('every name matches ^[A-Za-z0-9_-]{1,64}$, passes the SDK check without a warning, and belongs to its server', () => {
    fc.assert(
      fc.property(configuration, ({ servers, tools }) => {
        const names = new ToolNames(servers);
        for (const [server, tool] of tools) {
          const name = names.name(server, tool);
          expect(name).toMatch(TOOL_NAME_PATTERN);
          expect(validateToolName(name)).toEqual({ isValid: true, warnings: [] });
          expect(names.ownerOf(name)).toBe(server);
        }
        for (const server of servers) {
          expect(names.signInName(server)).toMatch(TOOL_NAME_PATTERN);
          expect(names.ownerOf(names.signInName(server))).toBe(server);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('injective over (server, tool) pairs, sign-in stand-ins included', () => {
    fc.assert(
      fc.property(configuration, ({ servers, tools }) => {
        const names = new ToolNames(servers);
        const seen = new Map<string, string>();
        const pairs = [
          ...tools.map(([s, t]) => [s, t, names.name(s, t)] as const),
          ...servers.map((s) => [s, '(sign-in)', names.signInName(s)] as const),
        ];
        for (const [server, tool, name] of pairs) {
          const key = JSON.stringify([server, tool]);
          expect(seen.get(name) ?? key).toBe(key);
          seen.set(name, key);
        }
      }),
      { numRuns: 300 },
    );
  });

  test('the same names whatever the order of the servers and of the tools, in a fresh instance', () => {
    fc.assert(
      fc.property(configuration, fc.integer(), ({ servers, tools }, seed) => {
        const shuffled = [...servers].sort(
          (a, b) => ((a.length * 31 + seed) % 7) - ((b.length * 31 + seed) % 7),
        );
        const first = new ToolNames(servers);
        const second = new ToolNames(shuffled);
        for (const [server, tool] of [...tools].reverse()) {
          expect(second.name(server, tool)).toBe(first.name(server, tool));
        }
        for (const server of servers) expect(second.stem(server)).toBe(first.stem(server));
      }),
      { numRuns: 200 },
    );
  });

  test('a plain name is read back without a listing; a hashed one is never read as another tool', () => {
    fc.assert(
      fc.property(configuration, part, ({ servers, tools }, probe) => {
        const names = new ToolNames(servers);
        for (const [server, tool] of tools) {
          const name = names.name(server, tool);
          const read = names.plainIdentity(name);
          if (isHashedToolName(name)) expect(read).toBeUndefined();
          else expect(read).toEqual({ server, tool });
        }
        // Any string read as a plain name is exactly that tool's served name.
        const read = names.plainIdentity(probe);
        if (read) expect(names.name(read.server, read.tool)).toBe(probe);
      }),
      { numRuns: 300 },
    );
  });

  test('names do not change when another server is added, unless its name meets theirs', () => {
    fc.assert(
      fc.property(configuration, part, ({ servers, tools }, extra) => {
        fc.pre(!servers.includes(extra));
        const before = new ToolNames(servers);
        const after = new ToolNames([...servers, extra]);
        const extraStem = after.stem(extra) as string;
        for (const [server, tool] of tools) {
          const name = before.name(server, tool);
          const stem = before.stem(server) as string;
          // A new server whose name is written like another's after the disallowed characters
          // are replaced (`日本` and `𘱣ⴤ` both `__`) gives both hashed stems, and the other
          // stem's change moves which server a hashed name of a third belongs to.
          const restemmed = servers.some((each) => after.stem(each) !== before.stem(each));
          const meets =
            restemmed ||
            name.startsWith(`${extraStem}_`) ||
            after.stem(server) !== stem ||
            `${stem}_`.startsWith(`${extraStem}_`);
          if (!meets) expect(after.name(server, tool)).toBe(name);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('the old SERVER/TOOL spelling', () => {
  test.each([
    ['down/whoami', { server: 'down', tool: 'whoami' }],
    ['down/files~1delete', { server: 'down', tool: 'files/delete' }],
    ['down/files/delete', { server: 'down', tool: 'files/delete' }],
    ['git~1hub/a~0b', { server: 'git/hub', tool: 'a~b' }],
  ])('%s is %j', (spelling, identity) => {
    expect(legacyToolIdentity(spelling)).toEqual(identity);
  });

  test('a name without "/" is not the old spelling', () => {
    expect(legacyToolIdentity('down_whoami')).toBeUndefined();
  });
});

describe('allowed_tools', () => {
  test("lists the server's own tool names; the old SERVER/TOOL spelling of this server is read as TOOL", () => {
    const allowed = allowedToolNames('fs', ['read', 'fs/write', 'fs/a~1b', 'other/delete']);
    expect([...allowed].sort()).toEqual([
      'a/b',
      'fs/a~1b',
      'fs/write',
      'other/delete',
      'read',
      'write',
    ]);
    // Another server's old spelling and a served name are no tool of fs.
    expect(allowed.has('delete')).toBe(false);
    expect(allowedToolNames('fs', ['fs_read']).has('read')).toBe(false);
  });
});

describe('config check: tool names in the configuration', () => {
  let tree: ReturnType<typeof tempTree> | undefined;
  afterEach(() => tree?.cleanup());

  function warningsOf(yaml: string): string[] {
    tree = tempTree({ 'mcp_agent.config.yaml': yaml });
    const loaded = loadSettings({ cwd: tree.dir, env: {}, homeDir: tree.dir });
    return loaded.warnings.map((warning) => formatIssue(warning));
  }

  const SERVERS = [
    'mcp:',
    '  servers:',
    '    down:',
    '      command: node',
    '      allowed_tools: [whoami, "down/echo", "other/x"]',
    '    other:',
    '      command: node',
  ].join('\n');

  test('old SERVER/TOOL keys of tool_scopes are accepted with a warning that names the new spelling', () => {
    const names = new ToolNames(['down', 'other']);
    const warnings = warningsOf(
      [
        SERVERS,
        'authorization:',
        '  tool_scopes:',
        '    down/whoami: [admin]',
        '    down/files~1delete: [admin]',
        '    nowhere/x: [admin]',
        '    "not a name": [admin]',
        '    down_echo: [admin]',
        '    app_tool: [admin]',
        '',
      ].join('\n'),
    ).join('\n');
    expect(warnings).toContain(
      'authorization.tool_scopes["down/whoami"] is the old SERVER/TOOL spelling of "down_whoami", and read as that; write "down_whoami"',
    );
    const hashed = names.name('down', 'files/delete');
    expect(warnings).toContain(`spelling of "${hashed}", and read as that; write "${hashed}"`);
    expect(warnings).toMatch(
      /tool_scopes\["nowhere\/x"\] names no configured server \("nowhere"\), so it protects nothing/,
    );
    expect(warnings).toMatch(
      /tool_scopes\["not a name"\] is not a tool name, so it protects nothing/,
    );
    expect(warnings).not.toContain('down_echo');
    expect(warnings).not.toContain('app_tool');
    // Each warning says where the key was written.
    expect(warnings).toMatch(/mcp_agent\.config\.yaml:\d+:\d+/);
  });

  test('a prompt_scopes key of no configured server is a warning; a SERVER_PROMPT key is not', () => {
    const warnings = warningsOf(
      [
        SERVERS,
        'authorization:',
        '  prompt_scopes:',
        '    down_greeting: [admin]',
        '    greeting: [admin]',
        '',
      ].join('\n'),
    ).join('\n');
    expect(warnings).toMatch(
      /prompt_scopes\.greeting names no configured server's prompt, so it protects nothing/,
    );
    expect(warnings).not.toContain('down_greeting');
  });

  test('front naming no configured server is an error that lists the configured ones', () => {
    tree = tempTree({ 'mcp_agent.config.yaml': `${SERVERS}\nfront: gamma\n` });
    const dir = tree.dir;
    let error: unknown;
    try {
      loadSettings({ cwd: dir, env: {}, homeDir: dir });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const errors = (error as ConfigError).errors.map((issue) => formatIssue(issue));
    expect(errors).toEqual([
      expect.stringMatching(
        /mcp_agent\.config\.yaml:\d+:\d+: front "gamma" is not a configured server; mcp\.servers has "down", "other"$/,
      ),
    ]);
  });

  test('front mode: a namespaced tool_scopes key is a warning naming the key to write; own names are not', () => {
    const warnings = warningsOf(
      [
        SERVERS,
        'front: down',
        'authorization:',
        '  tool_scopes:',
        '    down_secret: [admin]',
        '    down/files: [admin]',
        '    echo: [admin]',
        '    other_x: [admin]',
        '  prompt_scopes:',
        '    greeting: [admin]',
        '',
      ].join('\n'),
    );
    const scopes = warnings.filter((warning) => warning.includes('scopes'));
    expect(scopes).toEqual([
      expect.stringMatching(
        /: authorization\.tool_scopes\.down_secret is read as "secret" too: in front mode tools keep their own names; write "secret"$/,
      ),
      expect.stringMatching(
        /: authorization\.tool_scopes\["down\/files"\] is read as "files" too: in front mode tools keep their own names; write "files"$/,
      ),
    ]);
  });

  test("an allowed_tools entry in the old spelling of its own server is read as the tool's name, with a warning", () => {
    const warnings = warningsOf(`${SERVERS}\n`).join('\n');
    expect(warnings).toContain(
      'mcp.servers.down.allowed_tools lists "down/echo", the old SERVER/TOOL spelling of "echo", and reads it as that; write "echo"',
    );
    // Another server's spelling is a tool name like any other (mcp-agent compares names as written).
    expect(warnings).not.toContain('other/x');
  });
});
