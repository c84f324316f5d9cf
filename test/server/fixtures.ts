/**
 * Shared pieces of the inbound (resource server) tests: a local HTTP server on 127.0.0.1:0 whose
 * answer the test switches (and that can refuse connections), signing keys the test controls,
 * hand-made JWS, and a recording logger.
 */
import { constants, createHash, createHmac, KeyObject, sign as nodeSign } from 'node:crypto';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CryptoKey, exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import type { FetchLike } from '../../src/fetch.js';
import type { Logger } from '../../src/logger.js';

/** One request the fake server received. */
export interface Recorded {
  readonly method: string;
  /** Path and query. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** How the fake server answers a request. */
export type Handler = (request: Recorded, res: ServerResponse) => void;

/** A switchable HTTP server on 127.0.0.1. */
export interface FakeServer {
  readonly origin: string;
  readonly port: number;
  url(path: string): string;
  readonly requests: Recorded[];
  /** Requests to `path` (path without query), or all. */
  count(path?: string): number;
  handler: Handler;
  /** Stop listening: new connections are refused (ECONNREFUSED) until {@link up}. */
  down(): Promise<void>;
  /** Listen again on the same port. */
  up(): Promise<void>;
  close(): Promise<void>;
}

const drips = new WeakMap<FakeServer, Set<NodeJS.Timeout>>();

/** Start a {@link FakeServer} answering with `handler`. */
export async function startFakeServer(handler: Handler): Promise<FakeServer> {
  const requests: Recorded[] = [];
  const timers = new Set<NodeJS.Timeout>();
  let server: Server | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const created = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const recorded: Recorded = {
          method: req.method ?? '',
          path: req.url ?? '/',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        };
        requests.push(recorded);
        handle.handler(recorded, res);
      });
    });
    await new Promise<void>((resolve, reject) => {
      created.once('error', reject);
      created.listen(port, '127.0.0.1', () => resolve());
    });
    server = created;
    port = (created.address() as AddressInfo).port;
  };
  const stop = async (): Promise<void> => {
    for (const timer of timers) clearInterval(timer);
    timers.clear();
    const current = server;
    server = undefined;
    if (!current) return;
    current.closeAllConnections();
    await new Promise<void>((resolve) => current.close(() => resolve()));
  };
  await listen();
  const handle: FakeServer = {
    origin: `http://127.0.0.1:${port}`,
    port,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    requests,
    count: (path) =>
      path === undefined
        ? requests.length
        : requests.filter((r) => r.path.split('?')[0] === path).length,
    handler,
    down: stop,
    up: listen,
    close: stop,
  };
  drips.set(handle, timers);
  return handle;
}

/** Answer with `body` (an object is sent as JSON). */
export function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** Faults a verification endpoint can show. */
export type Fault =
  | 'reset'
  | '500'
  | '401'
  | '403'
  | 'html'
  | 'invalid-json'
  | 'huge'
  | 'huge-chunked'
  | 'redirect'
  | 'slow'
  | 'drip';

/** Answer `res` with `fault` (`slow` never answers; `drip` sends a byte now and then). */
export function fault(server: FakeServer, res: ServerResponse, kind: Fault): void {
  switch (kind) {
    case 'reset':
      res.socket?.destroy();
      return;
    case '500':
    case '401':
    case '403':
      send(res, Number(kind), { error: 'nope' });
      return;
    case 'html':
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!DOCTYPE html><html><body>Sign in</body></html>');
      return;
    case 'invalid-json':
      send(res, 200, '{"keys": [', {});
      return;
    case 'huge':
      send(res, 200, JSON.stringify({ keys: [], pad: 'x'.repeat(5 * 1024 * 1024) }));
      return;
    case 'huge-chunked': {
      // No content-length: the cap must count the bytes as they come.
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      const chunk = ' '.repeat(64 * 1024);
      for (let i = 0; i < 80; i++) res.write(chunk);
      res.end('{"keys":[]}');
      return;
    }
    case 'redirect':
      res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' });
      res.end();
      return;
    case 'slow':
      // Never answers; closed with the server.
      return;
    case 'drip': {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const timer = setInterval(() => res.write(' '), 20);
      drips.get(server)?.add(timer);
      res.on('close', () => clearInterval(timer));
      return;
    }
  }
}

