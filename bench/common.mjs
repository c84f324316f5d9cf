/**
 * What the lifecycle benchmark and its worker processes share: the config they load, opening a
 * server's token state on the built library, and one `tools/call` request.
 *
 * @module
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, fetch as undiciFetch } from 'undici';
import { createTokenStore, loadSettings, TokenManager } from '../dist/index.js';

/** The `mcp.servers` name of the benchmarked server. */
export const SERVER = 'bench';

/** Write the config of `SERVER` at `mcpUrl` on `backend` into `dir`. */
export function writeConfig(dir, { mcpUrl, backend, redisUrl, redisPrefix }) {
  const store =
    backend === 'redis'
      ? `    backend: redis\n    redis_url: ${redisUrl}\n    redis_prefix: ${redisPrefix}\n`
      : `    backend: ${backend}\n`;
  writeFileSync(
    join(dir, 'mcp_agent.config.yaml'),
    `mcp:
  servers:
    ${SERVER}:
      transport: streamable_http
      url: ${mcpUrl}
      auth:
        oauth:
          enabled: true
          scopes: [mcp:read]
          client_id: bench-client
oauth:
  token_store:
${store}`,
  );
}

/** Load the config in `dir`, open its store and a TokenManager; discovery is warmed. */
export async function openAuth(dir) {
  const { settings } = loadSettings({ cwd: dir, env: {}, homeDir: dir, dotenv: false });
  const store = createTokenStore(settings.oauth.token_store, { cwd: dir, homeDir: dir });
  const tokens = new TokenManager({
    store,
    oauth: settings.oauth,
    fetch: (input, init) => fetch(input, init),
  });
  const auth = tokens.forServer(SERVER, settings.mcp.servers[SERVER]);
  if (!auth) throw new Error(`server ${SERVER} does not use OAuth`);
  const { key } = await auth.target();
  return { settings, store, tokens, auth, key };
}

/** A pooled fetch for the MCP server (keep-alive, at most 128 connections). */
export function pooledFetch() {
  const dispatcher = new Agent({ connections: 128, keepAliveTimeout: 30_000 });
  const call = (input, init) => undiciFetch(input, { ...init, dispatcher });
  call.close = () => dispatcher.close();
  return call;
}

/** One `tools/call`; whether it got a JSON-RPC result. Never throws. */
export async function toolCall(fetchFn, url, id, headers = {}) {
  try {
    const response = await fetchFn(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...headers,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'x' } },
      }),
    });
    const body = await response.json().catch(() => undefined);
    return response.status === 200 && body?.result !== undefined;
  } catch {
    return false;
  }
}
