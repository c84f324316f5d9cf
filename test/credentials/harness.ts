/**
 * Shared pieces of the credential-profile tests: a stand-in HTTP API on a loopback port that
 * records every request (method, URL, headers, body) and answers from per-path routes; a
 * `fetch` that records what it is asked to send before passing it on; profiles parsed with the
 * real `credentials:` schema; and the rejection of a promise as an McpAgentError.
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { inspect } from 'node:util';
import { expect } from 'vitest';
import { type CredentialProfile, credentialsSchema } from '../../src/config/schema/credentials.js';
import { CredentialProfiles } from '../../src/credentials/profiles.js';
import { McpAgentError } from '../../src/errors.js';
import type { FetchLike } from '../../src/fetch.js';

/** One request a {@link StandIn} received. */
export interface ReceivedRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** A route's answer to one request. */
export type Route = (request: ReceivedRequest, res: ServerResponse) => void;

/** A running stand-in API. */
export interface StandIn {
  /** `http://127.0.0.1:<port>` */
  readonly origin: string;
  /** `127.0.0.1:<port>` (what a profile's `hosts` lists). */
  readonly host: string;
  readonly requests: ReceivedRequest[];
  /** Answer `path` with `route` (other paths: 200 with a JSON echo of the request). */
  route(path: string, route: Route): void;
  close(): Promise<void>;
}

/** A route answering `status` with `location`. */
export function redirect(status: number, location: string): Route {
  return (_request, res) => {
    res.writeHead(status, { location, 'content-type': 'text/plain' }).end('moved');
  };
}

/** Start a {@link StandIn} on a free loopback port. */
export async function startStandIn(name: string): Promise<StandIn> {
  const requests: ReceivedRequest[] = [];
  const routes = new Map<string, Route>();
  const sockets = new Set<Socket>();
  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '/',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(request);
      const path = new URL(request.url, 'http://stand-in').pathname;
      const route = routes.get(path);
      if (route) {
        route(request, res);
        return;
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ server: name, method: request.method, path }));
    });
  });
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    route: (path, route) => {
      routes.set(path, route);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

/** One request a {@link recordingFetch} was asked to send. */
export interface SentRequest {
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly body: string;
  /** The form fields of a form body (empty otherwise). */
  readonly form: URLSearchParams;
}

/** A `fetch` that records each request (body included) before passing it on. */
export function recordingFetch(): { fetch: FetchLike; sent: SentRequest[] } {
  const sent: SentRequest[] = [];
  const recording = (async (input: string | URL | Request, init?: RequestInit) => {
    const copy = new Request(input, init);
    const body = copy.body ? await copy.clone().text() : '';
    const form = (copy.headers.get('content-type') ?? '').includes(
      'application/x-www-form-urlencoded',
    )
      ? new URLSearchParams(body)
      : new URLSearchParams();
    sent.push({ url: copy.url, method: copy.method, headers: copy.headers, body, form });
    return fetch(input, init);
  }) as FetchLike;
  return { fetch: recording, sent };
}

/** Profiles parsed with the real `credentials:` schema (plain strings become secrets). */
export function profiles(raw: Record<string, unknown>): Record<string, CredentialProfile> {
  return credentialsSchema.parse(raw);
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

/** Every text form of `error` a log or a client might see (message, stack, causes). */
export function everyForm(error: unknown): string {
  const parts = [String(error), inspect(error, { depth: 8 })];
  if (error instanceof Error) {
    parts.push(error.message, error.stack ?? '');
    try {
      parts.push(JSON.stringify(error));
    } catch {
      // not serialisable
    }
  }
  return parts.join('\n');
}

/** HTTP Basic credentials as RFC 7617 builds them (UTF-8). */
export function basicHeader(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`, 'utf8').toString('base64')}`;
}

/** The api_key canary of the static profiles. */
export const API_KEY = 'CANARY-apikey-7f3q';
/** The bearer canary of the static profiles. */
export const TOKEN = 'CANARY-bearer-k2v9';
/** The Basic password canary of the static profiles. */
export const PASSWORD = 'CANARY-password-p4z1';

/** The canaries of {@link standardProfiles} that appear in `text`. */
export function leaks(text: string): string[] {
  return [API_KEY, TOKEN, PASSWORD].filter((canary) => text.includes(canary));
}

/** One profile of each static kind, bound to `host`. */
export function standardProfiles(host: string): Record<string, unknown> {
  return {
    weather: { type: 'api_key', api_key: API_KEY, hosts: [host] },
    weather_header: { type: 'api_key', api_key: API_KEY, header: 'X-Weather-Key', hosts: [host] },
    weather_query: { type: 'api_key', api_key: API_KEY, query: 'appid', hosts: [host] },
    github: { type: 'bearer', token: TOKEN, hosts: [host] },
    jira: { type: 'basic', username: 'svc-bot', password: PASSWORD, hosts: [host] },
  };
}

/**
 * `CredentialProfiles` over `raw`, sending through a {@link recordingFetch} (or through
 * `through`, e.g. Node's own fetch, when given; `sent` then stays empty).
 */
export function openProfiles(
  raw: Record<string, unknown>,
  through?: FetchLike,
): { credentials: CredentialProfiles; sent: SentRequest[] } {
  const recorded = recordingFetch();
  const credentials = new CredentialProfiles(profiles(raw), { fetch: through ?? recorded.fetch });
  return { credentials, sent: recorded.sent };
}
