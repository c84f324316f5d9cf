import { generateKeyPair, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import Provider, {
  type Adapter,
  type AdapterPayload,
  type ClientMetadata,
  type Configuration,
  errors,
  type KoaContextWithOIDC,
  type ResourceServer,
} from 'oidc-provider';
import { approveDevice } from './browser.js';

/** Every scope the server knows (`scopes_supported`). */
export const AS_SCOPES = [
  'openid',
  'offline_access',
  'mcp:read',
  'mcp:write',
  'mcp:admin',
] as const;

/** The scopes granted for a resource (they end up in the JWT access token's `scope`). */
export const RESOURCE_SCOPES = ['mcp:read', 'mcp:write', 'mcp:admin'] as const;

/** Request headers kept in {@link AuthorizationServerRequest.headers} (lower-case names). */
const RECORDED_HEADERS = ['authorization', 'content-type', 'accept', 'dpop', 'origin'] as const;

/** One request as the authorization server received it. Secrets are kept verbatim. */
export interface AuthorizationServerRequest {
  readonly method: string;
  /** The path as requested (before any rewrite, e.g. of RFC 8414 discovery). */
  readonly path: string;
  /** Query parameters; a repeated parameter becomes an array. */
  readonly query: Readonly<Record<string, string | string[]>>;
  /**
   * The parsed body (form fields, or the JSON of a registration request); `undefined` for requests
   * without one and for the interaction routes. Filled in once the provider has read it.
   */
  body: Readonly<Record<string, unknown>> | undefined;
  /** The {@link RECORDED_HEADERS} the request carried. */
  readonly headers: Readonly<Record<string, string>>;
  /** The response status, once the response is finished. */
  status: number | undefined;
}

/** Options of {@link startAuthorizationServer}. */
export interface AuthorizationServerOptions {
  /** Access token lifetime in seconds. Default 3600. */
  readonly accessTokenTtl?: number;
  /** Refresh token lifetime in seconds. Default 14 days. */
  readonly refreshTokenTtl?: number;
  /** The account every interaction logs in. Default `alice`. */
  readonly accountId?: string;
  /** Pre-registered clients (RFC 7591 metadata, e.g. a confidential one with `client_secret`). */
  readonly clients?: readonly ClientMetadata[];
  /** Open dynamic client registration at `/reg`. Default true; false is GitHub-style. */
  readonly registration?: boolean;
  /**
   * `true` (default): RFC 8707, JWT access tokens whose `aud` is the requested resource.
   * `false`: Entra-style; any request carrying `resource` is refused with `invalid_target`
   * (tokens then get {@link AuthorizationServer.defaultResource} as audience, or are opaque).
   */
  readonly resourceIndicators?: boolean;
  /** Audience for requests without `resource`; see {@link AuthorizationServer.defaultResource}. */
  readonly defaultResource?: string;
  /**
   * Which metadata documents are served. Default `both`: RFC 8414
   * `/.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
   */
  readonly discovery?: 'both' | 'openid-configuration' | 'oauth-authorization-server';
  /** `interval` (seconds) put in device authorization responses; null leaves it out. Default 1. */
  readonly deviceInterval?: number | null;
  /** `auto`: every device authorization is approved by a headless user at once. Default manual. */
  readonly deviceApproval?: 'manual' | 'auto';
  /** Called with each request before it is handled; a promise returned holds it until settled. */
  readonly hold?: (request: AuthorizationServerRequest) => Promise<void> | undefined;
}

/** An oidc-provider authorization server on 127.0.0.1 whose user approves everything at once. */
export interface AuthorizationServer {
  /** `http://127.0.0.1:<port>` (no trailing slash) */
  readonly issuer: string;
  readonly port: number;
  /** `path` resolved against the issuer. */
  url(path: string): string;
  readonly provider: Provider;
  readonly requests: AuthorizationServerRequest[];
  /** Errors oidc-provider reported as `server_error`, and failed automatic device approvals. */
  readonly serverErrors: Error[];
  /** Audience of tokens requested without `resource`; undefined gives opaque tokens. */
  defaultResource: string | undefined;
  /** `deny`: interactions end with `access_denied` instead of approving. */
  setApproval(mode: 'approve' | 'deny'): void;
  /**
   * Restart on the same port with a fresh in-memory adapter: every dynamic registration, grant,
   * token and session is forgotten; the signing keys and the configured clients stay (they come
   * from its configuration). {@link requests} keeps growing across restarts.
   */
  restart(): Promise<void>;
  close(): Promise<void>;
}

/** Start an {@link AuthorizationServer} on a free port. */
export async function startAuthorizationServer(
  options: AuthorizationServerOptions = {},
): Promise<AuthorizationServer> {
  const accessTokenTtl = options.accessTokenTtl ?? 3600;
  const accountId = options.accountId ?? 'alice';
  const resourceIndicators = options.resourceIndicators ?? true;
  const discovery = options.discovery ?? 'both';
  const deviceInterval = options.deviceInterval === undefined ? 1 : options.deviceInterval;
  const requests: AuthorizationServerRequest[] = [];
  const recorded = new WeakMap<IncomingMessage, AuthorizationServerRequest>();
  const serverErrors: Error[] = [];
  let approval: 'approve' | 'deny' = 'approve';

  let http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  const issuer = `http://127.0.0.1:${port}`;
  const keys = [await signingKey()];

  const resourceServer = (ctx: KoaContextWithOIDC, indicator: string): ResourceServer => {
    if (!resourceIndicators && carriesResource(ctx)) {
      throw new errors.InvalidTarget('the resource parameter is not supported');
    }
    return {
      scope: RESOURCE_SCOPES.join(' '),
      audience: indicator,
      accessTokenTTL: accessTokenTtl,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: 'RS256' } },
    };
  };

  const configuration = (): Configuration => ({
    adapter: memoryAdapter(),
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: [...(options.clients ?? [])],
    scopes: [...AS_SCOPES],
    responseTypes: ['code'],
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post'],
    pkce: { methods: ['S256'], required: () => true },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    clientBasedCORS: () => true,
    renderError: (ctx, out) => {
      ctx.type = 'json';
      ctx.body = out;
    },
    interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
    // Refresh tokens for every client allowed the grant, offline_access or not; always rotated.
    issueRefreshToken: (_ctx, client) => client.grantTypeAllowed('refresh_token'),
    rotateRefreshToken: true,
    expiresWithSession: () => false,
    ttl: {
      AccessToken: accessTokenTtl,
      AuthorizationCode: 60,
      ClientCredentials: accessTokenTtl,
      DeviceCode: 600,
      BackchannelAuthenticationRequest: 600,
      IdToken: 3600,
      RefreshToken: options.refreshTokenTtl ?? 14 * 24 * 3600,
      Interaction: 3600,
      Session: 14 * 24 * 3600,
      Grant: 14 * 24 * 3600,
    },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      registration: { enabled: options.registration ?? true, initialAccessToken: false },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        allowedPolicy: (ctx, client, token) =>
          client.clientAuthMethod !== 'none' || token.clientId === ctx.oidc.client?.clientId,
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, out) => {
          ctx.body = page('Enter code', `${out ? `<p>${out.error}</p>` : ''}${form}`);
        },
        userCodeConfirmSource: (ctx, form, _client, _info, userCode) => {
          ctx.body = page('Confirm device', `<p>${userCode}</p>${form}`);
        },
        successSource: (ctx) => {
          ctx.body = page('Signed in', '<p>Device approved.</p>');
        },
      },
      resourceIndicators: {
        enabled: true,
        // oidc-provider reads undefined as "no resource"; its types insist on a string.
        defaultResource: (_ctx, _client, oneOf) =>
          (oneOf ?? handle.defaultResource) as unknown as string,
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, indicator) => resourceServer(ctx, indicator),
      },
    },
  });
  const createProvider = (): Provider => {
    const created = new Provider(issuer, configuration());
    created.on('server_error', (_ctx: unknown, error: Error) => serverErrors.push(error));
    created.use(recordBodies);
    if (options.deviceApproval === 'auto') {
      created.on('device_authorization.success', (_ctx: unknown, response: unknown) => {
        const uri = isObject(response) ? response.verification_uri_complete : undefined;
        if (typeof uri !== 'string') return;
        approveDevice(uri).catch((error: unknown) => {
          serverErrors.push(error instanceof Error ? error : new Error(String(error)));
        });
      });
    }
    return created;
  };

  const recordBodies: Parameters<Provider['use']>[0] = async (ctx, next) => {
    await next();
    const record = recorded.get(ctx.req);
    const body = (ctx as unknown as KoaContextWithOIDC).oidc?.body;
    if (record && body && Object.keys(body).length > 0) record.body = { ...body };
    if (
      deviceInterval !== null &&
      ctx.method === 'POST' &&
      ctx.path === '/device/auth' &&
      ctx.status === 200 &&
      isObject(ctx.body)
    ) {
      ctx.body = { ...ctx.body, interval: deviceInterval };
    }
  };
  let provider = createProvider();

  const interact = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const details = await provider.interactionDetails(req, res);
    if (approval === 'deny') {
      await provider.interactionFinished(
        req,
        res,
        { error: 'access_denied', error_description: 'End-User denied the request' },
        { mergeWithLastSubmission: false },
      );
      return;
    }
    const { params } = details;
    const clientId = String(params.client_id);
    const requested = typeof params.scope === 'string' ? params.scope.split(' ') : [];
    const resources = [params.resource ?? []].flat().filter((r) => typeof r === 'string');
    const grant =
      (details.grantId ? await provider.Grant.find(details.grantId) : undefined) ??
      new provider.Grant({ accountId, clientId });
    const known = requested.filter((scope) => (AS_SCOPES as readonly string[]).includes(scope));
    if (known.length > 0) grant.addOIDCScope(known.join(' '));
    const forResource = requested.filter((scope) =>
      (RESOURCE_SCOPES as readonly string[]).includes(scope),
    );
    for (const resource of resources) grant.addResourceScope(resource, forResource.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(
      req,
      res,
      { login: { accountId }, consent: { grantId } },
      { mergeWithLastSubmission: false },
    );
  };

  let callback = provider.callback();
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', issuer);
    const record: AuthorizationServerRequest = {
      method: req.method ?? '',
      path: url.pathname,
      query: queryObject(url.searchParams),
      body: undefined,
      headers: Object.fromEntries(
        RECORDED_HEADERS.flatMap((name) => {
          const value = req.headers[name];
          return typeof value === 'string' ? [[name, value]] : [];
        }),
      ),
      status: undefined,
    };
    requests.push(record);
    recorded.set(req, record);
    res.on('finish', () => {
      record.status = res.statusCode;
    });
    const held = options.hold?.(record);
    if (held) {
      const go = () => route(req, res, url);
      void held.then(go, go);
      return;
    }
    route(req, res, url);
  };

  const route = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    if (url.pathname.startsWith('/interaction/')) {
      interact(req, res).catch((error: unknown) => {
        serverErrors.push(error instanceof Error ? error : new Error(String(error)));
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"server_error"}');
      });
      return;
    }
    if (url.pathname === '/.well-known/oauth-authorization-server') {
      if (discovery === 'openid-configuration') return void res.writeHead(404).end();
      req.url = `/.well-known/openid-configuration${url.search}`;
    } else if (url.pathname === '/.well-known/openid-configuration') {
      if (discovery === 'oauth-authorization-server') return void res.writeHead(404).end();
    }
    void callback(req, res);
  };
  http.on('request', onRequest);

  const handle: AuthorizationServer = {
    issuer,
    port,
    url: (path) => new URL(path, `${issuer}/`).href,
    get provider() {
      return provider;
    },
    requests,
    serverErrors,
    defaultResource: options.defaultResource,
    setApproval(mode) {
      approval = mode;
    },
    async restart() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      provider = createProvider();
      callback = provider.callback();
      http = createServer(onRequest);
      await new Promise<void>((resolve) => http.listen(port, '127.0.0.1', resolve));
    },
    async close() {
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
  return handle;
}

