/**
 * SEP-2106 (JSON Schema 2020-12 in tool schemas): a downstream tool's `inputSchema` with
 * composition (`allOf`/`anyOf`), conditional (`if`/`then`/`else`) and reference (`$anchor`)
 * keywords reaches the caller of `serve` unchanged on both revisions, 2025-11-25 (a session) and
 * 2026-07-28 (the stateless leg).
 */
import type { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, expect, test } from 'vitest';
import {
  connectV2,
  inlineStdio,
  mcpHeaders,
  message,
  raw,
  rpc,
  type ServedApp,
  startServedApp,
  toolServerSource,
  type UserTokens,
  userTokens,
} from './serve-support.js';

/** Every keyword family SEP-2106 names, as a downstream server lists it. */
const SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'address',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    kind: { type: 'string' },
    address: { $ref: '#/$defs/address' },
  },
  allOf: [{ anyOf: [{ required: ['name'] }, { required: ['address'] }] }],
  if: { properties: { kind: { const: 'company' } } },
  // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword under test.
  then: { required: ['address'] },
  else: { required: ['name'] },
  additionalProperties: false,
};

let served: ServedApp;
let alice: UserTokens;
const clients: Client[] = [];

beforeAll(async () => {
  served = await startServedApp({
    servers: {
      // A stdio server on the v1 SDK whose only tool declares SCHEMA.
      schemas: inlineStdio(toolServerSource('shaped', SCHEMA)),
    },
  });
  alice = await userTokens(served.as.issuer, served.resource, 'alice');
}, 60_000);

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => {})));
  await served?.close();
});

async function listedSchema(mode: 'legacy' | { pin: string }): Promise<unknown> {
  const client = await connectV2(served, alice.accessToken, mode, 'schemas-test');
  clients.push(client);
  const { tools } = await client.listTools();
  return tools.find((tool) => tool.name === 'schemas_shaped')?.inputSchema;
}

test('a 2025-11-25 session lists the downstream schema unchanged', async () => {
  expect(await listedSchema('legacy')).toEqual(SCHEMA);
});

test('a 2026-07-28 client lists the downstream schema unchanged', async () => {
  expect(await listedSchema({ pin: '2026-07-28' })).toEqual(SCHEMA);
});

test('the 2026-07-28 answer on the wire carries every keyword', async () => {
  const meta = {
    'io.modelcontextprotocol/protocolVersion': '2026-07-28',
    'io.modelcontextprotocol/clientCapabilities': {},
  };
  const response = await raw(served.resource, {
    method: 'POST',
    headers: mcpHeaders(alice.accessToken, {
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/list',
    }),
    body: rpc('tools/list', { _meta: meta }),
  });
  expect(response.status).toBe(200);
  const result = message(response.body).result as {
    tools: { name: string; inputSchema: unknown }[];
  };
  expect(result.tools.find((tool) => tool.name === 'schemas_shaped')?.inputSchema).toEqual(SCHEMA);
});
