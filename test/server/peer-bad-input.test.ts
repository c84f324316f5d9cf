/**
 * Elicitation and sampling through a protected `serve` in front mode (issue 15, item 2, bad
 * input), with tokens from the development authorization server and an SDK server of the test's
 * own over Streamable HTTP: the capabilities it sees are exactly the caller's; a URL elicitation's
 * completion reaches the caller; an answer failing the schema is refused to the server and the
 * session goes on; a sampling request of a caller that declared none is refused; and a caller
 * that goes away while asked leaves the server with an error, not a hang.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  type ClientCapabilities,
  CreateMessageResultSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import * as z from 'zod';
import { type ServedApp, startServedApp, textOf, userTokens } from './serve-support.js';

const SCHEMA = {
  type: 'object' as const,
  properties: { name: { type: 'string' as const }, age: { type: 'integer' as const, minimum: 0 } },
  required: ['name'],
};

/** What the downstream server saw: capabilities per call, failures of its requests. */
const capabilitiesSeen: (ClientCapabilities | undefined)[] = [];
let onFailure: (message: string) => void = () => {};

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
  return { client, transport };
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
    await Promise.all([form, none, both].map((caller) => caller.client.close()));
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
    await client.close();
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
    await client.close();
  }
}, 30_000);

test('a sampling request of a caller that declared no sampling gets the refusal', async () => {
  for (const capabilities of [{ elicitation: { form: {} } }, {}]) {
    const { client } = await connect(capabilities);
    try {
      const result = await client.callTool({ name: 'sample', arguments: {} });
      expect(textOf(result)).toBe('failed: MCP error -32601: Method not found');
    } finally {
      await client.close();
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
