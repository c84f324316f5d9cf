/**
 * The world of the served-agent tests (`served*.test.ts`): the callers' authorization server
 * (`Inbound`), a protected MCP server of another realm, the scripted OpenAI stand-in the agent's
 * model talks to (the app's `openai:` section), the app served with the test's `setup`, and an
 * access token per caller. {@link servedWorld} starts it before the file's tests, closes it
 * after, and empties the stand-in's record before each test.
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import type { CreateAppOptions } from '../../src/app/create-app.js';
import { type Settings, settingsSchema } from '../../src/config/schema/settings.js';
import {
  delegatedSettings,
  type Inbound,
  type Realm,
  type ServedAgent,
  serveAgent,
  startInbound,
  startRealm,
} from '../app/delegated-support.js';
import { userTokens } from '../server/serve-support.js';
import { type ScriptedChat, startScriptedChat } from './scripted-chat.js';

/** How the world is made; every part but `modelKey` and `setup` has a default. */
export interface ServedWorldOptions extends Pick<CreateAppOptions, 'setup' | 'logger'> {
  /** The `openai.api_key` of the app's settings. */
  readonly modelKey: string;
  /** The callers' authorization server. Default `startInbound()`. */
  readonly inbound?: () => Promise<Inbound>;
  /** The downstream realm. Default `startRealm()`. */
  readonly realm?: () => Promise<Realm>;
  /** The app's settings from the delegated ones with the `openai:` section. Default: as they are. */
  readonly settings?: (settings: Settings) => Settings;
  /** The callers, each with the scope of their token. Default alice, bob, carol (`mcp:tools`). */
  readonly users?: Readonly<Record<string, string | undefined>>;
}

/** The running world; its parts are there once the file's `beforeAll` has run. */
export interface ServedWorld {
  readonly inbound: Inbound;
  readonly realm: Realm;
  readonly chat: ScriptedChat;
  readonly agent: ServedAgent;
  /** Each caller's access token at the inbound authorization server, by name. */
  readonly tokens: Record<string, string>;
}

/** The `openai:` section of the app's settings: the stand-in `chat`, `gpt-4o`, the key `apiKey`. */
export function openaiSection(apiKey: string, chat: ScriptedChat): Settings['openai'] {
  return settingsSchema.parse({
    openai: { api_key: apiKey, base_url: `${chat.url}/v1`, default_model: 'gpt-4o' },
  }).openai;
}

const CALLERS = { alice: undefined, bob: undefined, carol: undefined };

/** Start the world before the file's tests (see the module) and close it after them. */
export function servedWorld(options: ServedWorldOptions): ServedWorld {
  const world = { tokens: {} } as { -readonly [K in keyof ServedWorld]: ServedWorld[K] };
  beforeAll(async () => {
    world.inbound = await (options.inbound ?? startInbound)();
    world.realm = await (options.realm ?? (() => startRealm()))();
    world.chat = await startScriptedChat();
    const { inbound, realm, chat } = world;
    const openai = openaiSection(options.modelKey, chat);
    const base = { ...delegatedSettings({ realm, inbound }), openai };
    const settings = options.settings?.(base) ?? base;
    const { setup, logger } = options;
    world.agent = await serveAgent(settings, inbound.port, { setup, ...(logger && { logger }) });
    for (const [user, scope] of Object.entries(options.users ?? CALLERS)) {
      const { accessToken } = await userTokens(inbound.as.issuer, inbound.resource, user, scope);
      world.tokens[user] = accessToken;
    }
  }, 30_000);
  afterAll(async () => {
    await world.agent?.close();
    await world.chat?.close();
    await world.realm?.close();
    await world.inbound?.as.close();
  });
  beforeEach(() => {
    world.chat.received.length = 0;
  });
  return world;
}
