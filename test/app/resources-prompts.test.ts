/**
 * Resources, resource templates, prompts, completions and subscriptions through `serve` (issue 15,
 * item 4), with SDK clients as callers and real downstream servers:
 * `@modelcontextprotocol/server-everything` over stdio (shared by every caller) and a protected
 * MCP server in another realm, reached with each caller's own token. Bad input: a URI no server
 * lists for the caller, a URI of a server the caller has not signed in to, a prompt name of
 * another server's namespace, another session's subscription.
 */
import type { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  McpError,
  ResourceListChangedNotificationSchema,
  ResourceUpdatedNotificationSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { userTokens } from '../server/serve-support.js';
import { EVERYTHING } from '../support/everything.js';
import { type McpHttpServer, startMcpHttpServer } from '../support/mcp-http-server.js';
import { waitFor } from '../support/net.js';
import {
  connect,
  DOWN_SCOPE,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
  subOf,
} from './delegated-support.js';

const STATIC = 'demo://resource/static/document/architecture.md';
const OTHER = 'demo://resource/static/document/features.md';
/** A URI both ev and twin list: neither offers it. */
const TWICE = 'demo://resource/static/document/extension.md';
const DOWN_URI = 'realm://me';

/** The protected server's resource and prompt, both telling whose token reached it. */
function realmContent(server: McpServer): void {
  server.registerResource('me', DOWN_URI, { mimeType: 'text/plain' }, async (uri, extra) => ({
    contents: [{ uri: uri.href, text: String(extra.authInfo?.extra?.sub) }],
  }));
  server.registerPrompt('greeting', { description: 'Greets the signed-in user' }, (extra) => ({
    messages: [
      {
        role: 'user',
        content: { type: 'text', text: `hello ${String(extra.authInfo?.extra?.sub)}` },
      },
    ],
  }));
}

/** A plain HTTP server listing one of ev's URIs, a prompt of ev's name, and a tool adding a resource. */
function twinContent(server: McpServer): void {
  server.registerResource('twice', TWICE, {}, async (uri) => ({
    contents: [{ uri: uri.href, text: 'twin' }],
  }));
  server.registerPrompt('simple-prompt', {}, () => ({
    messages: [{ role: 'user', content: { type: 'text', text: 'twin prompt' } }],
  }));
  server.registerResource('plain', PLAIN, {}, async (uri) => ({
    contents: [{ uri: uri.href, text: 'plain' }],
  }));
  server.server.registerCapabilities({ resources: { subscribe: true } });
  server.server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    twinSubscriptions.push(`+${request.params.uri}`);
    return {};
  });
  server.server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    twinSubscriptions.push(`-${request.params.uri}`);
    onTwinUnsubscribe();
    return {};
  });
  // A template whose reads the server answers "not found", as v1 servers do (-32002).
  server.registerResource(
    'gone',
    new ResourceTemplate('twin://gone/{id}', { list: undefined }),
    {},
    async (uri) => {
      throw new McpError(-32002, 'Resource not found', { uri: uri.href });
    },
  );
  server.registerTool('grow', {}, async () => {
    server.registerResource('grown', 'twin://grown', {}, async (uri) => ({
      contents: [{ uri: uri.href, text: 'grown' }],
    }));
    return { content: [{ type: 'text', text: 'grown' }] };
  });
  // A server that floods its resource list changes.
  server.registerTool('flood', {}, async () => {
    for (let i = 0; i < 50; i++) server.sendResourceListChanged();
    return { content: [{ type: 'text', text: 'flooded' }] };
  });
}

const PLAIN = 'twin://plain';
/** The subscribe (+URI) and unsubscribe (-URI) requests twin received. */
const twinSubscriptions: string[] = [];
let onTwinUnsubscribe: () => void = () => {};

let twin: McpHttpServer;
let inbound: Inbound;
let realm: Realm;
let agent: ServedAgent;
let alice: string;
let bob: string;
const warnings: string[] = [];

