/**
 * The oidc-provider configuration of the development authorization server: which grants and
 * features are on, what access tokens look like, the page hooks, and the log lines.
 *
 * @module
 */

import { generateKeyPair, randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import type { JWK } from 'jose';
import Provider, {
  type ClientMetadata,
  type Configuration,
  errors,
  type JWKS,
  type KoaContextWithOIDC,
  type ResourceServer,
} from 'oidc-provider';
import { type Logger, printable } from '../logger.js';
import { devHttpOptions } from './outbound.js';
import {
  deviceConfirmPage,
  deviceInputPage,
  deviceSuccessPage,
  errorPage,
  PAGE_HEADERS,
} from './pages.js';
import { allowCrossOriginRegistration } from './registration-cors.js';
import { createDevStorage, type DevStorage, type IssuedTokenModel } from './storage.js';
import { registerTokenExchange } from './token-exchange.js';

/** The settled options {@link createDevProvider} works from. */
export interface DevProviderSettings {
  /** `http://127.0.0.1:8001` */
  readonly issuer: string;
  /** Absolute resource URLs; each gets JWT access tokens with itself as `aud`. */
  readonly resources: readonly string[];
  /** The resource of requests that name none. Default: the only resource, when there is one. */
  readonly defaultResource?: string;
  /** Scopes a resource can be granted. */
  readonly scopes: readonly string[];
  /** Lifetime of access tokens (and client-credentials tokens), in seconds. */
  readonly accessTokenTtlSeconds: number;
  /** The pre-registered confidential client allowed to introspect any token. */
  readonly introspectionClient: { readonly clientId: string; readonly clientSecret: string };
  readonly logger: Logger;
}

/** The JWS algorithm of every token the server signs. */
const SIGNING_ALG = 'ES256';

/** Refresh-token, authorization-code, session and grant lifetimes (seconds). */
const TTL = {
  AuthorizationCode: 60,
  DeviceCode: 600,
  IdToken: 3600,
  Interaction: 3600,
  RefreshToken: 14 * 24 * 3600,
  Session: 14 * 24 * 3600,
  Grant: 14 * 24 * 3600,
} as const;

/** A configured oidc-provider for {@link DevProviderSettings}, not yet listening. */
export async function createDevProvider(settings: DevProviderSettings): Promise<Provider> {
  const { resources, scopes, accessTokenTtlSeconds: ttl, logger } = settings;
  const defaultResource =
    settings.defaultResource ?? (resources.length === 1 ? resources[0] : undefined);

  const resourceServer = (indicator: string): ResourceServer => {
    const audience = resources.find((resource) => sameResource(resource, indicator));
    if (audience === undefined) {
      throw new errors.InvalidTarget(
        `unknown resource; this development server issues tokens for ${resources.join(', ')}`,
      );
    }
    return {
      scope: scopes.join(' '),
      audience,
      accessTokenTTL: ttl,
      accessTokenFormat: 'jwt',
      jwt: { sign: { alg: SIGNING_ALG } },
    };
  };

  const introspector: ClientMetadata = {
    client_id: settings.introspectionClient.clientId,
    client_secret: settings.introspectionClient.clientSecret,
    client_name: 'mcp-agent (token introspection)',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  };

  const storage = createDevStorage();
  const key = await signingKey();
  const configuration: Configuration = {
    adapter: storage.adapter,
    jwks: { keys: [key] },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    clients: [introspector],
    clientDefaults: {
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: SIGNING_ALG,
    },
    enabledJWA: {
      idTokenSigningAlgValues: [SIGNING_ALG],
      userinfoSigningAlgValues: [SIGNING_ALG],
      introspectionSigningAlgValues: [SIGNING_ALG],
      authorizationSigningAlgValues: [SIGNING_ALG],
    },
    extraClientMetadata: {
      // RFC 7591 fields MCP clients send; the validator also carries the cross-field rule.
      properties: ['software_id', 'software_version'],
      validator: (_ctx, key, value, metadata) => {
        // A registered `scope` would cap what the client may ask for later; MCP clients register
        // with the scope of the first challenge and must be able to step up (MCP "Scope
        // Selection Strategy"), so a development server lets every client ask for every scope.
        if (key === 'software_id') delete (metadata as { scope?: unknown }).scope;
        if (value !== undefined && typeof value !== 'string') {
          throw new errors.InvalidClientMetadata(`${key} must be a string`);
        }
        const grants: unknown = metadata.grant_types;
        if (
          metadata.token_endpoint_auth_method === 'none' &&
          Array.isArray(grants) &&
          grants.includes('client_credentials')
        ) {
          throw new errors.InvalidClientMetadata(
            'client_credentials needs a confidential client (token_endpoint_auth_method other than none)',
          );
        }
      },
    },
    scopes: ['openid', 'offline_access', ...scopes],
    claims: { openid: ['sub'] },
    responseTypes: ['code'],
    // private_key_jwt: a client registered with its public key (`jwks`) signs assertions (RFC 7523).
    clientAuthMethods: ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'],
    pkce: { methods: ['S256'], required: (_ctx, client) => client.clientAuthMethod === 'none' },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    // Browser-based MCP clients (the Inspector) call the token endpoint cross-origin.
    clientBasedCORS: () => true,
    // A client's jwks_uri (or sector_identifier_uri) is read within a size and a time.
    httpOptions: devHttpOptions(),
    renderError: (ctx, out) => {
      respondWithPage(
        ctx,
        errorPage(String(out.error), errorDescription(ctx, out.error, out.error_description)),
      );
    },
    interactions: {
      url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
    },
    // Refresh tokens for clients allowed the grant that asked for offline_access (which
    // oidc-provider only keeps with prompt=consent), and for every public client without that.
    issueRefreshToken: (_ctx, client, code) =>
      client.grantTypeAllowed('refresh_token') &&
      (code.scopes.has('offline_access') || client.clientAuthMethod === 'none'),
    rotateRefreshToken: true,
    expiresWithSession: () => false,
    ttl: { ...TTL, AccessToken: ttl, ClientCredentials: ttl },
    features: {
      devInteractions: { enabled: false },
      rpInitiatedLogout: { enabled: false },
      registration: { enabled: true, initialAccessToken: false, idFactory: registrationId },
      revocation: { enabled: true },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // The agent's own client may introspect anything; a confidential client, its own tokens.
        allowedPolicy: (ctx, client, token) =>
          client.clientId === settings.introspectionClient.clientId ||
          (client.clientAuthMethod !== 'none' && token.clientId === ctx.oidc.client?.clientId),
      },
      deviceFlow: {
        enabled: true,
        userCodeInputSource: (ctx, form, _out, error) => {
          respondWithPage(ctx, deviceInputPage(withoutEventHandlers(form), deviceProblem(error)));
        },
        userCodeConfirmSource: (ctx, form, client, _info, userCode) => {
          respondWithPage(
            ctx,
            deviceConfirmPage(
              withoutEventHandlers(form),
              { clientId: client.clientId, clientName: client.clientName },
              userCode,
            ),
          );
        },
        successSource: (ctx) => {
          respondWithPage(ctx, deviceSuccessPage());
        },
      },
      resourceIndicators: {
        enabled: true,
        // oidc-provider reads undefined as "no resource"; its types insist on a string.
        defaultResource: (_ctx, _client, oneOf) =>
          (oneOf ? pickOne(oneOf, defaultResource) : defaultResource) as string,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, indicator) => resourceServer(indicator),
      },
    },
  };

  const provider = new Provider(settings.issuer, configuration);
  // Koa prints unhandled errors to the console unless someone listens.
  provider.app.on('error', (error: unknown) => {
    logger.debug('development authorization server: request error', { message: message(error) });
  });
  allowCrossOriginRegistration(provider);
  trackJwtAccessTokens(provider, storage);
  logEvents(provider, logger);
  await registerTokenExchange(provider, {
    key: key as JWK,
    alg: SIGNING_ALG,
    resources,
    scopes,
    ttlSeconds: ttl,
  });
  return provider;
}

