/**
 * Elicitation and sampling through `serve` (issue 15, items 2 and 7), with
 * `@modelcontextprotocol/server-everything` over stdio as the downstream server and the SDK v1
 * and v2 clients as callers declaring form and URL elicitation and sampling: the server's
 * elicitation, URL elicitation (and its completion) and sampling reach the caller and its answers
 * come back in the tools' results; progress, resources and prompts go through too; the simulated
 * log messages of a caller's connection reach that caller only.
 */
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitationCompleteNotificationSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  ProgressNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type App, createApp, type RunningApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { EVERYTHING } from '../support/everything.js';
import { textOf } from './serve-support.js';

const CAPABILITIES = { elicitation: { form: {}, url: {} }, sampling: {} };

/** What a caller was asked, and the log and progress it received. */
interface Seen {
  readonly elicitations: Record<string, unknown>[];
  readonly samples: Record<string, unknown>[];
  readonly completed: string[];
  readonly logs: { level: string; logger?: string | undefined; data: unknown }[];
  readonly progress: unknown[];
}

/** The calls a test makes, alike for the SDK v1 and v2 clients. */
interface Caller {
  readonly seen: Seen;
  call(name: string, args?: Record<string, unknown>, token?: string): Promise<unknown>;
  listTools(): Promise<string[]>;
  readResource(uri: string): Promise<unknown>;
  getPrompt(name: string): Promise<unknown>;
  setLoggingLevel(level: 'debug' | 'info'): Promise<void>;
  /** Resolves at the next log message of server `logger`. */
  nextLog(logger: string): Promise<void>;
  close(): Promise<void>;
}

function newSeen(): Seen {
  return { elicitations: [], samples: [], completed: [], logs: [], progress: [] };
}

/** The answer a caller gives to an elicitation: a URL one is accepted, a form one filled in. */
function answer(params: Record<string, unknown>) {
  return params.mode === 'url'
    ? { action: 'accept' as const }
    : { action: 'accept' as const, content: { name: 'Ada Lovelace', check: true, integer: 7 } };
}

const SAMPLE = {
  model: 'caller-model',
  role: 'assistant' as const,
  content: { type: 'text' as const, text: 'the answer is 42' },
};

/** Listeners of log messages, by logger. */
function logWaiter(seen: Seen) {
  const waiting: { logger: string; resolve: () => void }[] = [];
  return {
    push(params: Seen['logs'][number]) {
      seen.logs.push(params);
      for (const one of waiting.splice(0)) {
        if (one.logger === params.logger) one.resolve();
        else waiting.push(one);
      }
    },
    next: (logger: string) =>
      new Promise<void>((resolve) => {
        waiting.push({ logger, resolve });
      }),
  };
}