beforeAll(async () => {
  inbound = await startInbound();
  realm = await startRealm(realmContent);
  twin = await startMcpHttpServer({ setup: twinContent });
  const settings = settingsSchema.parse({
    name: 'relay',
    mcp: {
      servers: {
        ev: { transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] },
        twin: { transport: 'streamable_http', url: `${twin.origin}/mcp` },
        down: {
          transport: 'streamable_http',
          url: realm.server.url,
          auth: { oauth: { enabled: true, scopes: [DOWN_SCOPE] } },
        },
      },
    },
    oauth: { background_refresh: false },
    authorization: {
      enabled: true,
      issuer_url: inbound.as.issuer,
      resource_server_url: inbound.resource,
      expected_audiences: [inbound.resource],
      required_scopes: ['mcp:tools'],
      prompt_scopes: { 'ev_resource-prompt': ['mcp:admin'] },
      resource_scopes: { 'demo://resource/dynamic/blob/{resourceId}': ['mcp:admin'] },
    },
  });
  agent = await serveAgent(settings, inbound.port, {
    logger: {
      debug: () => {},
      info: () => {},
      warn: (message) => warnings.push(message),
      error: (message) => warnings.push(message),
    },
  });
  alice = (await userTokens(inbound.as.issuer, inbound.resource, 'alice')).accessToken;
  bob = (await userTokens(inbound.as.issuer, inbound.resource, 'bob')).accessToken;
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await realm?.close();
  await inbound?.as.close();
  await twin?.close();
});

/** The JSON-RPC error code of a rejected request. */
async function codeOf(request: Promise<unknown>): Promise<number | undefined> {
  return (await errorOf(request))?.code;
}

/** The JSON-RPC error `request` failed with: its code and data. */
async function errorOf(
  request: Promise<unknown>,
): Promise<{ code: number; data: unknown } | undefined> {
  try {
    await request;
  } catch (error) {
    return error instanceof McpError ? { code: error.code, data: error.data } : undefined;
  }
  return undefined;
}

describe('prompts', () => {
  test('listed as SERVER_PROMPT, fetched and completed through serve', async () => {
    const a = await connect(agent.running.url, alice);
    try {
      expect(a.client.getServerCapabilities()).toMatchObject({
        resources: { subscribe: true, listChanged: true },
        prompts: { listChanged: true },
        completions: {},
      });
      const { prompts } = await a.client.listPrompts();
      const names = prompts.map((prompt) => prompt.name);
      expect(names).toEqual(
        expect.arrayContaining(['ev_simple-prompt', 'ev_args-prompt', 'ev_completable-prompt']),
      );
      // Not signed in to "down" yet: its prompts are not listed for this caller.
      expect(names.some((name) => name.startsWith('down_'))).toBe(false);
      const simple = await a.client.getPrompt({ name: 'ev_simple-prompt' });
      expect(simple.messages[0]?.content).toMatchObject({ type: 'text' });
      const args = await a.client.getPrompt({
        name: 'ev_args-prompt',
        arguments: { city: 'Paris' },
      });
      expect(JSON.stringify(args.messages)).toContain('Paris');
      const completion = await a.client.complete({
        ref: { type: 'ref/prompt', name: 'ev_completable-prompt' },
        argument: { name: 'department', value: 'En' },
      });
      expect(completion.completion.values).toContain('Engineering');
    } finally {
      await a.close();
    }
  });

  test('a name of no listed prompt, or in another server namespace, is refused', async () => {
    const a = await connect(agent.running.url, alice);
    try {
      for (const name of ['simple-prompt', 'ev_nope', 'nobody_x', 'ev_']) {
        expect(await codeOf(a.client.getPrompt({ name }))).toBe(-32602);
      }
      // "down_simple-prompt" is in down's namespace: it goes to down (which asks this caller to
      // sign in first), never to ev's "simple-prompt".
      expect(await codeOf(a.client.getPrompt({ name: 'down_simple-prompt' }))).toBe(-32042);
    } finally {
      await a.close();
    }
  });
});

