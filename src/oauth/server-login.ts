/**
 * The logins of one downstream server for one identity: one at a time, through the injected
 * {@link Consent} (the authorization code flow or the device grant), a service account's token
 * request, or, where no user can be asked, a pending flow handed over as an
 * {@link AuthorizationRequiredError} and completed later by the address the browser was
 * redirected to (in this process or another one sharing the store).
 *
 * @module
 */
import type { TokenEndpointResponse } from 'oauth4webapi';
import type { ServerOAuthSettings } from '../config/schema/servers.js';
import { type AuthorizationRequiredError, McpAgentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { TokenKey, TokenRecord } from '../stores/record.js';
import type { ClientRegistration } from '../stores/registrations.js';
import type { StoredToken } from '../stores/token-store.js';
import { clientRefused, isKeptRegistration, keptClientRefusal, refusesClient } from './clients.js';
import type { Consent } from './consent.js';
import {
  completeDeferredLogin,
  type DeferredLoginContext,
  deferredRedirectUri,
  parseCallback,
  startDeferredLogin,
  tookNoFlow,
} from './deferred.js';
import { type AuthorizeReason, codeLogin, deviceLogin, receiverRequest } from './login.js';
import { chooseScopes } from './protocol/authorization.js';
import { DEVICE_REDIRECT } from './protocol/registration.js';
import type { TokenRequestContext } from './protocol/tokens.js';
import { pause } from './refresh.js';
import { checkServiceAccount, SERVICE_ACCOUNT, serviceAccountToken } from './service-account.js';
import type { Target } from './target.js';
import type { TokenManagerOptions } from './token-manager.js';

/** What the logins need from the server's OAuth state (see `ServerAuth`). */
export interface LoginHost {
  readonly name: string;
  readonly identity: string;
  readonly options: TokenManagerOptions;
  readonly logger: Logger;
  readonly now: () => number;
  /** How long a login may take, in milliseconds. */
  readonly loginTimeoutMs: number;
  /** The server's `auth.oauth`. */
  oauth(): ServerOAuthSettings;
  /** Whether the server uses a service account (no user) rather than the code flow. */
  service(): boolean;
  target(challenge?: AuthorizeReason['challenge']): Promise<Target>;
  /** The scope a login should ask for: the challenge's, or one probed from the server's 401. */
  challengeScope(
    target: Target,
    challenge?: AuthorizeReason['challenge'],
  ): Promise<string | undefined>;
  read(key: TokenKey): Promise<StoredToken | undefined>;
  /** Store a new token and use it. */
  keep(target: Target, record: TokenRecord): Promise<TokenRecord>;
  client(target: Target, redirectUri: string): Promise<ClientRegistration>;
  context(target: Target, client: ClientRegistration): TokenRequestContext;
  record(
    target: Target,
    response: TokenEndpointResponse,
    scopes: readonly string[],
    redirectUri: string,
  ): TokenRecord;
}

/** How one attempt of a login gets its client (see `ServerLogin.#recovering`). */
interface ClientHooks {
  readonly client: (redirectUri: string) => Promise<ClientRegistration>;
  readonly checkClient?:
    | ((client: ClientRegistration, url: URL, redirectUri: string) => Promise<void>)
    | undefined;
}

/** The logins of one server for one identity. */
export class ServerLogin {
  readonly #host: LoginHost;
  #authorizing: Promise<TokenRecord> | undefined;
  /** The login last handed over (see {@link AuthorizationRequiredError}). */
  #pending: { error: AuthorizationRequiredError; scopes: string[]; expiresAt: number } | undefined;

  constructor(host: LoginHost) {
    this.#host = host;
  }

  /** A token was obtained: a flow handed over before is not handed over again. */
  forgetPending(): void {
    this.#pending = undefined;
  }

  /** Run a login now; one at a time (a second caller shares the first one's result). */
  authorize(reason: AuthorizeReason = {}): Promise<TokenRecord> {
    if (this.#authorizing) return this.#authorizing;
    const run = this.#authorize(reason).finally(() => {
      this.#authorizing = undefined;
    });
    this.#authorizing = run;
    return run;
  }

  async #authorize(reason: AuthorizeReason): Promise<TokenRecord> {
    const host = this.#host;
    const consent = host.options.consent;
    const service = host.service();
    if (!service && !consent && (host.options.pendingLogins === false || reason.device)) {
      throw new McpAgentError(
        'OAUTH_LOGIN_REQUIRED',
        `Server "${host.name}" needs a login: run \`mcp-agent auth login ${host.name}\`.`,
      );
    }
    const target = await host.target(reason.challenge);
    const previous = reason.stepUp
      ? ((await host.read(target.key))?.record.scopes ?? [])
      : undefined;
    const scopes = await this.#scopes(target, reason, previous);
    if (service) return this.#serviceAccount(target, scopes);
    if (!consent) throw await this.#handOverTold(target, scopes);
    const added = previous?.length
      ? // offline_access asks for a refresh token, not for access the server wants.
        scopes.filter((scope) => !previous.includes(scope) && scope !== 'offline_access')
      : undefined;
    return this.#consentLogin(target, reason, consent, { scopes, added });
  }

  /**
   * The scopes a login asks for: configured, challenged, advertised (RFC 9728, RFC 8414), and for
   * a step-up the `previous` ones too; a service account gets no `offline_access` (it has no
   * refresh token).
   */
  async #scopes(
    target: Target,
    reason: AuthorizeReason,
    previous: readonly string[] | undefined,
  ): Promise<string[]> {
    const host = this.#host;
    const scopes = chooseScopes({
      configured: host.oauth().scopes,
      challenge: await host.challengeScope(target, reason.challenge),
      resourceScopes: target.discovery.resourceMetadata?.scopes_supported,
      as: target.discovery.authorizationServer,
      previous,
    });
    return host.service() ? scopes.filter((scope) => scope !== 'offline_access') : scopes;
  }

  /** A service account's token request (client credentials, JWT bearer, token exchange). */
  async #serviceAccount(target: Target, scopes: string[]): Promise<TokenRecord> {
    const host = this.#host;
    const oauth = host.oauth();
    checkServiceAccount(host.name, oauth);
    const response = await serviceAccountToken({
      ...{ server: host.name, oauth, scopes, cwd: host.options.cwd, now: host.now },
      subject: host.options.subjectToken?.(),
      client: await host.client(target, SERVICE_ACCOUNT),
      context: (client) => host.context(target, client),
    });
    return host.keep(target, host.record(target, response, scopes, SERVICE_ACCOUNT));
  }

  /** The login handed over (see {@link ServerLogin.#handOver}), the `onHandOver` listener told. */
  async #handOverTold(target: Target, scopes: string[]): Promise<AuthorizationRequiredError> {
    const host = this.#host;
    const handed = await this.#handOver(target, scopes);
    try {
      host.options.onHandOver?.(handed, host.identity);
    } catch {
      // The listener's failure is its own: the login is handed over all the same.
    }
    return handed;
  }

  /** A login through the consent: the device grant (RFC 8628) or the code flow with PKCE. */
  async #consentLogin(
    target: Target,
    reason: AuthorizeReason,
    consent: Consent,
    asked: { scopes: string[]; added: string[] | undefined },
  ): Promise<TokenRecord> {
    const host = this.#host;
    const { scopes } = asked;
    const login = {
      ...this.#deferred(target),
      ...asked,
      consent,
      timeoutMs: host.loginTimeoutMs,
      sleep: host.options.sleep ?? pause,
    };
    const device =
      reason.device === true || host.oauth().flow === 'device' || consent.mode === 'device';
    const record = await this.#recovering(target, (hooks) =>
      device
        ? deviceLogin({ ...login, ...hooks }).then((response) =>
            host.record(target, response, scopes, DEVICE_REDIRECT),
          )
        : codeLogin({ ...login, ...hooks, request: this.#receiverRequest() }).then(
            ({ response, redirectUri }) => host.record(target, response, scopes, redirectUri),
          ),
    );
    return host.keep(target, record);
  }

  /**
   * Run `attempt`; when the authorization server refuses a registration kept from before (it
   * restarted, or expired it: at the authorization, device or token endpoint, or already when
   * probed), forget it and run once more with a new one. A refusal of a configured client, or of
   * a registration just made, is reported with what to do, and not retried.
   */
  async #recovering<T>(target: Target, attempt: (hooks: ClientHooks) => Promise<T>): Promise<T> {
    const host = this.#host;
    let used: ClientRegistration | undefined;
    const hooks = (check: boolean): ClientHooks => ({
      client: async (redirectUri) => {
        used = await host.client(target, redirectUri);
        return used;
      },
      checkClient: check
        ? (client, url, uri) => this.#checkClient(target, client, url, uri)
        : undefined,
    });
    try {
      return await attempt(hooks(true));
    } catch (error) {
      const refused = used;
      if (!refusesClient(error) || !refused) throw error;
      const reported = await clientRefused(refused, error, this.#where());
      if (!isKeptRegistration(refused)) throw reported;
      host.logger.info(
        `the authorization server ${refused.issuer} no longer accepts the client registered for server "${host.name}" (${error.error}); registering a new one`,
        { server: host.name, issuer: refused.issuer },
      );
    }
    used = undefined;
    try {
      return await attempt(hooks(false));
    } catch (error) {
      if (refusesClient(error) && used) throw await clientRefused(used, error, this.#where());
      throw error;
    }
  }

  /**
   * Before a person is sent to the authorization server with a registration kept from before:
   * whether the server still knows it (see {@link keptClientRefusal}). Asked only of the host of
   * the registration endpoint, which discovery checked against the network policy.
   */
  async #checkClient(
    target: Target,
    client: ClientRegistration,
    url: URL,
    redirectUri: string,
  ): Promise<void> {
    const as = target.discovery.authorizationServer;
    const refusal = await keptClientRefusal(as, client, url, redirectUri, target.fetch);
    if (refusal) throw refusal;
  }

  #where() {
    const host = this.#host;
    return {
      server: host.name,
      configPath: `mcp.servers.${host.name}.auth.oauth`,
      registrations: host.options.store.registrations,
    };
  }

  /** No user can be asked: a pending flow whose URL the error carries (one still young is reused). */
  async #handOver(target: Target, scopes: string[]): Promise<AuthorizationRequiredError> {
    const host = this.#host;
    const pending = this.#pending;
    if (
      pending &&
      pending.expiresAt - host.now() > host.loginTimeoutMs / 2 &&
      scopes.every((scope) => pending.scopes.includes(scope)) &&
      // Still waiting: not completed (or failed) here or in another process since.
      (await host.options.store.flows.peek(
        new URL(pending.error.authorizationUrl).searchParams.get('state') ?? '',
      ))
    ) {
      return pending.error;
    }
    const redirectUri =
      host.options.callbackUrl && host.oauth().use_internal_callback
        ? host.options.callbackUrl
        : deferredRedirectUri(this.#receiverRequest());
    const error = await this.#recovering(target, (hooks) =>
      startDeferredLogin(
        { ...this.#deferred(target), ...hooks },
        {
          scopes,
          redirectUri,
          timeoutMs: host.loginTimeoutMs,
          inMemory: host.options.oauth.token_store.backend === 'memory',
        },
      ),
    );
    this.#pending = { error, scopes, expiresAt: error.expiresAt };
    return error;
  }

  /**
   * Complete a login handed over by an {@link AuthorizationRequiredError} with the address the
   * browser was redirected to (in this process or another one sharing the store).
   */
  async completeAuthorization(callback: URL | string): Promise<TokenRecord> {
    const host = this.#host;
    // Whatever happens, a flow handed over before is not handed over again (it may be taken now).
    this.#pending = undefined;
    const flowId = parseCallback(callback).flowId;
    const flows = host.options.store.flows;
    try {
      const target = await host.target();
      const { response, flow } = await completeDeferredLogin(this.#deferred(target), callback);
      const record = host.record(target, response, flow.scopes, flow.redirectUri);
      await host.keep(target, record);
      await flows.finish(flowId, 'ok').catch(() => {});
      return record;
    } catch (error) {
      if (!tookNoFlow(error)) await flows.finish(flowId, 'failed').catch(() => {});
      throw error;
    }
  }

  /** How the login handed over as `handed` is going (in any process). */
  async signInStatus(handed: AuthorizationRequiredError): Promise<'waiting' | 'ok' | 'failed'> {
    const host = this.#host;
    const flows = host.options.store.flows;
    const outcome = await flows.outcome(handed.flowId);
    if (outcome) return outcome;
    const state = new URL(handed.authorizationUrl).searchParams.get('state') ?? '';
    if (await flows.peek(state)) return 'waiting';
    // Gone with no outcome (a crash mid-exchange): a token obtained since it started counts.
    const record = (await host.read((await host.target()).key))?.record;
    const since = handed.expiresAt - host.loginTimeoutMs - 60_000;
    return record && record.obtainedAt >= since ? 'ok' : 'waiting';
  }

  #receiverRequest() {
    const host = this.#host;
    return receiverRequest(host.name, host.oauth(), host.options.oauth);
  }

  /** What the logins need: the target's authorization server and this server's client. */
  #deferred(target: Target): DeferredLoginContext {
    const host = this.#host;
    return {
      server: host.name,
      identity: host.identity,
      as: target.discovery.authorizationServer,
      oauth: host.oauth(),
      resource: target.resourceParam,
      flows: host.options.store.flows,
      client: (redirect) => host.client(target, redirect),
      context: (client) => host.context(target, client),
      refused: (client, error) => clientRefused(client, error, this.#where()),
      now: host.now,
      logger: host.logger,
    };
  }
}
