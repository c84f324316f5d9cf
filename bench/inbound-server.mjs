/**
 * One server of the inbound benchmark, in its own process (argv[2] = mode):
 *
 * - `ours`: `createApp` with authorization on (JWKS at $JWKS_URI), one `echo` tool;
 * - `ours-open`: the same app with authorization off;
 * - `sdk`: what one builds from the MCP SDK alone: Express, `requireBearerAuth` with a jose
 *   verifier (a cached remote JWKS, `jwtVerify` on every request), stateless Streamable HTTP
 *   (a new server and transport per request, as the SDK's stateless example does).
 *
 * Prints `{"url": …}` on stdout once listening; ends when stdin closes.
 *
 * @module
 */

import { requireBearerAuth } from '@modelcontextprotocol/sdk/server/auth/middleware/bearerAuth.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import express from 'express';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import * as z from 'zod';
import { AppDefinition, createApp, settingsSchema } from '../dist/index.js';

const mode = process.argv[2];
const { ISSUER, JWKS_URI, RESOURCE } = process.env;

function echoResult(text) {
  return { content: [{ type: 'text', text }] };
}

async function startOurs(protectedMode) {
  const definition = new AppDefinition();
  definition.tool('echo', { text: z.string() }, ({ text }) => echoResult(text));
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

async function startSdk() {
  const jwks = createRemoteJWKSet(new URL(JWKS_URI));
  const verifier = {
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
  const app = express();
  app.use(express.json());
  app.post(
    '/mcp',
    requireBearerAuth({ verifier, requiredScopes: ['mcp:tools'] }),
    async (req, res) => {
      const server = new McpServer({ name: 'sdk-bench', version: '1.0.0' });
      server.registerTool('echo', { inputSchema: { text: z.string() } }, async ({ text }) =>
        echoResult(text),
      );
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined });
      res.on('close', () => {
        void transport.close();
        void server.close();
      });
      await server.connect(transport);
      await transport.handleRequest(req, res, req.body);
    },
  );
  const listener = await new Promise((done) => {
    const server = app.listen(0, '127.0.0.1', () => done(server));
  });
  return {
    url: `http://127.0.0.1:${listener.address().port}/mcp`,
    close: () => new Promise((done) => listener.close(done)),
  };
}

const started = mode === 'sdk' ? await startSdk() : await startOurs(mode === 'ours');
process.stdout.write(`${JSON.stringify({ url: started.url })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await started.close();
  process.exit(0);
});
