/**
 * Every kind of bad input `tools list` and `tools call` can meet on the way to a downstream
 * server. Each failure exits 1 (runtime) or 2 (usage or configuration), prints one clear sentence
 * (`error: …`, naming the server and what to do) and no stack trace unless --verbose, writes the
 * `--json` error document on stdout, and never prints a secret: every server carries canary
 * values in `headers`, `env`, `auth.api_key`, its command's arguments and its URL's query string.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { REDACTED } from '../../src/config/secret.js';
import { type CliResult, runCli, tempTree } from '../helpers/cli.js';
import {
  answerJson,
  bounded,
  closedPort,
  echoRequest,
  type Stub,
  selfSignedCertificate,
  startHttpStub,
  startHttpsStub,
} from '../support/stub-servers.js';

const CONFIG = 'mcp_agent.config.yaml';
const STACK_FRAME = /\n\s+at /;
const NODE = process.execPath;
const EVERYTHING = fileURLToPath(
  new URL(
    '../../node_modules/@modelcontextprotocol/server-everything/dist/index.js',
    import.meta.url,
  ),
);
const ERROR_TOOL_SERVER = fileURLToPath(
  new URL('../support/error-tool-server.mjs', import.meta.url),
);

/** Distinctive secret values; none may appear in any output. */
const CANARY = {
  header: 'canary-header-Hq7v2Z',
  apiKey: 'canary-apikey-Lx3m8R',
  env: 'canary-env-Wb4k9P',
  query: 'canary-query-Tn6d1S',
  arg: 'canary-arg-Jf2w5Y',
} as const;

type ServerConfig = Record<string, unknown>;

/** A stdio server with canaries in its env, headers, auth.api_key and (after `--`) its args. */
function stdio(command: string, args: string[], extra: ServerConfig = {}): ServerConfig {
  return {
    command,
    args: [...args, '--', `--token=${CANARY.arg}`],
    env: { API_TOKEN: CANARY.env },
    headers: { 'X-Api-Key': CANARY.header },
    auth: { api_key: CANARY.apiKey },
    ...extra,
  };
}

/** server-everything over stdio, with canaries. */
function everything(extra: ServerConfig = {}): ServerConfig {
  return stdio(NODE, [EVERYTHING, 'stdio'], extra);
}

/** A remote server at `origin` + `/mcp`, with canaries in its query, headers and auth.api_key. */
function remote(
  origin: string,
  transport: 'streamable_http' | 'sse' = 'streamable_http',
  extra: ServerConfig = {},
): ServerConfig {
  return {
    transport,
    url: `${origin}/mcp?token=${CANARY.query}`,
    headers: { 'X-Api-Key': CANARY.header },
    auth: { api_key: CANARY.apiKey },
    env: { API_TOKEN: CANARY.env },
    ...extra,
  };
}

const trees: ReturnType<typeof tempTree>[] = [];
const stubs: Stub[] = [];

afterAll(async () => {
  await Promise.all(stubs.map((stub) => stub.close()));
  for (const tree of trees) tree.cleanup();
});

async function stub(start: Promise<Stub>): Promise<Stub> {
  const started = await start;
  stubs.push(started);
  return started;
}

/** A project directory whose config file declares `servers` (JSON is YAML). */
function project(servers: Record<string, ServerConfig>): ReturnType<typeof tempTree> {
  const tree = tempTree({ [CONFIG]: `${JSON.stringify({ mcp: { servers } }, null, 2)}\n` });
  trees.push(tree);
  return tree;
}

function run(tree: ReturnType<typeof tempTree>, argv: string[]): Promise<CliResult> {
  return runCli(argv, { cwd: tree.dir, env: { PATH: process.env.PATH ?? '' } });
}

/** No canary anywhere in what a run printed. */
function expectNoCanary(result: CliResult): void {
  for (const [field, value] of Object.entries(CANARY)) {
    expect(result.stdout, `canary of ${field} on stdout`).not.toContain(value);
    expect(result.stderr, `canary of ${field} on stderr`).not.toContain(value);
  }
}

