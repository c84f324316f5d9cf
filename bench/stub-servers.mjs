/**
 * The minimal servers the lifecycle benchmark talks to, on 127.0.0.1 (node:http only):
 *
 * - an authorization server (RFC 8414 metadata, a token endpoint for the refresh_token grant with
 *   rotation: every refresh token works once, and the new one replaces it; optionally slow) that
 *   counts the refreshes it answered and the refresh tokens it refused;
 * - an MCP server (RFC 9728 metadata, `POST /mcp` answering `tools/call` with a JSON result) that
 *   accepts the access tokens the AS issued, and any static token added with `allow()`.
 *
 * @module
 */
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';

const SCOPE = 'mcp:read';

function token(prefix) {
  return `${prefix}-${randomBytes(12).toString('base64url')}`;
}

function listen(server) {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

async function readBody(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function json(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Start the stub AS and MCP server. `expiresIn` (seconds) is the lifetime of the access tokens
 * the AS issues; change it with `setExpiresIn`.
 */
export async function startStubServers() {
  const state = {
    expiresIn: 3600,
    /** How long the token endpoint takes to answer, in milliseconds. */
    tokenDelayMs: 0,
    refreshes: 0,
    invalidGrants: 0,
    /** Refresh tokens that still work (one use each). */
    refreshTokens: new Set(),
    /** The newest refresh token issued. */
    latestRefreshToken: undefined,
    accessTokens: new Set(),
  };

  const asServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://as');
    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-authorization-server') {
      return json(res, 200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
        scopes_supported: [SCOPE],
      });
    }
    if (req.method === 'GET' && url.pathname === '/count') {
      return json(res, 200, { refreshes: state.refreshes });
    }
    if (req.method === 'POST' && url.pathname === '/token') {
      const delay = state.tokenDelayMs;
      readBody(req).then(async (body) => {
        // A slow AS (its database, a remote IdP): the refresh token is checked and rotated when
        // the answer is due, so a second request with it in the meantime is refused.
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'refresh_token') {
          return json(res, 400, { error: 'unsupported_grant_type' });
        }
        const presented = form.get('refresh_token') ?? '';
        if (!state.refreshTokens.delete(presented)) {
          state.invalidGrants += 1;
          return json(res, 400, { error: 'invalid_grant' });
        }
        state.refreshes += 1;
        const accessToken = token('at');
        const refreshToken = token('rt');
        state.accessTokens.add(accessToken);
        state.refreshTokens.add(refreshToken);
        state.latestRefreshToken = refreshToken;
        json(res, 200, {
          access_token: accessToken,
          token_type: 'Bearer',
          expires_in: state.expiresIn,
          refresh_token: refreshToken,
          scope: SCOPE,
        });
      });
      return;
    }
    json(res, 404, { error: 'not_found' });
  });
  const asPort = await listen(asServer);
  const issuer = `http://127.0.0.1:${asPort}`;

  const mcpServer = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://mcp');
    if (req.method === 'GET' && url.pathname === '/.well-known/oauth-protected-resource/mcp') {
      return json(res, 200, {
        resource: mcpUrl,
        authorization_servers: [issuer],
        scopes_supported: [SCOPE],
        bearer_methods_supported: ['header'],
      });
    }
    if (req.method === 'POST' && url.pathname === '/mcp') {
      readBody(req).then((body) => {
        const match = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '');
        if (!match || !state.accessTokens.has(match[1])) {
          return json(
            res,
            401,
            { error: 'invalid_token' },
            {
              'www-authenticate': `Bearer error="invalid_token", resource_metadata="${mcpOrigin}/.well-known/oauth-protected-resource/mcp"`,
            },
          );
        }
        let message;
        try {
          message = JSON.parse(body);
        } catch {
          return json(res, 400, { error: 'parse error' });
        }
        json(res, 200, {
          jsonrpc: '2.0',
          id: message.id ?? null,
          result: { content: [{ type: 'text', text: 'ok' }] },
        });
      });
      return;
    }
    json(res, 404, { error: 'not_found' });
  });
  const mcpPort = await listen(mcpServer);
  const mcpOrigin = `http://127.0.0.1:${mcpPort}`;
  const mcpUrl = `${mcpOrigin}/mcp`;

  return {
    issuer,
    mcpUrl,
    state,
    setExpiresIn(seconds) {
      state.expiresIn = seconds;
    },
    /** Make the token endpoint answer `ms` milliseconds late. */
    setTokenDelay(ms) {
      state.tokenDelayMs = ms;
    },
    /** A refresh token the AS will accept once (the start of a rotation chain). */
    issueRefreshToken() {
      const refreshToken = token('rt');
      state.refreshTokens.clear();
      state.refreshTokens.add(refreshToken);
      state.latestRefreshToken = refreshToken;
      return refreshToken;
    },
    /** An access token the MCP server accepts. */
    issueAccessToken() {
      const accessToken = token('at');
      state.accessTokens.add(accessToken);
      return accessToken;
    },
    resetCounts() {
      state.refreshes = 0;
      state.invalidGrants = 0;
    },
    async close() {
      asServer.closeAllConnections();
      mcpServer.closeAllConnections();
      await Promise.all([
        new Promise((resolve) => asServer.close(resolve)),
        new Promise((resolve) => mcpServer.close(resolve)),
      ]);
    },
  };
}
