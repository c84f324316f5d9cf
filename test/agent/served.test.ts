/**
 * The agent acting for its caller (issue 17, item 3): an app served by `createApp` exposes an
 * agent (`app.agent`) as a tool and as a workflow; callers (Alice, Bob, Carol: tokens of the
 * inbound authorization server) ask it through an SDK client. Its model is the real
 * `@ai-sdk/openai` provider against the scripted stand-in of OpenAI's chat completions (the
 * `openai:` section of the app's settings); its tools are a protected MCP server of another realm
 * (`startRealm`), reached with each caller's own downstream token through serve's per-caller
 * connections. A login the loop needs reaches the caller by URL elicitation (or -32042), progress
 * flows per model call and tool call, and a cancelled request stops the loop.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { UrlElicitationRequiredError } from '@modelcontextprotocol/sdk/types.js';
import { beforeEach, describe, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { AppDefinition, DEFAULT_MAX_PROMPT_CHARS, defineApp } from '../../src/app/define.js';
import { type Settings, settingsSchema } from '../../src/config/schema/settings.js';
import type { Logger } from '../../src/logger.js';
import { connect, delegatedSettings, startRealm, textOf } from '../app/delegated-support.js';
import { waitFor } from '../support/net.js';
import { toolThenText } from './scripted-chat.js';
import { openaiSection, servedWorld } from './served-world.js';

const MODEL_KEY = 'sk-canary-served-agent';

const infos: string[] = [];
const warnings: string[] = [];

/** The downstream `meet` tool: it answers each caller once two calls are in it at once. */
const meeting = { waiting: [] as (() => void)[], subs: [] as unknown[] };
/** The downstream `wait` tool: it runs until its call is cancelled. */
let waiting = { started: Promise.withResolvers<void>(), cancelled: Promise.withResolvers<void>() };

function realmTools(server: McpServer): void {
  server.registerTool(
    'meet',
    { description: 'Answers once another caller is here' },
    async (extra) => {
      const sub = extra.authInfo?.extra?.sub;
      meeting.subs.push(sub);
      await new Promise<void>((go) => {
        meeting.waiting.push(go);
        if (meeting.waiting.length === 2) for (const each of meeting.waiting.splice(0)) each();
      });
      return { content: [{ type: 'text', text: JSON.stringify({ sub }) }] };
    },
  );
  server.registerTool('wait', { description: 'Runs until cancelled' }, async (extra) => {
    waiting.started.resolve();
    await new Promise((done) => extra.signal.addEventListener('abort', done, { once: true }));
    waiting.cancelled.resolve();
    return { content: [{ type: 'text', text: 'cancelled' }] };
  });
}

const logger: Logger = {
  debug: () => {},
  info: (message) => infos.push(message),
  warn: (message) => warnings.push(message),
  error: () => {},
};

/** `settings` with the `openai:` section of the stand-in, and the `agents:` definitions. */
function withModel(settings: Settings): Settings {
  return withAgents({ ...settings, openai: openaiSection(MODEL_KEY, world.chat) });
}

/** `settings` with the `agents:` definitions. */
function withAgents(settings: Settings): Settings {
  const { agents } = settingsSchema.parse({
    agents: {
      definitions: [
        { name: 'scout', instruction: 'You scout.', server_names: ['down'] },
        { name: 'lookout', instruction: 'You look out.', server_names: [] },
      ],
    },
  });
  return { ...settings, agents };
}

const world = servedWorld({
  modelKey: MODEL_KEY,
  realm: () => startRealm(realmTools),
  settings: withAgents,
  setup: defineApp((app) => {
    app.agent(
      'finder',
      { instruction: 'You find things.', serverNames: ['down'], provider: 'openai' },
      { description: 'Finds things with your account.' },
    );
    app.agent('researcher', { serverNames: ['down'], provider: 'openai' }, { as: 'workflow' });
    app.agent('guesser', { serverNames: [], provider: 'openai', model: 'gpt-nope' });
    app.agent('scout', { provider: 'openai' });
  }),
  logger,
});
const { tokens } = world;

