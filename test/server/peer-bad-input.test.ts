/**
 * Elicitation and sampling through a protected `serve` in front mode (issue 15, item 2, bad
 * input), with tokens from the development authorization server and an SDK server of the test's
 * own over Streamable HTTP: the capabilities it sees are exactly the caller's; a URL elicitation's
 * completion reaches the caller; an answer failing the schema is refused to the server and the
 * session goes on; a sampling request of a caller that declared none is refused, and one the
 * caller answers with an error gets that error; a caller that goes away while asked leaves the
 * server with an error, not a hang; a request sent while no call of the caller's runs is refused
 * at once, and one sent during a call ends with it; a completion of a URL elicitation the server
 * never asked is not forwarded. With two servers (not in front mode): an elicitation relates to
 * the call that caused it, so cancelling a later call of the session does not end it.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type ClientCapabilities,
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import * as z from 'zod';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';
import { type ServedApp, startServedApp, textOf, userTokens } from './serve-support.js';

const SCHEMA = {
  type: 'object' as const,
  properties: { name: { type: 'string' as const }, age: { type: 'integer' as const, minimum: 0 } },
  required: ['name'],
};

/** What the downstream server saw: capabilities per call, failures of its requests. */
const capabilitiesSeen: (ClientCapabilities | undefined)[] = [];
let onFailure: (message: string) => void = () => {};
/** The downstream session of the last `keep` call (to ask from outside any call). */
let kept: McpServer | undefined;
/** What the `early` tool waits for before it returns (its elicitation still open). */
let callerAsked: Promise<void> = Promise.resolve();

function failureText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function downstreamTools(server: McpServer): void {
  server.registerTool('caps', {}, async () => {
    capabilitiesSeen.push(server.server.getClientCapabilities());
    return { content: [{ type: 'text', text: 'ok' }] };
  });
  // `extra.sendRequest` does not check the client's capabilities, nor the answer's content.
  server.registerTool('ask', { inputSchema: { label: z.string() } }, async ({ label }, extra) => {
    try {
      const result = await extra.sendRequest(
        {
          method: 'elicitation/create',
          params: { mode: 'form', message: `ask ${label}`, requestedSchema: SCHEMA },
        },
        ElicitResultSchema,
      );
      return { content: [{ type: 'text', text: JSON.stringify(result) }] };
    } catch (error) {
      onFailure(failureText(error));
      return { isError: true, content: [{ type: 'text', text: `failed: ${failureText(error)}` }] };
    }
  });
  server.registerTool('sample', {}, async (extra) => {
    try {
      await extra.sendRequest(
        {
          method: 'sampling/createMessage',
          params: { messages: [], maxTokens: 10 },
        },
        CreateMessageResultSchema,
      );
      return { content: [{ type: 'text', text: 'sampled' }] };
    } catch (error) {
      return { isError: true, content: [{ type: 'text', text: `failed: ${failureText(error)}` }] };
    }
  });
  server.registerTool('keep', {}, async () => {
    kept = server;
    return { content: [{ type: 'text', text: 'kept' }] };
  });
  server.registerTool('early', {}, async (extra) => {
    extra
      .sendRequest(
        {
          method: 'elicitation/create',
          params: { mode: 'form', message: 'ask early', requestedSchema: SCHEMA },
        },
        ElicitResultSchema,
      )
      .catch((error: unknown) => onFailure(failureText(error)));
    await callerAsked;
    return { content: [{ type: 'text', text: 'returned while asking' }] };
  });
  server.registerTool('spoof', {}, async (extra) => {
    await server.server.createElicitationCompletionNotifier('never-asked')();
    await extra.sendRequest(
      {
        method: 'elicitation/create',
        params: {
          mode: 'url',
          url: 'https://example.com/x',
          message: 'x',
          elicitationId: 'real-1',
        },
      },
      ElicitResultSchema,
    );
    await server.server.createElicitationCompletionNotifier('real-1')();
    return { content: [{ type: 'text', text: 'done' }] };
  });
  server.registerTool('open', {}, async (extra) => {
    const result = await extra.sendRequest(
      {
        method: 'elicitation/create',
        params: {
          mode: 'url',
          url: 'https://example.com/connect',
          message: 'connect your account',
          elicitationId: 'connect-1',
        },
      },
      ElicitResultSchema,
    );
    await server.server.createElicitationCompletionNotifier('connect-1')();
    return { content: [{ type: 'text', text: `opened: ${result.action}` }] };
  });
}