/** A signing key the test controls, with its public JWK (kid, alg, use set). */
export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
  readonly jwk: JWK;
}

/** A fresh key pair for `alg` (ES256 by default: fast). */
export async function testKey(
  kid: string,
  alg = 'ES256',
  options: { modulusLength?: number; jwk?: Partial<JWK> } = {},
): Promise<TestKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(options.modulusLength ? { modulusLength: options.modulusLength } : {}),
  });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig', ...options.jwk };
  return { kid, alg, privateKey, publicKey, jwk };
}

/** base64url of a string or bytes. */
export function b64u(value: string | Uint8Array): string {
  return Buffer.from(value).toString('base64url');
}

/**
 * A compact JWS built by hand: `header` and `payload` are JSON-encoded unless given as raw text,
 * signed with `key` for `alg` (ES*, RS*, PS*, or HS* with `secret`); `alg` none signs nothing.
 */
export function rawJws(
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
  signer: { key?: CryptoKey | KeyObject; secret?: string | Buffer; alg: string },
): string {
  const h = b64u(typeof header === 'string' ? header : JSON.stringify(header));
  const p = b64u(typeof payload === 'string' ? payload : JSON.stringify(payload));
  const input = `${h}.${p}`;
  const { alg } = signer;
  if (/^none$/i.test(alg)) return `${input}.`;
  if (alg.startsWith('HS')) {
    const mac = createHmac(`sha${alg.slice(2)}`, signer.secret ?? '')
      .update(input)
      .digest();
    return `${input}.${b64u(mac)}`;
  }
  if (!signer.key) throw new Error('a key is needed');
  const key = signer.key instanceof KeyObject ? signer.key : KeyObject.from(signer.key);
  const hash = `sha${alg.slice(2)}`;
  const signature = alg.startsWith('ES')
    ? nodeSign(hash, Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
    : alg.startsWith('PS')
      ? nodeSign(hash, Buffer.from(input), {
          key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: 32,
        })
      : nodeSign(hash, Buffer.from(input), key);
  return `${input}.${b64u(signature)}`;
}

/** Claims and header of {@link signToken}; `undefined` removes a default. */
export interface TokenParts {
  readonly claims?: Record<string, unknown>;
  readonly header?: Record<string, unknown>;
}

/** A JWT access token from `key` with good defaults at `nowMs` (jose `SignJWT`). */
export function signToken(
  key: TestKey,
  nowMs: number,
  defaults: { issuer: string; audience: string },
  parts: TokenParts = {},
): Promise<string> {
  const now = Math.floor(nowMs / 1000);
  const claims: Record<string, unknown> = {
    iss: defaults.issuer,
    aud: defaults.audience,
    sub: 'alice',
    client_id: 'client-1',
    jti: createHash('sha256').update(String(Math.random())).digest('hex').slice(0, 16),
    scope: 'mcp:tools',
    iat: now,
    exp: now + 3600,
    ...parts.claims,
  };
  for (const [name, value] of Object.entries(claims)) {
    if (value === undefined) delete claims[name];
  }
  const header: Record<string, unknown> = {
    alg: key.alg,
    kid: key.kid,
    typ: 'at+jwt',
    ...parts.header,
  };
  for (const [name, value] of Object.entries(header)) {
    if (value === undefined) delete header[name];
  }
  return new SignJWT(claims).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** The global fetch, recording every URL it is asked for. */
export function recordingFetch(): FetchLike & { readonly urls: string[] } {
  const urls: string[] = [];
  const fetch = (input: string | URL, init?: RequestInit) => {
    urls.push(String(input));
    return globalThis.fetch(input, init);
  };
  return Object.assign(fetch, { urls });
}

/** A logger that keeps its warnings. */
export function recordingLogger(): Logger & { readonly warnings: string[] } {
  const warnings: string[] = [];
  return {
    warnings,
    debug() {},
    info() {},
    warn(message: string) {
      warnings.push(message);
    },
    error(message: string) {
      warnings.push(message);
    },
  };
}
