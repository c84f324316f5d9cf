/**
 * Shared pieces of the client registration tests: authorization server metadata, a registration
 * endpoint answering from a function, and `resolveClient` options on a fresh store.
 */
import type { AuthorizationServer } from 'oauth4webapi';
import type { ResolveClientOptions } from '../../src/oauth/clients.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RegistrationStore } from '../../src/stores/registrations.js';

export const ISSUER = 'https://as.example.com';
export const OTHER_ISSUER = 'https://other-as.example.com';
export const LOOPBACK = 'http://127.0.0.1:33418/callback';
export const WEB = 'https://app.example.com/oauth/callback';
export const CIMD = 'https://client.example.com/client.json';
export const CONFIG_PATH = 'mcp.servers.github.auth.oauth';
export const DCR_SECRET = 'CANARY-dcr-secret-4f1e';
export const CONFIGURED_SECRET = 'CANARY-configured-secret-77aa';

/** Metadata overrides; an `undefined` value removes the field. */
export type Overrides = {
  readonly [K in keyof AuthorizationServer]?: AuthorizationServer[K] | undefined;
};

/** Authorization server metadata for `issuer`, with a registration endpoint unless overridden. */
export function metadata(extra: Overrides = {}, issuer: string = ISSUER): AuthorizationServer {
  const out: Record<string, unknown> = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    registration_endpoint: `${issuer}/register`,
    code_challenge_methods_supported: ['S256'],
    ...extra,
  };
  for (const [name, value] of Object.entries(out)) if (value === undefined) delete out[name];
  return out as AuthorizationServer;
}

export function json(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json' },
  });
}

export interface Sent {
  readonly url: string;
  readonly method: string | undefined;
  readonly body: Record<string, unknown>;
}

/** A registration endpoint answering with `answer` (201 + a fresh client by default). */
export function registrar(answer?: (sent: Sent, index: number) => Response | Promise<Response>): {
  fetch: OAuthFetch;
  sent: Sent[];
} {
  const sent: Sent[] = [];
  const fetch: OAuthFetch = async (input, init) => {
    const entry: Sent = {
      url: String(input),
      method: init?.method,
      body: typeof init?.body === 'string' ? JSON.parse(init.body) : {},
    };
    sent.push(entry);
    const index = sent.length - 1;
    return answer
      ? answer(entry, index)
      : json({ client_id: `dcr-client-${index + 1}`, ...entry.body }, 201);
  };
  return { fetch, sent };
}

/** A fetch that must not be called. */
export const noFetch: OAuthFetch = async (input) => {
  throw new Error(`unexpected request to ${String(input)}`);
};

export function store(): RegistrationStore {
  return new RegistrationStore(new MemoryKeyValueStore());
}

export function options(overrides: Partial<ResolveClientOptions> = {}): ResolveClientOptions {
  return {
    as: metadata(),
    redirectUri: LOOPBACK,
    registrations: store(),
    fetch: noFetch,
    clientName: 'mcp-agent-ts test',
    configPath: CONFIG_PATH,
    server: 'github',
    ...overrides,
  };
}