let served: ServedApp;
let token = '';

beforeAll(async () => {
  served = await startServedApp({
    downstream: true,
    downstreamSetup: downstreamTools,
    sections: { front: 'down' },
  });
  token = (await userTokens(served.as.issuer, served.resource, 'alice')).accessToken;
}, 60_000);

afterAll(async () => {
  await served?.close();
});

async function connect(capabilities: ClientCapabilities) {
  const client = new Client({ name: 'caller', version: '1.0.0' }, { capabilities });
  const transport = new StreamableHTTPClientTransport(new URL(served.resource), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  sessions.set(client, transport);
  return { client, transport };
}

const sessions = new WeakMap<Client, StreamableHTTPClientTransport>();

/**
 * End `client`'s session (DELETE) and close it: a session only closed would hold its peer
 * connection until it idles out, and count against the caller's limit of them.
 */
async function end(client: Client): Promise<void> {
  await sessions.get(client)?.terminateSession();
  await client.close();
}

test("the downstream server sees exactly the caller's elicitation and sampling capabilities", async () => {
  const form = await connect({ elicitation: { form: {} } });
  const none = await connect({});
  const both = await connect({ elicitation: { form: {}, url: {} }, sampling: {} });
  try {
    for (const caller of [form, none, both]) {
      await caller.client.callTool({ name: 'caps', arguments: {} });
    }
    expect(capabilitiesSeen).toEqual([
      { elicitation: { form: {} } },
      {},
      { elicitation: { form: {}, url: {} }, sampling: {} },
    ]);
  } finally {
    await Promise.all([form, none, both].map((caller) => end(caller.client)));
  }
}, 30_000);

test('a URL elicitation and its completion reach the caller', async () => {
  const { client } = await connect({ elicitation: { url: {} } });
  const asked: unknown[] = [];
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    asked.push(request.params);
    return { action: 'accept' };
  });
  const completed = new Promise<string>((resolve) => {
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, ({ params }) =>
      resolve(params.elicitationId),
    );
  });
  try {
    const result = await client.callTool({ name: 'open', arguments: {} });
    expect(textOf(result)).toBe('opened: accept');
    expect(asked).toEqual([
      {
        mode: 'url',
        url: 'https://example.com/connect',
        message: 'connect your account',
        elicitationId: 'connect-1',
      },
    ]);
    expect(await completed).toBe('connect-1');
  } finally {
    await end(client);
  }
}, 30_000);

test("an answer failing the schema is refused to the server; the caller's session goes on", async () => {
  const { client } = await connect({ elicitation: { form: {} } });
  const answers = [
    { name: 'Ada', age: 'old' },
    { name: 'Ada', age: 36 },
  ];
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: answers.shift() as Record<string, string | number>,
  }));
  try {
    const bad = await client.callTool({ name: 'ask', arguments: { label: 'bad' } });
    expect(bad.isError).toBe(true);
    expect(textOf(bad)).toMatch(/^failed: MCP error -32602: .*schema/i);
    const good = await client.callTool({ name: 'ask', arguments: { label: 'good' } });
    expect(JSON.parse(textOf(good))).toEqual({
      action: 'accept',
      content: { name: 'Ada', age: 36 },
    });
  } finally {
    await end(client);
  }
}, 30_000);

test('a sampling request of a caller that declared no sampling gets the refusal', async () => {
  for (const capabilities of [{ elicitation: { form: {} } }, {}]) {
    const { client } = await connect(capabilities);
    try {
      const result = await client.callTool({ name: 'sample', arguments: {} });
      expect(textOf(result)).toBe('failed: MCP error -32601: Method not found');
    } finally {
      await end(client);
    }
  }
}, 30_000);

