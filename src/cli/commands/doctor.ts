/**
 * `doctor SERVER`: walk discovery → registration → login state → refresh → one call, printing
 * what each step found, where it failed, and what to do. It never starts a login and never
 * prints a token.
 *
 * @module
 */
import { McpAgentError } from '../../errors.js';
import type { ServerAuth } from '../../oauth/server-auth.js';
import { describeEndpoint } from '../../servers/connect-errors.js';
import { authMode } from '../../servers/credentials.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { type CliSession, withSession } from '../session.js';
import { describeExpiry } from './auth.js';

/** One step of the walk. */
interface Step {
  readonly step: string;
  readonly ok: boolean;
  readonly found: string;
  readonly fix?: string;
}

/** `doctor SERVER`. */
export function doctor(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string,
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async (session) => {
      const steps: Step[] = [];
      const report = (step: Step) => {
        steps.push(step);
        // The walk is the result: each step on stdout as it is found.
        out.result(`${step.ok ? 'ok  ' : 'FAIL'} ${step.step}: ${step.found}`);
        if (step.fix) out.result(`     fix: ${step.fix}`);
      };
      const settings = session.registry.settings(server);
      report({
        step: 'configuration',
        ok: true,
        found: `${settings.transport} server at ${describeEndpoint(settings)}, authentication: ${authMode(settings)}`,
      });
      const auth = session.tokens.forServer(server, settings);
      if (auth) await walkOAuth(session, server, auth, report);
      try {
        const connection = await session.registry.connect(server);
        const tools = await connection.listTools();
        report({
          step: 'call',
          ok: true,
          found: `connected; tools/list returned ${tools.length} tool${tools.length === 1 ? '' : 's'}`,
        });
      } catch (error) {
        report({ step: 'call', ok: false, found: messageOf(error), fix: fixFor(error, server) });
      }
      out.resultJson({ server, steps });
      return steps.every((step) => step.ok) ? 0 : 1;
    },
    { interactive: false },
  );
}

/** The OAuth steps: discovery, registration, login state, refresh. */
async function walkOAuth(
  session: CliSession,
  server: string,
  auth: ServerAuth,
  report: (step: Step) => void,
): Promise<void> {
  const settings = session.registry.settings(server);
  const oauth = settings.auth?.oauth;
  let target: Awaited<ReturnType<typeof auth.target>>;
  try {
    target = await auth.target();
    const as = target.discovery.authorizationServer;
    report({
      step: 'discovery',
      ok: true,
      found: `resource ${target.discovery.resourceId}; ${target.discovery.resourceMetadata ? 'protected-resource metadata found' : 'no protected-resource metadata (configured authorization_server used)'}; authorization server ${as.issuer}; PKCE S256 ${as.code_challenge_methods_supported?.includes('S256') ? 'advertised' : 'NOT advertised'}${as.device_authorization_endpoint ? '; device grant offered' : ''}`,
    });
  } catch (error) {
    report({
      step: 'discovery',
      ok: false,
      found: messageOf(error),
      fix: fixFor(error, server),
    });
    return;
  }
  const as = target.discovery.authorizationServer;
  if (oauth?.client_id) {
    report({
      step: 'registration',
      ok: true,
      found: `pre-registered client ${oauth.client_id}`,
    });
  } else if (oauth?.client_metadata_url && as.client_id_metadata_document_supported === true) {
    report({
      step: 'registration',
      ok: true,
      found: `client ID metadata document ${oauth.client_metadata_url}`,
    });
  } else if (as.registration_endpoint) {
    report({
      step: 'registration',
      ok: true,
      found: `dynamic client registration at ${new URL(as.registration_endpoint).origin} (done at login, then kept per redirect URI)`,
    });
  } else {
    report({
      step: 'registration',
      ok: false,
      found: `${as.issuer} offers no dynamic registration${oauth?.client_metadata_url ? ' nor client ID metadata documents' : ''} and no client_id is configured`,
      fix: `register a client at ${as.issuer} with the redirect URI http://127.0.0.1:${session.loaded.settings.oauth.loopback_ports[0] ?? 33418}/callback and set mcp.servers.${server}.auth.oauth.client_id`,
    });
    return;
  }
  const tokens = (await auth.status()).filter((row) => row.issuer === as.issuer);
  const now = Date.now();
  const token = tokens[0];
  if (!token) {
    report({
      step: 'login',
      ok: false,
      found: `no token stored for ${as.issuer} (backend: ${session.loaded.settings.oauth.token_store.backend})`,
      fix: `mcp-agent auth login ${server}`,
    });
    return;
  }
  report({
    step: 'login',
    ok: !token.expired,
    found: `token for ${token.scopes.join(' ') || 'no particular scope'}; it ${describeExpiry(token.expiresAt, now)}; refresh token: ${token.hasRefreshToken ? 'yes' : 'no'}`,
    ...(token.expired ? { fix: `mcp-agent auth login ${server}` } : {}),
  });
  if (token.expired) return;
  try {
    const outcome = await auth.refreshIfDue();
    report({
      step: 'refresh',
      ok: true,
      found: outcome === 'refreshed' ? 'the token was due and was refreshed' : 'not needed yet',
    });
  } catch (error) {
    report({
      step: 'refresh',
      ok: false,
      found: messageOf(error),
      fix: fixFor(error, server),
    });
    return;
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'failed';
}

function fixFor(error: unknown, server: string): string {
  if (error instanceof McpAgentError) {
    switch (error.code) {
      case 'OAUTH_LOGIN_REQUIRED':
      case 'SERVER_AUTH_REQUIRED':
        return `mcp-agent auth login ${server}`;
      case 'OAUTH_DISCOVERY':
        return `check mcp.servers.${server}.url, or set auth.oauth.authorization_server`;
      case 'STORE_UNAVAILABLE':
        return 'check oauth.token_store (is Redis up? is the file readable?)';
      default:
        return 'see the message above';
    }
  }
  return 'run again with --verbose for details';
}
