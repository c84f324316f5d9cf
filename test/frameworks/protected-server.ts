/**
 * What the framework tests of `createAgentAuth` share: the interop app (tools `whoami`, `add`,
 * `admin_report`, the last needing `mcp:admin`) behind the development authorization server with
 * its login and consent pages, and a `createAgentAuth` configured for it as a user would (one
 * server `served`, `auth.oauth.enabled: true`), whose consent signs in headlessly as the person
 * at the browser, and whose `fetch` records what was asked of whom (never a secret).
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll } from 'vitest';
import {
  type AgentAuth,
  type AuthorizationRequiredError,
  createAgentAuth,
  handOverConsent,
} from '../../src/index.js';
import { movableClock, startInteropApp } from '../interop/support.js';
import { type ConsentLog, headlessConsent } from '../oauth/harness.js';
import { type RecordedRequest, recordingFetch } from '../peers/support/recording-fetch.js';
import { type ServedApp, signIn } from '../server/serve-support.js';
import { freePort } from '../support/net.js';

/** The configured name of the protected server. */
export const SERVER = 'served';

/** The protected app and the `createAgentAuth` of an agent that uses it. */
export interface ProtectedWorld {
  readonly served: ServedApp;
  readonly auth: AgentAuth;
  /** What the consent showed (authorization URLs, the scopes a step-up added). */
  readonly consent: ConsentLog;
  /** With `handOver`: each login handed over, as `onAuthorizationRequired` was told of it. */
  readonly handedOver: AuthorizationRequiredError[];
  /** Every request of the agent's `fetch` (token grants, MCP POSTs, their statuses). */
  readonly requests: RecordedRequest[];
  /** Who signs in at the next authorization. Default `alice`. */
  user: string;
  /** Move every in-process clock (the app's, the authorization server's, ours) forward. */
  advance(ms: number): void;
  /** Close `close` (a framework's client) after the suite, before the agent and the app. */
  closing(close: () => unknown): void;
}

/** Options of {@link protectedWorld}. */
export interface ProtectedWorldOptions {
  /**
   * `handOverConsent()` instead of the headless browser: a needed login fails at once with an
   * `AuthorizationRequiredError` carrying its URL ({@link signInHandedOver} completes it).
   */
  readonly handOver?: boolean;
}

/**
 * For the enclosing `describe`: before its tests, the app (on a movable clock) and
 * `createAgentAuth({ settings, consent, fetch })` on it; after them, everything closed, last
 * opened first. Returns the world of the running suite.
 */
export function protectedWorld(options: ProtectedWorldOptions = {}): () => ProtectedWorld {
  let world: ProtectedWorld | undefined;
  const cleanups: (() => unknown)[] = [];
  beforeAll(async () => {
    world = await startWorld(options, cleanups);
  }, 30_000);
  afterAll(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  return () => {
    if (!world) throw new Error('the protected world did not start');
    return world;
  };
}

async function startWorld(
  options: ProtectedWorldOptions,
  cleanups: (() => unknown)[],
): Promise<ProtectedWorld> {
  const clock = movableClock();
  cleanups.push(() => clock.restore());
  const served = await startInteropApp();
  cleanups.push(() => served.close());
  const recording = recordingFetch();
  const person = { user: 'alice' };
  const consent = headlessConsent({ browse: (url) => signIn(url, person.user) });
  const handedOver: AuthorizationRequiredError[] = [];
  const auth = createAgentAuth({
    settings: {
      mcp: {
        servers: {
          [SERVER]: {
            transport: 'streamable_http',
            url: served.resource,
            auth: { oauth: { enabled: true } },
          },
        },
      },
      oauth: { loopback_ports: [await freePort()] },
    },
    consent: options.handOver
      ? handOverConsent({ onAuthorizationRequired: (login) => handedOver.push(login) })
      : consent,
    fetch: recording.fetch,
  });
  cleanups.push(() => auth.close());
  return Object.assign(person, {
    served,
    auth,
    consent: consent.log,
    handedOver,
    requests: recording.log,
    advance: (ms: number) => clock.advance(ms),
    closing: (close: () => unknown) => {
      cleanups.push(close);
    },
  });
}

/** The token grants the agent sent (`authorization_code`, `refresh_token`), in order. */
export function grantsOf(requests: readonly RecordedRequest[]): string[] {
  return requests.flatMap((request) => (request.grantType ? [request.grantType] : []));
}

/**
 * The person's half of a handed-over login: sign in as `user` at the error's authorization URL;
 * returns the address the browser was redirected to, for `completeLogin`.
 */
export async function signInHandedOver(authorizationUrl: string, user = 'alice'): Promise<URL> {
  const redirectUri = new URL(authorizationUrl).searchParams.get('redirect_uri') ?? '';
  return (await signIn(authorizationUrl, user, { stopAtRedirectUri: redirectUri })).finalUrl;
}

const root = new URL('../../', import.meta.url);

/**
 * The recipe `examples/frameworks/NAME` as `docs/frameworks.md` must show it: imported from the
 * package (`mcp-agent-ts`) instead of the sources. And the `ts` block of the doc whose first line
 * is `// NAME` (undefined when there is none), so a test proves the doc shows the tested code.
 */
export function recipe(name: string): { readonly example: string; readonly inDocs?: string } {
  const example = readFileSync(new URL(`examples/frameworks/${name}`, root), 'utf8').replaceAll(
    "'../../src/index.js'",
    "'mcp-agent-ts'",
  );
  const doc = readFileSync(new URL('docs/frameworks.md', root), 'utf8');
  const blocks = [...doc.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => match[1] ?? '');
  const inDocs = blocks.find((block) => block.startsWith(`// ${name}\n`));
  return inDocs === undefined ? { example } : { example, inDocs };
}