beforeEach(() => {
  world.chat.script = toolThenText(
    'down_whoami',
    {},
    (result) => `You are ${JSON.parse(result).sub}.`,
  );
});

/** Ask the `finder` tool as the client `client`, with a progress token; the text and progress. */
async function ask(client: Awaited<ReturnType<typeof connect>>, prompt: string, name = 'finder') {
  const progress: string[] = [];
  const result = await client.client.callTool({ name, arguments: { prompt } }, undefined, {
    onprogress: ({ message }) => progress.push(message ?? ''),
  });
  return { text: textOf(result as Parameters<typeof textOf>[0]), progress };
}

describe('an agent served as a tool, acting for its caller', () => {
  test('a caller who cannot open URLs gets the sign-in link as -32042, before any model call', async () => {
    const bob = await connect(world.agent.running.url, tokens.bob);
    try {
      const error = await bob.call('finder', { prompt: 'Who am I?' }).catch((failure) => failure);
      expect(error).toBeInstanceOf(UrlElicitationRequiredError);
      const link = new URL((error as UrlElicitationRequiredError).elicitations[0]?.url ?? '');
      expect(link.origin + link.pathname).toBe(`${world.agent.origin}/internal/oauth/connect`);
      expect(world.chat.received).toEqual([]);
    } finally {
      await bob.close();
    }
  });

  test('the login the loop needs reaches the caller by URL elicitation; the answer is from their account, with progress', async () => {
    const alice = await connect(world.agent.running.url, tokens.alice, { signInAs: 'alice-down' });
    try {
      const answer = await ask(alice, 'Who am I?');
      expect(answer.text).toBe('You are alice-down.');
      expect(alice.log.requests).toEqual([expect.objectContaining({ mode: 'url' })]);
      expect(answer.progress).toEqual([
        'finder: asking the model',
        'finder: calling down_whoami',
        'finder: asking the model',
      ]);
      // The model: the app's key, the agent's instruction and the caller's prompt.
      const [first] = world.chat.received;
      expect(first?.authorization).toBe(`Bearer ${MODEL_KEY}`);
      expect(first?.body.messages.slice(0, 2)).toEqual([
        { role: 'system', content: 'You find things.' },
        { role: 'user', content: 'Who am I?' },
      ]);
      // Neither the caller's token nor its downstream token reaches the model.
      const downstreamTokens = world.realm.server.calls.map((call) => call.token ?? '');
      expect(downstreamTokens.length).toBeGreaterThan(0);
      const sent = JSON.stringify(world.chat.received);
      for (const secret of [tokens.alice ?? '', ...downstreamTokens]) {
        expect(sent).not.toContain(secret);
      }
    } finally {
      await alice.close();
    }
  });

  test('two callers asking at once get answers from their own accounts', async () => {
    const bob = await connect(world.agent.running.url, tokens.bob, { signInAs: 'bob-down' });
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      // Bob signs in on his first call (Alice did before).
      expect((await ask(bob, 'Who am I?')).text).toBe('You are bob-down.');
      world.chat.script = toolThenText(
        'down_meet',
        {},
        (result) => `You are ${JSON.parse(result).sub}.`,
      );
      meeting.subs.length = 0;
      const [forAlice, forBob] = await Promise.all([
        ask(alice, 'Who am I?'),
        ask(bob, 'Who am I?'),
      ]);
      expect(forAlice.text).toBe('You are alice-down.');
      expect(forBob.text).toBe('You are bob-down.');
      expect(meeting.subs.sort()).toEqual(['alice-down', 'bob-down']);
    } finally {
      await Promise.all([alice.close(), bob.close()]);
    }
  });

  test("a model id the provider rejects: the caller reads the provider's text and status, without the key", async () => {
    world.chat.script = (request) =>
      request.body.model === 'gpt-nope'
        ? { status: 404, error: `The model gpt-nope does not exist (key ${MODEL_KEY}).` }
        : { text: 'not this model' };
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      const result = await alice.call('guesser', { prompt: 'Guess.' });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toBe(
        'The openai model failed: The model gpt-nope does not exist (key [redacted]). (HTTP 404)',
      );
      expect(JSON.stringify(result)).not.toContain(MODEL_KEY);
      // The app's log has the provider's text too, not the key.
      expect(warnings.at(-1)).toContain('The model gpt-nope does not exist (key [redacted]).');
      expect(warnings.join('\n')).not.toContain(MODEL_KEY);
      expect(world.chat.received.map((request) => request.body.model)).toEqual(['gpt-nope']);
    } finally {
      await alice.close();
    }
  });

  test('an agent of agents.definitions: its instruction and servers come from the configuration', async () => {
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      const { tools } = await alice.client.listTools();
      // The description is public: the instruction stays the agent's own.
      expect(tools.find((tool) => tool.name === 'scout')?.description).toBe('Ask the scout agent.');
      world.chat.received.length = 0;
      const answer = await ask(alice, 'Who am I?', 'scout');
      expect(answer.text).toBe('You are alice-down.');
      expect(world.chat.received[0]?.body.messages[0]).toEqual({
        role: 'system',
        content: 'You scout.',
      });
      expect(answer.progress).toContain('scout: calling down_whoami');
    } finally {
      await alice.close();
    }
  });

  test('a prompt longer than 32,000 characters is refused before the model is asked', async () => {
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      const outcome = await alice
        .call('finder', { prompt: 'x'.repeat(DEFAULT_MAX_PROMPT_CHARS + 1) })
        .then(textOf, String);
      expect(outcome).toContain('The prompt is longer than 32000 characters.');
      expect(world.chat.received).toEqual([]);
      // The bound itself is fine.
      world.chat.script = () => ({ text: 'Read it.' });
      const fits = await alice.call('finder', { prompt: 'x'.repeat(DEFAULT_MAX_PROMPT_CHARS) });
      expect(textOf(fits)).toBe('Read it.');
    } finally {
      await alice.close();
    }
  });

  test('a cancelled request stops the loop: the tool call is cancelled, the model asked nothing more', async () => {
    waiting = { started: Promise.withResolvers(), cancelled: Promise.withResolvers() };
    world.chat.script = toolThenText('down_wait', {}, () => 'the model was asked again');
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      const stop = new AbortController();
      const call = alice.client.callTool(
        { name: 'finder', arguments: { prompt: 'Wait.' } },
        undefined,
        { signal: stop.signal },
      );
      await waiting.started.promise;
      stop.abort();
      await expect(call).rejects.toThrow();
      await waiting.cancelled.promise;
      await waitFor('the loop to end', () =>
        infos.includes('agent "finder" was cancelled') ? true : undefined,
      );
      expect(world.chat.received).toHaveLength(1);
    } finally {
      await alice.close();
    }
  });
});