/** Call `ask` as a caller that never answers; resolves once it has been asked. */
async function askedAndWaiting() {
  const caller = await connect({ elicitation: { form: {} } });
  const asked = new Promise<void>((resolve) => {
    caller.client.setRequestHandler(ElicitRequestSchema, () => {
      resolve();
      return new Promise(() => {});
    });
  });
  const failed = new Promise<string>((resolve) => {
    onFailure = resolve;
  });
  const call = caller.client.callTool({ name: 'ask', arguments: { label: 'gone' } });
  call.catch(() => {});
  await asked;
  return { ...caller, failed };
}

test('a caller whose session is deleted while asked: the server gets an error at once', async () => {
  const { client, transport, failed } = await askedAndWaiting();
  await transport.terminateSession();
  expect(await failed).toMatch(/disconnected|closed/i);
  await client.close();
}, 30_000);

test('a caller that disconnects while asked: the server gets an error at once', async () => {
  const { client, failed } = await askedAndWaiting();
  await client.close();
  expect(await failed).toMatch(/disconnected|closed/i);
}, 30_000);

test('a sampling request the caller answers with an error: the server gets that error', async () => {
  const { client } = await connect({ sampling: {} });
  client.setRequestHandler(CreateMessageRequestSchema, () => {
    throw new McpError(-1, 'the user declined to sample');
  });
  try {
    const result = await client.callTool({ name: 'sample', arguments: {} });
    expect(textOf(result)).toMatch(/^failed: MCP error -1: .*the user declined to sample/);
  } finally {
    await end(client);
  }
}, 30_000);

test("a server's request while none of the caller's calls runs is refused at once", async () => {
  const { client } = await connect({ elicitation: { form: {} } });
  // Never answered: a request forwarded anyway would hang.
  client.setRequestHandler(ElicitRequestSchema, () => new Promise(() => {}));
  try {
    expect(textOf(await client.callTool({ name: 'keep', arguments: {} }))).toBe('kept');
    await expect(
      kept?.server.elicitInput({ mode: 'form', message: 'late', requestedSchema: SCHEMA }),
    ).rejects.toThrow(/-32600.*no request of the caller is in flight/);
  } finally {
    await end(client);
  }
}, 30_000);

test("a server's request still open when its call ends fails then", async () => {
  const { client } = await connect({ elicitation: { form: {} } });
  let asked: () => void = () => {};
  callerAsked = new Promise((resolve) => {
    asked = resolve;
  });
  client.setRequestHandler(ElicitRequestSchema, () => {
    asked();
    return new Promise(() => {});
  });
  const failed = new Promise<string>((resolve) => {
    onFailure = resolve;
  });
  try {
    const result = await client.callTool({ name: 'early', arguments: {} });
    expect(textOf(result)).toBe('returned while asking');
    expect(await failed).toMatch(/ended/);
  } finally {
    callerAsked = Promise.resolve();
    await end(client);
  }
}, 30_000);