interface Expected {
  /** Exit code: 1 runtime failure, 2 usage or configuration error. */
  readonly exit: 1 | 2;
  /** `error.code` of the --json document. */
  readonly code: string;
  /** The server the message must name, as `"name"`. */
  readonly server?: string;
  /** What the message must say. */
  readonly says: readonly (string | RegExp)[];
}

interface Outcome {
  /** The one-sentence message (without `error: `). */
  readonly message: string;
  /** Wall time of the three runs (human, --json, --verbose), run side by side. */
  readonly ms: number;
  readonly human: CliResult;
  readonly json: CliResult;
  readonly verbose: CliResult;
}

/**
 * Run `argv` against `servers` three ways (human, --json, --verbose) and check the failure: exit
 * code, one `error:` sentence on stderr, no stack trace without --verbose, the JSON error
 * document, and no canary in any output.
 */
async function expectError(
  servers: Record<string, ServerConfig>,
  argv: string[],
  expected: Expected,
): Promise<Outcome> {
  const tree = project(servers);
  const started = performance.now();
  const [human, json, verbose] = await bounded(
    Promise.all([
      run(tree, argv),
      run(tree, ['--json', ...argv]),
      run(tree, ['--verbose', ...argv]),
    ]),
    15_000,
    `mcp-agent ${argv.join(' ')}`,
  );
  const ms = performance.now() - started;

  // Human form: stderr only, one `error:` line (warnings aside), no stack trace.
  expect(human.code, human.stderr).toBe(expected.exit);
  expect(human.stdout).toBe('');
  expect(human.stderr).not.toMatch(STACK_FRAME);
  const lines = human.stderr
    .split('\n')
    .filter(
      (line) =>
        line !== '' && !/^warning: /.test(line) && !/^Run `mcp-agent .* for usage\.$/.test(line),
    );
  expect(lines, human.stderr).toHaveLength(1);
  const line = lines[0] ?? '';
  expect(line).toMatch(/^error: \S/);
  const message = line.slice('error: '.length);
  expect(message, 'one sentence').toMatch(/[.?]$/);
  if (expected.server !== undefined) expect(message).toContain(`"${expected.server}"`);
  for (const part of expected.says) {
    if (typeof part === 'string') expect(message).toContain(part);
    else expect(message).toMatch(part);
  }

  // --json: the error document on stdout, the same message.
  expect(json.code, json.stderr).toBe(expected.exit);
  expect(json.stderr).not.toMatch(STACK_FRAME);
  const doc = JSON.parse(json.stdout) as { ok: boolean; error: { code: string; message: string } };
  expect(doc).toEqual({ ok: false, error: { code: expected.code, message } });

  // --verbose: the same error (a stack trace is allowed here).
  expect(verbose.code, verbose.stderr).toBe(expected.exit);
  expect(verbose.stderr).toContain(`error: ${message}`);

  for (const result of [human, json, verbose]) expectNoCanary(result);
  return { message, ms, human, json, verbose };
}

describe('tools list: a stdio server that cannot be started or does not speak MCP', () => {
  test('a command that does not exist', async () => {
    const command = 'mcp-agent-no-such-command-7f3q';
    const { message } = await expectError(
      { ghost: stdio(command, ['--serve']) },
      ['tools', 'list', 'ghost'],
      {
        exit: 1,
        code: 'SERVER_CONNECT',
        server: 'ghost',
        says: [`"${command}"`, 'was not found', 'mcp.servers.ghost.command'],
      },
    );
    expect(message).not.toContain('--serve');
  });

  test('a server that exits at once', async () => {
    await expectError(
      { quitter: stdio(NODE, ['-e', 'process.exit(3)']) },
      ['tools', 'list', 'quitter'],
      { exit: 1, code: 'SERVER_CONNECT', server: 'quitter', says: ['exited before it answered'] },
    );
  });

  test('a server that prints its secret environment on stderr and exits: --verbose shows it redacted', async () => {
    const script =
      "process.stderr.write('token is ' + process.env.API_TOKEN + '\\n', () => process.exit(3))";
    const { verbose } = await expectError(
      { leaky: stdio(NODE, ['-e', script]) },
      ['tools', 'list', 'leaky'],
      { exit: 1, code: 'SERVER_CONNECT', server: 'leaky', says: ['exited before it answered'] },
    );
    // The child's stderr reaches --verbose output, scrubbed (expectError checked the canary).
    expect(verbose.stderr).toContain(`[leaky] token is ${REDACTED}`);
  });

  test('a server that writes garbage to stdout fails fast, well before the request timeout', async () => {
    const { ms } = await expectError(
      {
        chatty: stdio(NODE, ['-e', "setInterval(() => console.log('hello not json'), 50)"], {
          read_timeout_seconds: 30,
        }),
      },
      ['tools', 'list', 'chatty'],
      { exit: 1, code: 'SERVER_CONNECT', server: 'chatty', says: ['not MCP', 'stdout'] },
    );
    expect(ms).toBeLessThan(10_000);
  });

  test('a stdio server that never answers initialize times out after read_timeout_seconds', async () => {
    const { ms } = await expectError(
      { mute: stdio(NODE, ['-e', 'setInterval(() => {}, 1000)'], { read_timeout_seconds: 1 }) },
      ['tools', 'list', 'mute'],
      {
        exit: 1,
        code: 'SERVER_TIMEOUT',
        server: 'mute',
        says: ['did not finish opening within 1 s', 'read_timeout_seconds'],
      },
    );
    expect(ms).toBeLessThan(5_000);
  });
});

describe('tools list: a remote server that cannot be reached or used', () => {
  let tls: { key: string; cert: string };
  beforeAll(() => {
    const tree = tempTree();
    trees.push(tree);
    tls = selfSignedCertificate(tree.dir);
  });

  /** Expect the canaries to have really been sent in the stub's first request. */
  function expectCanariesSent(server: Stub): void {
    const request = server.requests[0];
    expect(request?.url).toBe(`/mcp?token=${CANARY.query}`);
    expect(request?.headers['x-api-key']).toBe(CANARY.header);
    expect(request?.headers.authorization).toBe(`Bearer ${CANARY.apiKey}`);
  }

  test('a URL that refuses connections (streamable_http)', async () => {
    const origin = `http://127.0.0.1:${await closedPort()}`;
    await expectError({ down: remote(origin) }, ['tools', 'list', 'down'], {
      exit: 1,
      code: 'SERVER_CONNECT',
      server: 'down',
      says: ['refused the connection', `${origin}/mcp`],
    });
  });

  test('a URL that refuses connections over SSE is reported as refused', async () => {
    const origin = `http://127.0.0.1:${await closedPort()}`;
    await expectError({ down: remote(origin, 'sse') }, ['tools', 'list', 'down'], {
      exit: 1,
      code: 'SERVER_CONNECT',
      server: 'down',
      says: ['refused the connection', `${origin}/mcp`],
    });
  });

  test.each(['streamable_http', 'sse'] as const)(
    'a server that answers 401 (%s) needs authentication: headers or auth.oauth',
    async (transport) => {
      const server = await stub(
        startHttpStub(echoRequest(401, { 'www-authenticate': 'Bearer realm="stub"' })),
      );
      await expectError({ locked: remote(server.url, transport) }, ['tools', 'list', 'locked'], {
        exit: 1,
        code: 'SERVER_AUTH_REQUIRED',
        server: 'locked',
        says: [
          'needs authentication',
          'mcp.servers.locked.headers',
          'mcp.servers.locked.auth.oauth',
        ],
      });
      expectCanariesSent(server);
    },
  );

  test.each(['streamable_http', 'sse'] as const)(
    '404 on the MCP path (%s): no MCP endpoint',
    async (transport) => {
      const server = await stub(startHttpStub(echoRequest(404)));
      await expectError({ lost: remote(server.url, transport) }, ['tools', 'list', 'lost'], {
        exit: 1,
        code: 'SERVER_CONNECT',
        server: 'lost',
        says: ['no MCP endpoint', `${server.url}/mcp`, 'mcp.servers.lost.url'],
      });
      expectCanariesSent(server);
    },
  );

  test.each([404, 405])(
    'HTTP %i with a JSON-RPC error body (as SDK servers answer) is reported as no MCP endpoint, not as "not MCP" (streamable_http)',
    async (status) => {
      const server = await stub(
        startHttpStub(
          answerJson(status, {
            jsonrpc: '2.0',
            error: { code: -32000, message: 'Not Found' },
            id: null,
          }),
        ),
      );
      await expectError({ lost: remote(server.url) }, ['tools', 'list', 'lost'], {
        exit: 1,
        code: 'SERVER_CONNECT',
        server: 'lost',
        says: ['no MCP endpoint', `HTTP ${status}`],
      });
    },
  );

  test('a server error (HTTP 500) whose body echoes the request leaks no secret (sse)', async () => {
    const server = await stub(startHttpStub(echoRequest(500)));
    await expectError({ broken: remote(server.url, 'sse') }, ['tools', 'list', 'broken'], {
      exit: 1,
      code: 'SERVER_CONNECT',
      server: 'broken',
      says: [`${server.url}/mcp`],
    });
    expectCanariesSent(server);
  });

  test('a server error (HTTP 500) whose body echoes the request URL does not leak its query string (streamable_http)', async () => {
    const server = await stub(startHttpStub(echoRequest(500)));
    await expectError({ broken: remote(server.url) }, ['tools', 'list', 'broken'], {
      exit: 1,
      code: 'SERVER_CONNECT',
      server: 'broken',
      says: [`${server.url}/mcp`],
    });
  });

  /** An HTTPS stub with the self-signed certificate. */
  function httpsStub(): Promise<Stub> {
    return stub(
      startHttpsStub(tls, (request, response) => {
        request.resume();
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end('{}');
      }),
    );
  }

  test('a TLS failure: a self-signed certificate is not trusted; NODE_EXTRA_CA_CERTS is the fix', async () => {
    const server = await httpsStub();
    await expectError({ selfsigned: remote(server.url) }, ['tools', 'list', 'selfsigned'], {
      exit: 1,
      code: 'SERVER_CONNECT',
      server: 'selfsigned',
      says: ['not trusted', 'NODE_EXTRA_CA_CERTS'],
    });
    // The handshake failed: no request reached the server.
    expect(server.requests).toEqual([]);
  });

  test('a TLS failure over SSE says the certificate is not trusted', async () => {
    const server = await httpsStub();
    await expectError({ selfsigned: remote(server.url, 'sse') }, ['tools', 'list', 'selfsigned'], {
      exit: 1,
      code: 'SERVER_CONNECT',
      server: 'selfsigned',
      says: ['not trusted', 'NODE_EXTRA_CA_CERTS'],
    });
  });

  test('a server that accepts and never answers times out after http_timeout_seconds', async () => {
    const server = await stub(startHttpStub(() => {}));
    const { ms } = await expectError(
      { hang: remote(server.url, 'streamable_http', { http_timeout_seconds: 1 }) },
      ['tools', 'list', 'hang'],
      { exit: 1, code: 'SERVER_TIMEOUT', server: 'hang', says: ['http_timeout_seconds'] },
    );
    expect(ms).toBeLessThan(5_000);
  });

  test('an SSE server that accepts and never answers is reported as SERVER_TIMEOUT', async () => {
    const server = await stub(startHttpStub(() => {}));
    const { ms } = await expectError(
      { hang: remote(server.url, 'sse', { http_timeout_seconds: 1 }) },
      ['tools', 'list', 'hang'],
      { exit: 1, code: 'SERVER_TIMEOUT', server: 'hang', says: ['http_timeout_seconds'] },
    );
    expect(ms).toBeLessThan(5_000);
  });
});

