/**
 * A FastMCP (TypeScript, npm `fastmcp`) server protected the way its README sets it up: the
 * `auth: new OAuthProvider(…)` option, whose OAuth proxy is the authorization server clients see
 * (DCR at `/oauth/register`, a consent page, token swap) in front of an upstream one, here the
 * oidc-provider of `test/support/authorization-server.ts`. FastMCP serves the same
 * protected-resource metadata at the root and at `/.well-known/oauth-protected-resource/mcp`,
 * with the origin as `resource`, and its 401 names the root document.
 */
import { FastMCP, OAuthProvider } from 'fastmcp';
import { decodeJwt } from 'jose';
import { z } from 'zod';
import {
  type AuthorizationServer,
  startAuthorizationServer,
} from '../../support/authorization-server.js';
import { type BrowserResult, followAuthorization } from '../../support/browser.js';
import { freePort } from '../../support/net.js';

/** The FastMCP client id and secret at the upstream authorization server. */
const UPSTREAM_CLIENT = { id: 'fastmcp-proxy', secret: 'fastmcp-proxy-secret-at-upstream' };

/** A running FastMCP peer and its upstream authorization server. */
export interface FastMcpPeer {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  /** `http://127.0.0.1:<port>`: FastMCP's `baseUrl`, its `resource` and its issuer. */
  readonly origin: string;
  readonly upstream: AuthorizationServer;
  /** Each tool call as FastMCP ran it: the tool and whether a session came with it. */
  readonly calls: { readonly tool: string; readonly authenticated: boolean }[];
  /**
   * The user's half of a login: open FastMCP's authorization URL, approve its consent page, sign
   * in at the upstream authorization server (headless), and land on the client's redirect URI.
   */
  approve(authorizationUrl: string | URL): Promise<BrowserResult>;
  close(): Promise<void>;
}

const silent = { debug() {}, error() {}, info() {}, log() {}, warn() {} };

/**
 * FastMCP's transport (mcp-proxy) writes a line per SSE stream with `console.log` and takes no
 * logger: keep those lines out of the test output, and pass every other line through.
 */
function quietMcpProxy(): () => void {
  // biome-ignore lint/suspicious/noConsole: the peer's own output, filtered, not ours
  const log = console.log;
  console.log = (...args: unknown[]) => {
    if (typeof args[0] === 'string' && args[0].startsWith('[mcp-proxy]')) return;
    log(...args);
  };
  return () => {
    console.log = log;
  };
}

/** Start a {@link FastMcpPeer} on a free port (upstream access tokens live `accessTokenTtl` s). */
export async function startFastMcpPeer(
  options: { accessTokenTtl?: number } = {},
): Promise<FastMcpPeer> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const upstream = await startAuthorizationServer({
    // JWTs for FastMCP's own audience, so a tool can tell who signed in upstream.
    defaultResource: origin,
    ...(options.accessTokenTtl ? { accessTokenTtl: options.accessTokenTtl } : {}),
    clients: [
      {
        client_id: UPSTREAM_CLIENT.id,
        client_secret: UPSTREAM_CLIENT.secret,
        redirect_uris: [`${origin}/oauth/callback`],
        grant_types: ['authorization_code', 'refresh_token'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
    ],
  });
  const auth = new OAuthProvider({
    baseUrl: origin,
    clientId: UPSTREAM_CLIENT.id,
    clientSecret: UPSTREAM_CLIENT.secret,
    authorizationEndpoint: `${upstream.issuer}/auth`,
    tokenEndpoint: `${upstream.issuer}/token`,
    scopes: ['openid', 'offline_access'],
  });
  const calls: { tool: string; authenticated: boolean }[] = [];
  const restoreConsole = quietMcpProxy();
  const server = new FastMCP({ name: 'fastmcp-peer', version: '1.0.0', logger: silent, auth });
  server.addTool({
    name: 'whoami',
    description: 'The upstream user of the session',
    parameters: z.object({}),
    execute: async (_args, { session }) => {
      calls.push({ tool: 'whoami', authenticated: session !== undefined });
      const token = (session as { accessToken?: unknown } | undefined)?.accessToken;
      const claims = typeof token === 'string' ? decodeJwt(token) : {};
      return JSON.stringify({ sub: claims.sub ?? null, aud: claims.aud ?? null });
    },
  });
  server.addTool({
    name: 'echo',
    description: 'Echo the text',
    parameters: z.object({ text: z.string() }),
    execute: async ({ text }, { session }) => {
      calls.push({ tool: 'echo', authenticated: session !== undefined });
      return text;
    },
  });
  await server.start({
    transportType: 'httpStream',
    httpStream: { port, host: '127.0.0.1', endpoint: '/mcp' },
  });
  return {
    url: `${origin}/mcp`,
    origin,
    upstream,
    calls,
    approve: (url) => approveConsent(new URL(url)),
    async close() {
      await server.stop();
      auth.getProxy().destroy();
      await upstream.close();
      restoreConsole();
    },
  };
}

/** FastMCP's consent page: its form's `transaction_id`, posted with `action=approve`. */
async function approveConsent(authorizationUrl: URL): Promise<BrowserResult> {
  const page = await fetch(authorizationUrl, { redirect: 'manual' });
  const html = await page.text();
  const transaction = /name="transaction_id" value="([^"]+)"/.exec(html)?.[1];
  if (page.status !== 200 || !transaction) {
    throw new Error(`FastMCP showed no consent page (HTTP ${page.status}): ${html.slice(0, 200)}`);
  }
  const form = new URLSearchParams({ transaction_id: transaction, action: 'approve' });
  const approved = await fetch(new URL('/oauth/consent', authorizationUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
    redirect: 'manual',
  });
  await approved.body?.cancel();
  const upstream = approved.headers.get('location');
  if (approved.status !== 302 || !upstream) {
    throw new Error(`FastMCP did not send the approval upstream (HTTP ${approved.status})`);
  }
  return followAuthorization(new URL(upstream, authorizationUrl));
}
