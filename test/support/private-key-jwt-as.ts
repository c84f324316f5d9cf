/**
 * A small authorization server for `private_key_jwt` service accounts (RFC 7523 §2.2), which the
 * development authorization server (oidc-provider configured with `clientAuthMethods: none,
 * client_secret_basic, client_secret_post`) does not accept. It serves RFC 8414 metadata, a JWKS
 * and a token endpoint for `client_credentials` that VERIFIES each client assertion with jose
 * against the client's public key: signature, `alg`, `kid`, iss = sub = client_id, aud = issuer,
 * a lifetime of at most 60 s still running, and a `jti` never seen before. Good assertions get an
 * RFC 9068 JWT access token for the requested `resource`, which the protected MCP server accepts.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import {
  type CryptoKey,
  decodeProtectedHeader,
  exportJWK,
  generateKeyPair,
  type JWK,
  type JWTPayload,
  jwtVerify,
  type KeyObject,
  type ProtectedHeaderParameters,
  SignJWT,
} from 'jose';

/** The assertion type of RFC 7523 §2.2. */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** A client the server knows: its public key and what its assertions must carry. */
export interface JwtClient {
  readonly clientId: string;
  readonly publicKey: CryptoKey | KeyObject | JWK;
  /** The `alg` its assertions must use. */
  readonly alg: string;
  /** The `kid` header its assertions must carry (none checked when undefined). */
  readonly kid?: string;
}

/** One token request as the server received it. */
export interface JwtTokenRequest {
  readonly method: string;
  readonly path: string;
  /** `authorization` and `content-type`, when sent. */
  readonly headers: Readonly<Record<string, string>>;
  /** The form fields. */
  readonly form: Readonly<Record<string, string>>;
  /** The assertion's protected header and claims (decoded, verified or not). */
  header?: ProtectedHeaderParameters;
  claims?: JWTPayload;
  /** Why the assertion was refused; undefined when it was accepted. */
  refusal?: string;
  status?: number;
}

/** A running {@link startPrivateKeyJwtServer}. */
export interface PrivateKeyJwtServer {
  /** `http://127.0.0.1:<port>` */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  /** Token endpoint requests, in order. */
  readonly requests: JwtTokenRequest[];
  /** Every request's path (metadata and JWKS included), in order. */
  readonly paths: string[];
  /** Add (or replace) a client. */
  addClient(client: JwtClient): void;
  close(): Promise<void>;
}