async function callerV1(url: string): Promise<Caller> {
  const seen = newSeen();
  const logs = logWaiter(seen);
  const client = new Client({ name: 'v1', version: '1.0.0' }, { capabilities: CAPABILITIES });
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    seen.elicitations.push(request.params);
    return answer(request.params);
  });
  client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
    seen.samples.push(request.params);
    return SAMPLE;
  });
  client.setNotificationHandler(ElicitationCompleteNotificationSchema, ({ params }) => {
    seen.completed.push(params.elicitationId);
  });
  client.setNotificationHandler(LoggingMessageNotificationSchema, ({ params }) =>
    logs.push(params),
  );
  client.setNotificationHandler(ProgressNotificationSchema, ({ params }) => {
    seen.progress.push(params);
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return {
    seen,
    call: (name, args = {}, token) =>
      client.request(
        {
          method: 'tools/call',
          params: { name, arguments: args, ...(token ? { _meta: { progressToken: token } } : {}) },
        },
        CallToolResultSchema,
      ),
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    readResource: (uri) => client.readResource({ uri }),
    getPrompt: (name) => client.getPrompt({ name }),
    setLoggingLevel: async (level) => {
      await client.setLoggingLevel(level);
    },
    nextLog: logs.next,
    close: () => client.close(),
  };
}

async function callerV2(url: string): Promise<Caller> {
  const seen = newSeen();
  const logs = logWaiter(seen);
  const client = new ClientV2({ name: 'v2', version: '1.0.0' }, { capabilities: CAPABILITIES });
  client.setRequestHandler('elicitation/create', async (request) => {
    const params = request.params as Record<string, unknown>;
    seen.elicitations.push(params);
    return answer(params);
  });
  client.setRequestHandler('sampling/createMessage', async (request) => {
    seen.samples.push(request.params as Record<string, unknown>);
    return SAMPLE;
  });
  client.setNotificationHandler('notifications/elicitation/complete', (notification) => {
    seen.completed.push(notification.params.elicitationId);
  });
  client.setNotificationHandler('notifications/message', (notification) =>
    logs.push(notification.params as Seen['logs'][number]),
  );
  client.setNotificationHandler('notifications/progress', (notification) => {
    seen.progress.push(notification.params);
  });
  await client.connect(new TransportV2(new URL(url)));
  return {
    seen,
    call: (name, args = {}, token) =>
      client.callTool({
        name,
        arguments: args,
        ...(token ? { _meta: { progressToken: token } } : {}),
      }),
    listTools: async () => (await client.listTools()).tools.map((tool) => tool.name),
    readResource: (uri) => client.readResource({ uri }),
    getPrompt: (name) => client.getPrompt({ name }),
    setLoggingLevel: async (level) => {
      await client.setLoggingLevel(level);
    },
    nextLog: logs.next,
    close: () => client.close(),
  };
}

let app: App;
let running: RunningApp;
let front: App;
let frontRunning: RunningApp;

beforeAll(async () => {
  const ev = { transport: 'stdio', command: process.execPath, args: [EVERYTHING, 'stdio'] };
  const settings = settingsSchema.parse({ name: 'relay', mcp: { servers: { ev } } });
  const env = { PATH: process.env.PATH ?? '' };
  app = await createApp({ settings, env });
  running = await app.listen({ host: '127.0.0.1', port: 0 });
  front = await createApp({ settings, env, front: 'ev' });
  frontRunning = await front.listen({ host: '127.0.0.1', port: 0 });
}, 60_000);

afterAll(async () => {
  await running?.close();
  await app?.close();
  await frontRunning?.close();
  await front?.close();
});

const modes = [
  ['aggregated', (name: string) => `ev_${name}`, () => running.url],
  ['front', (name: string) => name, () => frontRunning.url],
] as const;
const clients = [
  ['SDK v1', callerV1],
  ['SDK v2', callerV2],
] as const;

describe.each(modes)('%s mode', (_mode, served, url) => {
  describe.each(clients)('the %s client', (_client, connect) => {
    test('lists the tools server-everything offers a client that can answer', async () => {
      const caller = await connect(url());
      try {
        const tools = await caller.listTools();
        for (const name of [
          'trigger-elicitation-request',
          'trigger-url-elicitation',
          'trigger-sampling-request',
        ]) {
          expect(tools).toContain(served(name));
        }
      } finally {
        await caller.close();
      }
    }, 30_000);

    test("a form elicitation reaches the caller and its answer is in the tool's result", async () => {
      const caller = await connect(url());
      try {
        const result = await caller.call(served('trigger-elicitation-request'));
        expect(caller.seen.elicitations).toHaveLength(1);
        expect(caller.seen.elicitations[0]?.message).toBe(
          'Please provide inputs for the following fields:',
        );
        expect(textOf(result)).toContain('User provided the requested information');
        expect(JSON.stringify(result)).toContain('Name: Ada Lovelace');
        expect(JSON.stringify(result)).toContain('Favorite Integer: 7');
      } finally {
        await caller.close();
      }
    }, 30_000);

    test('a sampling request reaches the caller and its message comes back', async () => {
      const caller = await connect(url());
      try {
        const result = await caller.call(served('trigger-sampling-request'), {
          prompt: 'what is six times seven?',
        });
        expect(caller.seen.samples).toHaveLength(1);
        expect(JSON.stringify(caller.seen.samples[0])).toContain('what is six times seven?');
        expect(textOf(result)).toContain('the answer is 42');
        expect(textOf(result)).toContain('caller-model');
      } finally {
        await caller.close();
      }
    }, 30_000);

    test('a URL elicitation reaches the caller as such', async () => {
      const caller = await connect(url());
      try {
        const result = await caller.call(served('trigger-url-elicitation'), {
          url: 'https://example.com/consent',
          elicitationId: 'consent-1',
        });
        expect(caller.seen.elicitations).toEqual([
          {
            mode: 'url',
            url: 'https://example.com/consent',
            message: 'Please open the link to complete this action.',
            elicitationId: 'consent-1',
          },
        ]);
        expect(textOf(result)).toContain('User completed the URL elicitation flow');
      } finally {
        await caller.close();
      }
    }, 30_000);

    test("progress, a resource tool, a resource and a prompt go through on the caller's connection", async () => {
      const caller = await connect(url());
      try {
        await caller.call(
          served('trigger-long-running-operation'),
          { duration: 0.2, steps: 2 },
          'mine',
        );
        expect(caller.seen.progress).toEqual([
          { progressToken: 'mine', progress: 1, total: 2 },
          { progressToken: 'mine', progress: 2, total: 2 },
        ]);
        const reference = await caller.call(served('get-resource-reference'), {
          resourceType: 'Text',
          resourceId: 3,
        });
        expect(JSON.stringify(reference)).toContain('demo://resource/dynamic/text/3');
        const read = await caller.readResource('demo://resource/dynamic/text/3');
        expect(JSON.stringify(read)).toContain('demo://resource/dynamic/text/3');
        const prompt = await caller.getPrompt(served('simple-prompt'));
        expect(JSON.stringify(prompt)).toContain('simple prompt');
      } finally {
        await caller.close();
      }
    }, 30_000);
  });

  test("simulated logging of a caller's connection reaches that caller only", async () => {
    const a = await callerV1(url());
    const b = await callerV2(url());
    try {
      await a.setLoggingLevel('debug');
      await b.setLoggingLevel('debug');
      // The message comes on a's own connection once the tool turns logging on.
      const logged = a.nextLog('ev');
      await a.call(served('toggle-simulated-logging'));
      await logged;
      // b's connection to the server is its own: calling a tool there shows b's is open too.
      await b.call(served('get-sum'), { a: 1, b: 2 });
      await a.call(served('toggle-simulated-logging'));
      expect(a.seen.logs.filter((log) => log.logger === 'ev').length).toBeGreaterThan(0);
      expect(b.seen.logs.filter((log) => log.logger === 'ev')).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  }, 30_000);
});

test('two sessions asked by the same stdio server at once each get only their own elicitation', async () => {
  // Each caller answers only once both have been asked: the two elicitations overlap.
  let release: () => void = () => {};
  const both = new Promise<void>((resolve) => {
    release = resolve;
  });
  let asked = 0;
  const client = async (name: string) => {
    const caller = new Client({ name, version: '1.0.0' }, { capabilities: CAPABILITIES });
    const seen: unknown[] = [];
    caller.setRequestHandler(ElicitRequestSchema, async (request) => {
      seen.push(request.params.message);
      if (++asked === 2) release();
      await both;
      return { action: 'accept', content: { name } };
    });
    await caller.connect(new StreamableHTTPClientTransport(new URL(running.url)));
    return { caller, seen };
  };
  const a = await client('Alice');
  const b = await client('Bob');
  try {
    const [ra, rb] = await Promise.all(
      [a, b].map(({ caller }) =>
        caller.callTool({ name: 'ev_trigger-elicitation-request', arguments: {} }),
      ),
    );
    expect(JSON.stringify(ra)).toContain('Name: Alice');
    expect(JSON.stringify(rb)).toContain('Name: Bob');
    expect([a.seen.length, b.seen.length]).toEqual([1, 1]);
  } finally {
    await a.caller.close();
    await b.caller.close();
  }
}, 30_000);