describe('a server name that is not configured', () => {
  const servers = { everything: everything() };

  test('an unknown name lists the configured servers', async () => {
    await expectError(servers, ['tools', 'list', 'nope'], {
      exit: 2,
      code: 'SERVER_UNKNOWN',
      server: 'nope',
      says: ['No server named "nope" in mcp.servers', '(configured: everything)'],
    });
    await expectError(servers, ['tools', 'call', 'nope', 'echo'], {
      exit: 2,
      code: 'SERVER_UNKNOWN',
      server: 'nope',
      says: ['No server named "nope"'],
    });
  });

  test('a near miss gets "did you mean"', async () => {
    for (const argv of [
      ['tools', 'list', 'everythin'],
      ['tools', 'call', 'everythng', 'echo', '{"message": "hi"}'],
    ]) {
      await expectError(servers, argv, {
        exit: 2,
        code: 'SERVER_UNKNOWN',
        says: ['did you mean "everything"?'],
      });
    }
  });
});

describe('tools call: bad arguments and unknown tools', () => {
  const servers = { everything: everything() };

  test('JSON arguments that do not parse', async () => {
    await expectError(servers, ['tools', 'call', 'everything', 'echo', '{message: hi'], {
      exit: 2,
      code: 'TOOL_ARGUMENTS',
      says: ['not valid JSON', 'one JSON object'],
    });
  });

  test('arguments that are a list, or a single value', async () => {
    for (const json of ['["hi"]', '"hi"', '42', 'null']) {
      await expectError(servers, ['tools', 'call', 'everything', 'echo', json], {
        exit: 2,
        code: 'TOOL_ARGUMENTS',
        says: ['must be a JSON object'],
      });
    }
  });

  test('JSON arguments that do not parse name the server and tool they were for', async () => {
    await expectError(servers, ['tools', 'call', 'everything', 'echo', '{message: hi'], {
      exit: 2,
      code: 'TOOL_ARGUMENTS',
      server: 'everything',
      says: ['echo'],
    });
  });

  test('arguments that do not match the tool schema are refused before the call', async () => {
    await expectError(servers, ['tools', 'call', 'everything', 'get-sum', '{"a": "one", "b": 2}'], {
      exit: 2,
      code: 'TOOL_ARGUMENTS',
      says: ['do not match the input schema of "everything_get-sum"', '"a" must be number'],
    });
    await expectError(servers, ['tools', 'call', 'everything', 'get-sum', '{"a": 1}'], {
      exit: 2,
      code: 'TOOL_ARGUMENTS',
      says: ['"b" is required'],
    });
  });

  test('a tool the server does not offer', async () => {
    await expectError(servers, ['tools', 'call', 'everything', 'ech', '{"message": "hi"}'], {
      exit: 2,
      code: 'TOOL_UNKNOWN',
      server: 'everything',
      says: ['has no tool "ech"', 'did you mean "echo"?'],
    });
  });

  test('a tool filtered out by allowed_tools', async () => {
    const filtered = { everything: everything({ allowed_tools: ['echo'] }) };
    await expectError(filtered, ['tools', 'call', 'everything', 'get-sum', '{"a": 1, "b": 2}'], {
      exit: 2,
      code: 'TOOL_UNKNOWN',
      server: 'everything',
      says: ['"get-sum"', 'is not in mcp.servers.everything.allowed_tools'],
    });
  });

  test('tools call without TOOL (or without anything) is a usage error', async () => {
    await expectError(servers, ['tools', 'call', 'everything'], {
      exit: 2,
      code: 'USAGE',
      says: ['"tools call everything" needs a TOOL of server "everything" too'],
    });
    await expectError(servers, ['tools', 'call'], {
      exit: 2,
      code: 'USAGE',
      says: [
        '"tools call" needs a tool: its NAME as "tools list" prints it, or a SERVER and a TOOL',
      ],
    });
  });
});

describe('tools call: a tool that returns an error result', () => {
  test('exit 1, the error text shown on stderr, the raw result with --json', async () => {
    const tree = project({ failing: stdio(NODE, [ERROR_TOOL_SERVER]) });
    const argv = ['tools', 'call', 'failing', 'fail'];
    const [human, json] = await bounded(
      Promise.all([run(tree, argv), run(tree, ['--json', ...argv])]),
      15_000,
      'tools call failing fail',
    );

    expect(human.code, human.stderr).toBe(1);
    expect(human.stdout).toBe('');
    expect(human.stderr).not.toMatch(STACK_FRAME);
    expect(human.stderr).toBe(
      'error: tool "failing_fail" reported an error:\nboom: the widget is jammed\n',
    );

    expect(json.code, json.stderr).toBe(1);
    expect(json.stderr).not.toMatch(STACK_FRAME);
    expect(JSON.parse(json.stdout)).toEqual({
      isError: true,
      content: [{ type: 'text', text: 'boom: the widget is jammed' }],
    });
    for (const result of [human, json]) expectNoCanary(result);
  });
});