describe('resources', () => {
  test('listed with their URIs and SERVER_NAME names; read, templates and template completion', async () => {
    const a = await connect(agent.running.url, alice);
    try {
      const { resources } = await a.client.listResources();
      const listed = resources.find((resource) => resource.uri === STATIC);
      expect(listed?.name).toBe('ev_architecture.md');
      const read = await a.client.readResource({ uri: STATIC });
      expect(read.contents[0]).toMatchObject({ uri: STATIC });
      const { resourceTemplates } = await a.client.listResourceTemplates();
      const text = resourceTemplates.find(
        (template) => template.uriTemplate === 'demo://resource/dynamic/text/{resourceId}',
      );
      expect(text?.name).toBe('ev_Dynamic Text Resource');
      // A URI no listing has, matching ev's template: read from ev.
      const dynamic = await a.client.readResource({ uri: 'demo://resource/dynamic/text/7' });
      expect(JSON.stringify(dynamic.contents)).toContain('7');
      const completion = await a.client.complete({
        ref: { type: 'ref/resource', uri: 'demo://resource/dynamic/text/{resourceId}' },
        argument: { name: 'resourceId', value: '' },
      });
      expect(Array.isArray(completion.completion.values)).toBe(true);
    } finally {
      await a.close();
    }
  });

  test('a URI no server lists or matches for the caller is refused without reaching a server', async () => {
    const a = await connect(agent.running.url, alice);
    try {
      for (const uri of [
        'demo://resource/static/document/nope.md',
        'file:///etc/passwd',
        DOWN_URI,
      ]) {
        // Resource not found: -32602 with the URI as data (the v2 SDK sends -32002 so).
        expect(await errorOf(a.client.readResource({ uri }))).toEqual({
          code: -32602,
          data: { uri },
        });
        expect(await codeOf(a.client.subscribeResource({ uri }))).toBe(-32602);
      }
      expect(
        await codeOf(
          a.client.complete({
            ref: { type: 'ref/resource', uri: 'demo://resource/{x}' },
            argument: { name: 'x', value: '' },
          }),
        ),
      ).toBe(-32602);
    } finally {
      await a.close();
    }
  });

  test('a resource_scopes template guards the URIs it matches: 403 insufficient_scope', async () => {
    const a = await connect(agent.running.url, alice);
    try {
      // Alice's token has mcp:tools only.
      const error = await a.client.readResource({ uri: 'demo://resource/dynamic/blob/3' }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(String(error)).toMatch(/403|insufficient_scope/);
      const prompt = await a.client.getPrompt({ name: 'ev_resource-prompt' }).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(String(prompt)).toMatch(/403|insufficient_scope/);
    } finally {
      await a.close();
    }
  });
});

describe('two servers', () => {
  test('a URI two servers list is offered by neither and refused; prompts of one name stay apart', async () => {
    const a = await connect(agent.running.url, alice);
    try {
      const { resources } = await a.client.listResources();
      expect(resources.some((resource) => resource.uri === TWICE)).toBe(false);
      expect(resources.some((resource) => resource.uri === OTHER)).toBe(true);
      expect(await codeOf(a.client.readResource({ uri: TWICE }))).toBe(-32602);
      // A server's own "not found" (-32002) reaches the caller as serve's: -32602 with the URI.
      expect(await errorOf(a.client.readResource({ uri: 'twin://gone/1' }))).toEqual({
        code: -32602,
        data: { uri: 'twin://gone/1' },
      });
      expect(warnings.some((line) => line.includes(`"${TWICE}" is listed by servers`))).toBe(true);
      const twinPrompt = await a.client.getPrompt({ name: 'twin_simple-prompt' });
      expect(twinPrompt.messages[0]?.content).toMatchObject({ text: 'twin prompt' });
      const evPrompt = await a.client.getPrompt({ name: 'ev_simple-prompt' });
      expect(evPrompt.messages[0]?.content).not.toMatchObject({ text: 'twin prompt' });
    } finally {
      await a.close();
    }
  });

  test("a server's flood of resource list changes reaches a session at most once a second", async () => {
    const a = await connect(agent.running.url, alice);
    let changes = 0;
    a.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => {
      changes += 1;
    });
    try {
      await a.client.listResources();
      await a.call('twin_flood');
      // The first at once, the rest of the second as one at its end (not 50).
      await waitFor('the change at the end of the window', () => (changes >= 2 ? true : undefined));
      await a.client.listResources();
      expect(changes).toBeLessThanOrEqual(3);
    } finally {
      await a.close();
    }
  });

  test("a server's resource list change reaches the sessions that listed from it, and the new URI is readable", async () => {
    const a = await connect(agent.running.url, alice);
    const b = await connect(agent.running.url, bob);
    let changed: () => void = () => {};
    const aChanged = new Promise<void>((resolve) => {
      changed = resolve;
    });
    const bChanges: unknown[] = [];
    a.client.setNotificationHandler(ResourceListChangedNotificationSchema, () => changed());
    b.client.setNotificationHandler(ResourceListChangedNotificationSchema, (n) => {
      bChanges.push(n);
    });
    try {
      await a.client.listResources();
      // Before the change, the new URI is nobody's.
      expect(await codeOf(a.client.readResource({ uri: 'twin://grown' }))).toBe(-32602);
      await a.call('twin_grow');
      await aChanged;
      // Bob listed nothing from twin on his session: not told.
      await b.client.listPrompts();
      expect(bChanges).toEqual([]);
      const read = await a.client.readResource({ uri: 'twin://grown' });
      expect(read.contents[0]).toMatchObject({ text: 'grown' });
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe('per-caller downstream tokens', () => {
  test("each caller reads the protected server's resource and prompt with its own token; one not signed in is refused", async () => {
    const a = await connect(agent.running.url, alice, { signInAs: 'alice-down' });
    const b = await connect(agent.running.url, bob);
    try {
      // Alice signs in to "down" (through its tool, with a URL elicitation).
      expect(subOf(await a.call('down_whoami'))).toBe('alice-down');
      const { resources } = await a.client.listResources();
      const mine = resources.find((resource) => resource.uri === DOWN_URI);
      expect(mine?.name).toBe('down_me');
      const read = await a.client.readResource({ uri: DOWN_URI });
      expect(read.contents[0]).toMatchObject({ uri: DOWN_URI, text: 'alice-down' });
      const prompt = await a.client.getPrompt({ name: 'down_greeting' });
      expect(prompt.messages[0]?.content).toMatchObject({ text: 'hello alice-down' });

      // Bob has not signed in to "down": its resource is not his to read, its prompt not listed.
      const bobs = await b.client.listResources();
      expect(bobs.resources.some((resource) => resource.uri === DOWN_URI)).toBe(false);
      expect(await codeOf(b.client.readResource({ uri: DOWN_URI }))).toBe(-32602);
      const bobPrompts = await b.client.listPrompts();
      expect(bobPrompts.prompts.some((p) => p.name === 'down_greeting')).toBe(false);
      // Fetching the prompt asks Bob to sign in (URL elicitation required), never Alice's token.
      expect(await codeOf(b.client.getPrompt({ name: 'down_greeting' }))).toBe(-32042);
      expect(realm.server.calls.map((call) => call.sub)).toEqual(['alice-down']);
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);
});

describe('subscriptions', () => {
  test("an update reaches the sessions subscribed to its URI only; another session's subscription is not this one's", async () => {
    const a = await connect(agent.running.url, alice);
    const b = await connect(agent.running.url, bob);
    const updates = { a: [] as string[], b: [] as string[] };
    const arrived = (who: 'a' | 'b') => {
      let done: () => void = () => {};
      const promise = new Promise<void>((resolve) => {
        done = resolve;
      });
      (who === 'a' ? a : b).client.setNotificationHandler(
        ResourceUpdatedNotificationSchema,
        ({ params }) => {
          updates[who].push(params.uri);
          done();
        },
      );
      return promise;
    };
    const aUpdated = arrived('a');
    const bUpdated = arrived('b');
    try {
      await a.client.subscribeResource({ uri: STATIC });
      await b.client.subscribeResource({ uri: OTHER });
      // Bob may not end Alice's subscription: he has none of that URI.
      expect(await codeOf(b.client.unsubscribeResource({ uri: STATIC }))).toBe(-32602);
      // server-everything (one connection for every caller) sends an update of every URI
      // subscribed on it at once, then every 5 s: each goes to its own subscriber only.
      await a.call('ev_toggle-subscriber-updates');
      await Promise.all([aUpdated, bUpdated]);
      expect(new Set(updates.a)).toEqual(new Set([STATIC]));
      expect(new Set(updates.b)).toEqual(new Set([OTHER]));
      await a.client.unsubscribeResource({ uri: STATIC });
      expect(await codeOf(a.client.unsubscribeResource({ uri: STATIC }))).toBe(-32602);
    } finally {
      await a.call('ev_toggle-subscriber-updates').catch(() => {});
      await a.close();
      await b.close();
    }
  }, 30_000);

  test('one downstream subscription per URI for every session; the last to leave, or to close, ends it', async () => {
    const a = await connect(agent.running.url, alice);
    const b = await connect(agent.running.url, bob);
    try {
      await a.client.subscribeResource({ uri: PLAIN });
      await b.client.subscribeResource({ uri: PLAIN });
      // Subscribing twice in one session changes nothing.
      await a.client.subscribeResource({ uri: PLAIN });
      expect(twinSubscriptions).toEqual([`+${PLAIN}`]);
      await a.client.unsubscribeResource({ uri: PLAIN });
      expect(twinSubscriptions).toEqual([`+${PLAIN}`]);
      const ended = new Promise<void>((resolve) => {
        onTwinUnsubscribe = resolve;
      });
      // Bob's session ends without unsubscribing: its subscription ends with it.
      await (b.client.transport as StreamableHTTPClientTransport).terminateSession();
      await ended;
      expect(twinSubscriptions).toEqual([`+${PLAIN}`, `-${PLAIN}`]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
