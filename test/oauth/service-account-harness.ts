/**
 * Shared pieces of the service-account tests (`grant_type: client_credentials`): the config of
 * one downstream server `svc` (with an optional secrets file), a recording `fetch`, a consent
 * that fails the test if anything asks it, and a dynamic registration of a confidential
 * client-credentials client at the development authorization server.
 */
import { join } from 'node:path';
import { exportPKCS8, type GenerateKeyPairResult, generateKeyPair } from 'jose';
import { expect } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import type { Settings } from '../../src/config/schema/settings.js';
import { McpAgentError } from '../../src/errors.js';
import type { Consent } from '../../src/oauth/consent.js';
import type { OAuthFetch } from '../../src/oauth/protocol/registration.js';
import { tempTree } from '../helpers/cli.js';

/** The `mcp.servers` name every service-account test uses. */
export const SERVER = 'svc';

/** Options of {@link serviceYaml}. */
export interface ServiceConfig {
  readonly url: string;
  readonly scopes?: readonly string[];
  /** More lines under `auth.oauth` (`grant_type: client_credentials` is always there). */
  readonly oauth?: readonly string[];
  readonly backend?: 'memory' | 'file';
}

/** A config with the one server {@link SERVER} using a service account. */
export function serviceYaml(options: ServiceConfig): string {
  const oauth = (options.oauth ?? []).map((line) => `          ${line}`).join('\n');
  return `
mcp:
  servers:
    ${SERVER}:
      transport: streamable_http
      url: ${options.url}
      auth:
        oauth:
          enabled: true
          grant_type: client_credentials
          scopes: [${(options.scopes ?? ['mcp:read']).join(', ')}]
${oauth}
oauth:
  loopback_ports: [49999]
  token_store:
    backend: ${options.backend ?? 'memory'}
    path: ./tokens.json
`;
}

/** A secrets file giving {@link SERVER} these `auth.oauth` values (YAML-quoted as JSON). */
export function serviceSecrets(values: Readonly<Record<string, string>>): string {
  const lines = Object.entries(values).map(
    ([key, value]) => `          ${key}: ${JSON.stringify(value)}`,
  );
  return `
mcp:
  servers:
    ${SERVER}:
      auth:
        oauth:
${lines.join('\n')}
`;
}

/** A config directory (config, secrets and other files) loaded the way the CLI loads it. */
export interface ServiceTree {
  readonly dir: string;
  readonly settings: Settings;
  write(path: string, text: string, mode?: number): string;
  cleanup(): void;
}

/** Write the files and load the settings from that directory. */
export function serviceTree(
  config: string,
  options: { secrets?: string; files?: Record<string, string> } = {},
): ServiceTree {
  const tree = tempTree({
    'mcp_agent.config.yaml': config,
    ...(options.secrets ? { 'mcp_agent.secrets.yaml': options.secrets } : {}),
    ...(options.files ?? {}),
  });
  try {
    const { settings } = loadSettings({
      cwd: tree.dir,
      env: {},
      homeDir: join(tree.dir, '.home-that-does-not-exist'),
      dotenv: false,
    });
    return { ...tree, settings };
  } catch (error) {
    tree.cleanup();
    throw error;
  }
}

/** One request a {@link recordingFetch} passed on. */
export interface RecordedRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  /** The form fields of a form body (empty otherwise). */
  readonly form: URLSearchParams;
  readonly body: string;
}

/** A `fetch` that records each request (body included) before passing it on. */
export function recordingFetch(): { fetch: OAuthFetch; requests: RecordedRequest[] } {
  const requests: RecordedRequest[] = [];
  const recording: OAuthFetch = async (input, init) => {
    const copy = new Request(input, init);
    const body = copy.body ? await copy.text() : '';
    const form = (copy.headers.get('content-type') ?? '').includes(
      'application/x-www-form-urlencoded',
    )
      ? new URLSearchParams(body)
      : new URLSearchParams();
    requests.push({ url: copy.url, method: copy.method, headers: copy.headers, form, body });
    return fetch(input, init);
  };
  return { fetch: recording, requests };
}

/** The token endpoint requests of a given grant type among `requests`. */
export function grantRequests(
  requests: readonly RecordedRequest[],
  grantType = 'client_credentials',
): RecordedRequest[] {
  return requests.filter(
    (request) => request.method === 'POST' && request.form.get('grant_type') === grantType,
  );
}

/** A consent that records, and throws, whenever anything asks a user. */
export function refusingConsent(): Consent & { readonly asked: string[] } {
  const asked: string[] = [];
  const refuse = (what: string): never => {
    asked.push(what);
    throw new Error(`a service account asked for consent (${what})`);
  };
  return {
    asked,
    mode: 'code',
    openReceiver: async () => refuse('openReceiver'),
    showAuthorizationUrl: async () => refuse('showAuthorizationUrl'),
    showDeviceCode: () => refuse('showDeviceCode'),
  };
}

/** A browser opener for the CLI that records, and refuses, every attempt. */
export function refusingBrowser(): ((url: URL) => Promise<boolean>) & { readonly opened: URL[] } {
  const opened: URL[] = [];
  const open = async (url: URL): Promise<boolean> => {
    opened.push(url);
    throw new Error('a service account opened a browser');
  };
  return Object.assign(open, { opened });
}

/** A confidential client-credentials client registered (RFC 7591) at the development AS. */
export interface RegisteredClient {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** Register a client allowed only `client_credentials`, authenticating with `method`. */
export async function registerServiceClient(
  issuer: string,
  method: 'client_secret_basic' | 'client_secret_post',
): Promise<RegisteredClient> {
  const response = await fetch(`${issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: `service (${method})`,
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      token_endpoint_auth_method: method,
    }),
  });
  const body = (await response.json()) as Record<string, unknown>;
  if (response.status !== 201 || typeof body.client_secret !== 'string') {
    throw new Error(`registration failed: ${response.status} ${JSON.stringify(body)}`);
  }
  return { clientId: String(body.client_id), clientSecret: body.client_secret };
}

/** Basic credentials as RFC 6749 §2.3.1 builds them (form-urlencoded id and secret). */
export function basicCredentials(clientId: string, clientSecret: string): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%20/g, '+');
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`).toString('base64')}`;
}

/** Signing algorithms the tests generate keys for. */
export type KeyAlg = 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA';

/** A key pair (extractable) and its PKCS#8 PEM. */
export async function keyPair(alg: KeyAlg): Promise<GenerateKeyPairResult & { pem: string }> {
  const pair = await generateKeyPair(alg, { extractable: true });
  return { ...pair, pem: await exportPKCS8(pair.privateKey) };
}

/** The base64 lines of a PEM (none may ever be printed). */
export function pemLines(pem: string): string[] {
  return pem.split('\n').filter((line) => line.length > 16 && !line.startsWith('-----'));
}

/** The rejection of `promise`, which must be an McpAgentError. */
export async function failure(promise: Promise<unknown>): Promise<McpAgentError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(McpAgentError);
  return error as McpAgentError;
}