/** Start the `researcher` workflow as `client`; its state once it is no longer running. */
async function runWorkflow(
  client: Awaited<ReturnType<typeof connect>>,
  parameters: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const started = await client.call('workflows-researcher-run', { run_parameters: parameters });
  const { run_id } = JSON.parse(textOf(started)) as { run_id: string };
  return waitFor('the run to finish', async () => {
    const status = await client.call('workflows-get_status', { run_id });
    const state = JSON.parse(textOf(status)) as Record<string, unknown>;
    return state.status === 'running' ? undefined : state;
  });
}

describe('an agent served as a workflow', () => {
  test("a run answers with the starting caller's account", async () => {
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      const done = await runWorkflow(alice, { prompt: 'Who am I?' });
      expect(done).toMatchObject({ status: 'completed', result: 'You are alice-down.' });
    } finally {
      await alice.close();
    }
  });

  test('a run that needs a login ends with the link to sign in at', async () => {
    const carol = await connect(world.agent.running.url, tokens.carol);
    try {
      const done = await runWorkflow(carol, { prompt: 'Who am I?' });
      expect(done).toMatchObject({ status: 'error' });
      expect(String(done.error)).toMatch(
        new RegExp(
          `^Sign in to down .*Open ${world.agent.origin}/internal/oauth/connect\\?flow=\\S+, then run the workflow again\\.$`,
        ),
      );
      expect(world.chat.received).toEqual([]);
    } finally {
      await carol.close();
    }
  });

  test('run_parameters without a prompt: the run fails saying so', async () => {
    const alice = await connect(world.agent.running.url, tokens.alice);
    try {
      const done = await runWorkflow(alice, {});
      expect(done).toMatchObject({ status: 'error', error: expect.stringMatching(/prompt/) });
    } finally {
      await alice.close();
    }
  });
});