/**
 * The id of a client registering (RFC 7591), and the one hook oidc-provider runs on the parsed
 * request before validating it. A client that asks only for grants without the authorization
 * endpoint (the device grant, client credentials) but still sends `response_types: ["code"]`
 * (`mcp-remote --device-code` does) is registered with `response_types: []` instead of being
 * refused: RFC 7591 §2 lets the server replace requested values, and the response says so.
 */
function registrationId(ctx: KoaContextWithOIDC): string {
  const body: unknown = ctx.oidc.body;
  if (isObject(body) && Array.isArray(body.grant_types) && Array.isArray(body.response_types)) {
    const grants: unknown[] = body.grant_types;
    if (!grants.includes('authorization_code') && !grants.includes('implicit')) {
      body.response_types = [];
    }
  }
  return randomBytes(16).toString('base64url');
}

/** Answer with one of our pages and the headers every page carries (CSP, no caching, no framing). */
function respondWithPage(ctx: KoaContextWithOIDC, html: string): void {
  ctx.set({ ...PAGE_HEADERS });
  ctx.body = html;
}

/**
 * oidc-provider's device form without its inline event handler (`onfocus="this.select()…"`): the
 * pages run no script, so the browser would refuse it and report a CSP violation on every visit.
 */
function withoutEventHandlers(form: string): string {
  return form.replace(/\son[a-z]+="[^"]*"/gi, '');
}

/** The one resource to use when a request names several (or the array, to fail). */
function pickOne(oneOf: string[], fallback: string | undefined): string | string[] {
  if (oneOf.length === 1) return oneOf[0] ?? oneOf;
  return fallback !== undefined && oneOf.includes(fallback) ? fallback : oneOf;
}