/** Whether the raw request (query or body) has a `resource` parameter. */
function carriesResource(ctx: KoaContextWithOIDC): boolean {
  return ctx.query.resource !== undefined || ctx.oidc.body?.resource !== undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function queryObject(search: URLSearchParams): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(search.keys())) {
    const values = search.getAll(key);
    out[key] = values.length === 1 ? (values[0] ?? '') : values;
  }
  return out;
}

function page(title: string, content: string): string {
  return `<!DOCTYPE html><html><head><title>${title}</title></head><body>${content}</body></html>`;
}

/** A fresh RS256 signing key as a private JWK. */
async function signingKey(): Promise<NonNullable<Configuration['jwks']>['keys'][number]> {
  const { privateKey } = await promisify(generateKeyPair)('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  return { ...jwk, kid: randomBytes(8).toString('hex'), alg: 'RS256', use: 'sig' } as NonNullable<
    Configuration['jwks']
  >['keys'][number];
}

/** oidc-provider storage in a Map per server (its own memory adapter prints a warning). */
function memoryAdapter(): (name: string) => Adapter {
  const store = new Map<string, { payload: AdapterPayload; expiresAt: number | undefined }>();
  const byGrant = new Map<string, Set<string>>();
  const live = (key: string): AdapterPayload | undefined => {
    const entry = store.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt !== undefined && entry.expiresAt <= Date.now()) {
      store.delete(key);
      return undefined;
    }
    return entry.payload;
  };
  const findBy = (name: string, field: 'uid' | 'userCode', value: string) => {
    for (const key of store.keys()) {
      if (!key.startsWith(`${name}:`)) continue;
      const payload = live(key);
      if (payload?.[field] === value) return payload;
    }
    return undefined;
  };
  return (name) => ({
    async upsert(id, payload, expiresIn) {
      const key = `${name}:${id}`;
      store.set(key, {
        payload: { ...payload },
        expiresAt: expiresIn ? Date.now() + expiresIn * 1000 : undefined,
      });
      if (payload.grantId) {
        const keys = byGrant.get(payload.grantId) ?? new Set<string>();
        keys.add(key);
        byGrant.set(payload.grantId, keys);
      }
    },
    async find(id) {
      return live(`${name}:${id}`);
    },
    async findByUid(uid) {
      return findBy(name, 'uid', uid);
    },
    async findByUserCode(userCode) {
      return findBy(name, 'userCode', userCode);
    },
    async consume(id) {
      const payload = live(`${name}:${id}`);
      if (payload) payload.consumed = Math.floor(Date.now() / 1000);
    },
    async destroy(id) {
      store.delete(`${name}:${id}`);
    },
    async revokeByGrantId(grantId) {
      for (const key of byGrant.get(grantId) ?? []) store.delete(key);
      byGrant.delete(grantId);
    },
  });
}