test('a completion of a URL elicitation the server never asked is not forwarded', async () => {
  const { client } = await connect({ elicitation: { url: {} } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({ action: 'accept' }));
  const completions: string[] = [];
  const real = new Promise<void>((resolve) => {
    client.setNotificationHandler(ElicitationCompleteNotificationSchema, ({ params }) => {
      completions.push(params.elicitationId);
      if (params.elicitationId === 'real-1') resolve();
    });
  });
  try {
    expect(textOf(await client.callTool({ name: 'spoof', arguments: {} }))).toBe('done');
    await real;
    expect(completions).toEqual(['real-1']);
  } finally {
    await end(client);
  }
}, 30_000);

describe('two servers', () => {
  let two: ServedApp;
  let other: McpHttpServer;
  let otherToken = '';
  let hangStarted: Promise<void> = Promise.resolve();
  let onHangStarted: () => void = () => {};
  let onHangEnded: () => void = () => {};

  beforeAll(async () => {
    hangStarted = new Promise((resolve) => {
      onHangStarted = resolve;
    });
    other = await startMcpHttpServer({
      setup: (server) => {
        server.registerTool('hang', {}, (extra) => {
          onHangStarted();
          return new Promise((resolve) => {
            extra.signal.addEventListener('abort', () => {
              onHangEnded();
              resolve({ content: [{ type: 'text', text: 'cancelled' }] });
            });
          });
        });
      },
    });
    two = await startServedApp({
      downstream: true,
      downstreamSetup: (server) =>
        server.registerTool('slowask', {}, async (extra) => {
          // Asks once the other server's call, started later, runs.
          await hangStarted;
          const result = await extra.sendRequest(
            {
              method: 'elicitation/create',
              params: { mode: 'form', message: 'ask slowly', requestedSchema: SCHEMA },
            },
            ElicitResultSchema,
          );
          return { content: [{ type: 'text', text: JSON.stringify(result) }] };
        }),
      servers: { other: { transport: 'streamable_http', url: `${other.origin}/mcp` } },
    });
    otherToken = (await userTokens(two.as.issuer, two.resource, 'alice')).accessToken;
  }, 60_000);

  afterAll(async () => {
    await two?.close();
    await other?.close();
  });

  test("cancelling a session's later call to another server does not end the earlier call's elicitation", async () => {
    const client = new Client(
      { name: 'caller', version: '1.0.0' },
      { capabilities: { elicitation: { form: {} } } },
    );
    await client.connect(
      new StreamableHTTPClientTransport(new URL(two.resource), {
        requestInit: { headers: { Authorization: `Bearer ${otherToken}` } },
      }),
    );
    const hangEnded = new Promise<void>((resolve) => {
      onHangEnded = resolve;
    });
    const cancel = new AbortController();
    client.setRequestHandler(ElicitRequestSchema, async () => {
      cancel.abort();
      await hangEnded;
      return { action: 'accept', content: { name: 'Ada' } };
    });
    try {
      const { tools } = await client.listTools();
      const name = (tool: string) =>
        tools.find((one) => one.name.endsWith(tool))?.name ?? `missing ${tool}`;
      const asking = client.callTool({ name: name('slowask'), arguments: {} });
      const hanging = client.callTool({ name: name('hang'), arguments: {} }, undefined, {
        signal: cancel.signal,
      });
      await expect(hanging).rejects.toThrow();
      expect(JSON.parse(textOf(await asking))).toEqual({
        action: 'accept',
        content: { name: 'Ada' },
      });
    } finally {
      await client.close();
    }
  }, 30_000);
});

describe("createApp's per-caller limit of own connections", () => {
  let limited: ServedApp;
  const warnings: string[] = [];

  beforeAll(async () => {
    limited = await startServedApp({
      downstream: true,
      downstreamSetup: downstreamTools,
      sections: { front: 'down' },
      peerConnections: { maxPeerConnectionsPerGroup: 1 },
      logger: { debug() {}, info() {}, warn: (message) => warnings.push(message), error() {} },
    });
  }, 60_000);

  afterAll(async () => {
    await limited?.close();
  });

  test("a caller's second session shares the connection without capabilities; another caller's does not", async () => {
    const session = async (user: string) => {
      const { accessToken } = await userTokens(limited.as.issuer, limited.resource, user);
      const client = new Client(
        { name: 'caller', version: '1.0.0' },
        { capabilities: { elicitation: { form: {} } } },
      );
      await client.connect(
        new StreamableHTTPClientTransport(new URL(limited.resource), {
          requestInit: { headers: { Authorization: `Bearer ${accessToken}` } },
        }),
      );
      return client;
    };
    const clients = [await session('alice'), await session('alice'), await session('bob')];
    try {
      capabilitiesSeen.splice(0);
      for (const client of clients) {
        expect(textOf(await client.callTool({ name: 'caps', arguments: {} }))).toBe('ok');
      }
      expect(capabilitiesSeen.splice(0)).toEqual([
        { elicitation: { form: {} } },
        {},
        { elicitation: { form: {} } },
      ]);
      expect(
        warnings.filter((line) => line.includes('maxPeerConnectionsPerGroup: 1')),
      ).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((client) => client.close()));
    }
  }, 30_000);
});