describe("a served agent's public face", () => {
  test('the description: the given one, else "Ask the NAME agent.", never the instruction', () => {
    const definition = new AppDefinition();
    definition.agent('secretive', { instruction: 'Private.', serverNames: [], provider: 'openai' });
    definition.agent('open', { serverNames: [], provider: 'openai' }, { description: 'Open.' });
    definition.agent(
      'quiet',
      { instruction: 'Private.', serverNames: [], provider: 'openai' },
      {
        as: 'workflow',
      },
    );
    expect(definition.tools.get('secretive')?.description).toBe('Ask the secretive agent.');
    expect(definition.tools.get('open')?.description).toBe('Open.');
    expect(definition.workflows.get('quiet')?.description).toBe('Ask the quiet agent.');
  });

  test('maxPromptChars bounds the prompt of the tool and of the workflow', async () => {
    const definition = new AppDefinition();
    const spec = { serverNames: [], provider: 'openai' };
    definition.agent('short', spec, { maxPromptChars: 5 });
    definition.agent('brief', spec, { as: 'workflow', maxPromptChars: 5 });
    const schema = definition.tools.get('short')?.inputSchema;
    expect(schema?.safeParse({ prompt: '12345' }).success).toBe(true);
    expect(schema?.safeParse({ prompt: '123456' }).success).toBe(false);
    const run = definition.workflows.get('brief')?.run;
    const context = { caller: undefined, signal: new AbortController().signal, runId: 'r' };
    expect(() => run?.({ prompt: '123456' }, context)).toThrow(
      'run_parameters.prompt is longer than 5 characters.',
    );
  });
});

describe('createApp checks its agents against the settings first', () => {
  test.each([
    ['a server not configured', { serverNames: ['nope'], provider: 'openai' }, 'SERVER_UNKNOWN'],
    ['an unknown provider', { serverNames: ['down'], provider: 'nope' }, 'MODEL_CONFIG'],
    [
      'a provider without its key',
      { serverNames: ['down'], provider: 'anthropic' },
      'MODEL_CONFIG',
    ],
  ])('%s', async (_, spec, code) => {
    const setup = defineApp((app) => {
      app.agent('finder', spec);
    });
    const settings = withModel(delegatedSettings({ realm: world.realm }));
    await expect(createApp({ settings, setup, env: {} })).rejects.toMatchObject({ code });
  });

  test('an agent whose definition agents.definitions lacks: CONFIG_INVALID, naming the defined ones', async () => {
    const setup = defineApp((app) => {
      app.agent('finder', { provider: 'openai' });
    });
    const settings = withModel(delegatedSettings({ realm: world.realm }));
    await expect(createApp({ settings, setup, env: {} })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message:
        'The served agent "finder" takes its instruction and servers from agents.definitions, which has no agent "finder" (defined: scout, lookout): add it there, or give the agent its serverNames.',
    });
  });

  test('definition: names the entry; what the spec gives wins over it', async () => {
    const definition = new AppDefinition();
    definition.agent('watch', { provider: 'openai', definition: 'lookout' });
    definition.agent('guard', { provider: 'openai', definition: 'scout', instruction: 'Guard.' });
    const settings = withModel(delegatedSettings({ realm: world.realm }));
    const app = await createApp({ settings, definition, env: {} });
    try {
      expect(definition.agents.get('watch')?.spec).toMatchObject({
        instruction: 'You look out.',
        serverNames: [],
      });
      expect(definition.agents.get('guard')?.spec).toMatchObject({
        instruction: 'Guard.',
        serverNames: ['down'],
      });
      expect(definition.tools.get('watch')?.description).toBe('Ask the watch agent.');
    } finally {
      await app.close();
    }
  });
});
