/**
 * One server of the inbound benchmark, in its own process (argv[2] = mode). Every server has the
 * same `echo` tool (a zod `{ text: string }` input, a text result) and answers over the SDK's
 * Streamable HTTP transport with its default SSE-framed responses:
 *
 * - `ours`: `createApp` with authorization on (JWKS at $JWKS_URI), the caller context off (the
 *   default);
 * - `ours-ctx`: the same with `app.useCallerContext()` (an `AsyncLocalStorage` around each call);
 * - `ours-open`: the same app with authorization off;
 * - `sdk-cached`: the SDK's stateful server as its example `simpleStreamableHttp` builds it
 *   (`createMcpExpressApp`, `requireBearerAuth`, one `StreamableHTTPServerTransport` with a
 *   `sessionIdGenerator` per session, kept in a Map), whose verifier calls jose `jwtVerify` on a
 *   token it has not seen and keeps the result in a Map keyed by the token until min(5 min, exp)
 *   (the same policy as ours, done the cheapest way: no hash of the token);
 * - `sdk-jose`: the same stateful server with jose `jwtVerify` on every request (the SDK has no
 *   cache; this is how its users run it);
 * - `sdk-stateless`: the SDK's stateless example (a new `McpServer` and transport per request),
 *   jose on every request.
 *
 * The SDK servers leave out what the example adds and would only slow them: the event store
 * (resumability) and the `console.log` of every request.
 *
 * Prints `{"url": …}` on stdout once listening, answers `cpu` on stdin with `{"cpu": µs}` (the
 * CPU time it has used); ends when stdin closes.
 *
 * @module
 */

import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { createMcpExpressApp } from '@modelcontextprotocol/sdk/server/express.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as z from 'zod';
import { AppDefinition, createApp, settingsSchema } from '../dist/index.js';

const mode = process.argv[2];
const { ISSUER, JWKS_URI, RESOURCE } = process.env;

function echoResult(text) {
  return { content: [{ type: 'text', text }] };
}

async function startOurs({ protectedMode, callerContext }) {
  const definition = new AppDefinition();
  definition.tool('echo', { text: z.string() }, ({ text }) => echoResult(text));
  if (callerContext) definition.useCallerContext();
  const settings = settingsSchema.parse({
    authorization: protectedMode
      ? {
          enabled: true,
          issuer_url: ISSUER,
          jwks_uri: JWKS_URI,
          resource_server_url: RESOURCE,
          expected_audiences: [RESOURCE],
          required_scopes: ['mcp:tools'],
        }
      : { enabled: false },
  });
  const app = await createApp({ settings, definition, env: {} });
  const running = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url: running.url, close: () => app.close() };
}

/** A `requireBearerAuth` verifier written the obvious way: jose against the remote JWKS. */
function joseVerifier() {
  const jwks = createRemoteJWKSet(new URL(JWKS_URI));
  return {
    async verifyAccessToken(token) {
      const { payload } = await jwtVerify(token, jwks, { issuer: ISSUER, audience: RESOURCE });
      return {
        token,
        clientId: String(payload.client_id ?? ''),
        scopes: String(payload.scope ?? '')
          .split(' ')
          .filter(Boolean),
        expiresAt: payload.exp,
      };
    },
  };
}

/** `verifier` with a simple cache: a Map keyed by the token, at most 10,000, oldest out. */
function cachedVerifier(verifier) {
  const cache = new Map();
  return {
    async verifyAccessToken(token) {
      const now = Date.now();
      const hit = cache.get(token);
      if (hit && hit.until > now) return hit.info;
      const info = await verifier.verifyAccessToken(token);
      cache.set(token, { info, until: Math.min(now + 300_000, info.expiresAt * 1000) });
      if (cache.size > 10_000) cache.delete(cache.keys().next().value);
      return info;
    },
  };
}

function sdkServer() {
  const server = new McpServer({ name: 'sdk-bench', version: '1.0.0' });
  server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) =>
    echoResult(text),
  );
  return server;
}

function jsonRpcError(res, status, code, message) {
  res.status(status).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

/** The stateful server of the SDK's `simpleStreamableHttp` example, with `verifier`. */
function statefulHandler() {
  const sessions = new Map();
  return async (req, res) => {
    const sessionId = req.headers['mcp-session-id'];
    const known = sessionId ? sessions.get(sessionId) : undefined;
    if (known) {
      await known.handleRequest(req, res, req.body);
      return;
    }
    if (sessionId) return jsonRpcError(res, 404, -32001, 'Session not found');
    if (!isInitializeRequest(req.body)) {
      return jsonRpcError(res, 400, -32000, 'Bad Request: No valid session ID provided');
    }
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => sessions.set(id, transport),
    });
    transport.onclose = () => {
      if (transport.sessionId) sessions.delete(transport.sessionId);
    };
    await sdkServer().connect(transport);
    await transport.handleRequest(req, res, req.body);
  };
}

/** The stateless server of the SDK's `simpleStatelessStreamableHttp` example. */
async function statelessHandler(req, res) {
  const server = sdkServer();
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, req.body);
}

async function startSdk(kind) {
  const jose = joseVerifier();
  const verifier = kind === 'sdk-cached' ? cachedVerifier(jose) : jose;
  const app = createMcpExpressApp();
  const auth = requireBearerAuth({
    verifier,
    requiredScopes: ['mcp:tools'],
    resourceMetadataUrl: `${new URL(RESOURCE).origin}/.well-known/oauth-protected-resource/mcp`,
  });
  app.post('/mcp', auth, kind === 'sdk-stateless' ? statelessHandler : statefulHandler());
  const listener = await new Promise((done) => {
    const server = app.listen(0, '127.0.0.1', () => done(server));
  });
  return {
    url: `http://127.0.0.1:${listener.address().port}/mcp`,
    close: () => {
      listener.closeAllConnections();
      return new Promise((done) => listener.close(done));
    },
  };
}

const starts = {
  ours: () => startOurs({ protectedMode: true, callerContext: false }),
  'ours-ctx': () => startOurs({ protectedMode: true, callerContext: true }),
  'ours-open': () => startOurs({ protectedMode: false, callerContext: false }),
  'sdk-cached': () => startSdk('sdk-cached'),
  'sdk-jose': () => startSdk('sdk-jose'),
  'sdk-stateless': () => startSdk('sdk-stateless'),
};
if (!starts[mode])
  throw new Error(`unknown mode ${mode}: one of ${Object.keys(starts).join(', ')}`);
const started = await starts[mode]();
process.stdout.write(`${JSON.stringify({ url: started.url })}\n`);
// `cpu` on stdin: the CPU time this process has used, in µs (user + system), on stdout.
const commands = createInterface({ input: process.stdin });
commands.on('line', (line) => {
  if (line.trim() !== 'cpu') return;
  const { user, system } = process.cpuUsage();
  process.stdout.write(`${JSON.stringify({ cpu: user + system })}\n`);
});
commands.on('close', async () => {
  await started.close();
  process.exit(0);
});