/** `a` and `b` name the same resource (exactly, or once both are parsed as URLs). */
function sameResource(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return new URL(a).href === new URL(b).href;
  } catch {
    return false;
  }
}

function deviceProblem(error: Error | undefined): string | undefined {
  if (error === undefined) return undefined;
  if (error.name === 'AbortedError') return 'The sign-in was cancelled.';
  if (error.name === 'NoCodeError' || 'userCode' in error) {
    return 'That code is not valid or has expired. Check it and try again.';
  }
  return 'Something went wrong. Try again.';
}

/** Keep every JWT access token issued findable by introspection and revocation. */
function trackJwtAccessTokens(provider: Provider, storage: DevStorage): void {
  const remember = (model: IssuedTokenModel) => storage.rememberIssued(model);
  provider.on('access_token.issued', remember);
  provider.on('client_credentials.issued', remember);
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const body: unknown = ctx.body;
    if (isObject(body) && typeof body.access_token === 'string') {
      storage.bindIssuedValue(body.access_token);
    }
  });
}

/** Info lines for sign-ins and tokens, warnings for refusals: identifiers only, no values. */
function logEvents(provider: Provider, logger: Logger): void {
  const prefix = 'development authorization server:';
  provider.on('registration_create.success', (_ctx: KoaContextWithOIDC, client) => {
    logger.info(
      `${prefix} client ${client.clientId} registered (${client.clientName ?? 'no name'})`,
      {
        client_id: client.clientId,
        client_name: client.clientName,
        token_endpoint_auth_method: client.clientAuthMethod,
        grant_types: client.grantTypes,
      },
    );
  });
  provider.on('grant.success', (ctx: KoaContextWithOIDC) => {
    const { entities, params } = ctx.oidc;
    const token = entities.AccessToken ?? entities.ClientCredentials;
    logger.debug(`${prefix} token issued (${params?.grant_type ?? 'grant'})`, {
      grant_type: params?.grant_type,
      client_id: ctx.oidc.client?.clientId,
      sub: entities.AccessToken?.accountId,
      aud: token?.resourceServer?.audience,
      scope: token?.scope,
      refresh_token_issued: isObject(ctx.body) && typeof ctx.body.refresh_token === 'string',
    });
  });
  provider.on('device_authorization.success', (ctx: KoaContextWithOIDC) => {
    logger.info(`${prefix} device authorization started`, {
      client_id: ctx.oidc.client?.clientId,
    });
  });
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC) => {
    logger.info(`${prefix} grant revoked`, { client_id: ctx.oidc.client?.clientId });
  });
  for (const event of [
    'authorization.error',
    'grant.error',
    'registration_create.error',
    'introspection.error',
    'revocation.error',
    'device_authorization.error',
    'code_verification.error',
  ]) {
    provider.on(event, (ctx: KoaContextWithOIDC, error: unknown) => {
      const code = isObject(error) && typeof error.error === 'string' ? error.error : 'error';
      const description =
        isObject(error) && typeof error.error_description === 'string'
          ? ` (${printable(error.error_description)})`
          : '';
      const client = ctx.oidc?.client?.clientId;
      logger.warn(
        `${prefix} refused ${ctx.method} ${ctx.path}${client ? ` of client ${client}` : ''}: ${code}${description}`,
        {
          event,
          client_id: client,
          error: code,
          error_description: isObject(error) ? error.error_description : undefined,
        },
      );
    });
  }
  provider.on('server_error', (ctx: KoaContextWithOIDC, error: unknown) => {
    logger.error(`${prefix} server error`, { path: ctx.path, message: message(error) });
  });
}

/**
 * What an error page says. An unknown client at the authorization endpoint (RFC 6749 §4.1.2.1:
 * the user is told, not redirected) is nearly always one that registered with an earlier run of
 * this server, which forgets its registrations when it stops: say so, and how to recover.
 */
function errorDescription(ctx: KoaContextWithOIDC, error: unknown, description: unknown) {
  if (error === 'invalid_client' && ctx.oidc?.route === 'authorization') {
    return 'This development server does not know this client. It keeps client registrations in memory, so a client that registered before the server restarted must register again: make it forget its registration and connect again (MCP Inspector: --relogin, or delete ~/.mcp-inspector/storage/oauth.json; mcp-agent: auth logout).';
  }
  return stringOrUndefined(description);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** A fresh P-256 signing key as a private JWK with a random `kid`. */
async function signingKey(): Promise<JWKS['keys'][number]> {
  const { privateKey } = await promisify(generateKeyPair)('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  return {
    ...jwk,
    kid: randomBytes(8).toString('hex'),
    alg: SIGNING_ALG,
    use: 'sig',
  } as JWKS['keys'][number];
}