/** Start a {@link PrivateKeyJwtServer} on a free loopback port. */
export async function startPrivateKeyJwtServer(
  options: {
    readonly clients?: readonly JwtClient[];
    /** Access token lifetime, seconds. Default 3600. */
    readonly accessTokenTtl?: number;
  } = {},
): Promise<PrivateKeyJwtServer> {
  const ttl = options.accessTokenTtl ?? 3600;
  const clients = new Map<string, JwtClient>();
  for (const client of options.clients ?? []) clients.set(client.clientId, client);
  const requests: JwtTokenRequest[] = [];
  const paths: string[] = [];
  const seenJti = new Set<string>();
  const signing = await generateKeyPair('ES256', { extractable: true });
  const kid = randomUUID();
  const publicJwk = { ...(await exportJWK(signing.publicKey)), kid, alg: 'ES256', use: 'sig' };
  const sockets = new Set<Socket>();

  const http = createServer();
  http.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const tokenEndpoint = `${issuer}/token`;

  const metadata = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: tokenEndpoint,
    jwks_uri: `${issuer}/jwks`,
    grant_types_supported: ['client_credentials'],
    response_types_supported: ['code'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['private_key_jwt'],
    token_endpoint_auth_signing_alg_values_supported: [
      'RS256',
      'RS384',
      'PS256',
      'ES256',
      'ES384',
      'EdDSA',
    ],
    scopes_supported: ['mcp:read', 'mcp:write'],
  };

  const json = (res: ServerResponse, status: number, body: unknown): void => {
    res
      .writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      .end(JSON.stringify(body));
  };

  /** Why `form`'s assertion is refused, or undefined; fills in `entry`. */
  const check = async (
    form: Record<string, string>,
    entry: JwtTokenRequest,
  ): Promise<string | undefined> => {
    if (entry.headers.authorization !== undefined) return 'an Authorization header was sent too';
    if (form.client_secret !== undefined) return 'a client_secret was sent';
    if (form.client_assertion_type !== JWT_BEARER) return 'wrong client_assertion_type';
    const assertion = form.client_assertion;
    if (!assertion) return 'no client_assertion';
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(assertion);
    } catch {
      return 'the assertion is not a JWS';
    }
    entry.header = header;
    const clientId = form.client_id;
    const client = clientId ? clients.get(clientId) : undefined;
    if (!client) return `unknown client ${clientId ?? '(none)'}`;
    if (client.kid !== undefined && header.kid !== client.kid) return `unknown kid ${header.kid}`;
    if (header.alg !== client.alg) return `alg ${header.alg}, expected ${client.alg}`;
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(assertion, client.publicKey, {
        issuer: client.clientId,
        subject: client.clientId,
        audience: issuer,
        algorithms: [client.alg],
        clockTolerance: 5,
      }));
    } catch (error) {
      return `the assertion does not verify (${error instanceof Error ? error.message : 'error'})`;
    }
    entry.claims = claims;
    const now = Math.floor(Date.now() / 1000);
    if (typeof claims.exp !== 'number' || claims.exp <= now) return 'exp is not in the future';
    if (typeof claims.iat !== 'number' || claims.exp - claims.iat > 60) {
      return 'the assertion lives longer than 60 s';
    }
    if (typeof claims.jti !== 'string' || claims.jti === '') return 'no jti';
    if (seenJti.has(claims.jti)) return 'jti replayed';
    seenJti.add(claims.jti);
    return undefined;
  };

  const token = async (req: IncomingMessage, res: ServerResponse, path: string) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const form = Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString('utf8')));
    const headers: Record<string, string> = {};
    for (const name of ['authorization', 'content-type']) {
      const value = req.headers[name];
      if (typeof value === 'string') headers[name] = value;
    }
    const entry: JwtTokenRequest = { method: req.method ?? '', path, headers, form };
    requests.push(entry);
    res.on('finish', () => {
      entry.status = res.statusCode;
    });
    if (form.grant_type !== 'client_credentials') {
      json(res, 400, { error: 'unsupported_grant_type' });
      return;
    }
    const refusal = await check(form, entry);
    if (refusal !== undefined) {
      entry.refusal = refusal;
      json(res, 401, {
        error: 'invalid_client',
        error_description: 'client authentication failed',
      });
      return;
    }
    const clientId = form.client_id ?? '';
    const scope = form.scope ?? '';
    const resource = form.resource;
    const accessToken = await new SignJWT({ scope, client_id: clientId })
      .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
      .setIssuer(issuer)
      .setSubject(clientId)
      .setAudience(resource ?? issuer)
      .setIssuedAt()
      .setExpirationTime(`${ttl}s`)
      .setJti(randomUUID())
      .sign(signing.privateKey);
    json(res, 200, {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ttl,
      ...(scope ? { scope } : {}),
    });
  };

  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    paths.push(path);
    if (
      req.method === 'GET' &&
      (path === '/.well-known/oauth-authorization-server' ||
        path === '/.well-known/openid-configuration')
    ) {
      json(res, 200, metadata);
      return;
    }
    if (req.method === 'GET' && path === '/jwks') {
      json(res, 200, { keys: [publicJwk] });
      return;
    }
    if (req.method === 'POST' && path === '/token') {
      token(req, res, path).catch(() => {
        if (!res.headersSent) json(res, 500, { error: 'server_error' });
      });
      return;
    }
    json(res, 404, { error: 'not_found' });
  });

  return {
    issuer,
    tokenEndpoint,
    requests,
    paths,
    addClient(client) {
      clients.set(client.clientId, client);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}
