/**
 * A small real MCP server for the tests of `createAgentAuth`'s connected clients: the MCP SDK's
 * own server (stateless Streamable HTTP) on a loopback port, behind opaque bearer tokens the test
 * chooses (`accepted`), with RFC 9728 and RFC 8414 metadata naming itself as the authorization
 * server (whose token endpoint refuses every grant, so a refused token leads to a login). Tools:
 * `ping` answers `pong`; `hold` answers once the test calls `release()`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

/** The running server. */
export interface OpaqueMcpServer {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  /** The authorization server's issuer (the same origin). */
  readonly issuer: string;
  /** The tokens the MCP endpoint accepts; anything else is a 401. */
  readonly accepted: Set<string>;
  /** How many `hold` calls are waiting. */
  readonly holding: () => number;
  /** Let every waiting `hold` call answer. */
  release(): void;
  close(): Promise<void>;
}

/** Start an {@link OpaqueMcpServer}. */
export async function startOpaqueMcpServer(accepted: readonly string[]): Promise<OpaqueMcpServer> {
  const tokens = new Set(accepted);
  let waiting: (() => void)[] = [];
  const http = createServer((req, res) => {
    void route(req, res);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;

  const mcp = async (req: IncomingMessage, res: ServerResponse) => {
    const server = new McpServer({ name: 'opaque', version: '1.0.0' });
    server.registerTool('ping', { description: 'pong' }, () => ({
      content: [{ type: 'text', text: 'pong' }],
    }));
    server.registerTool('hold', { description: 'answers when released' }, async () => {
      await new Promise<void>((resolve) => waiting.push(resolve));
      return { content: [{ type: 'text', text: 'released' }] };
    });
    const transport = new StreamableHTTPServerTransport({}); // stateless;
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };

  const route = async (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/.well-known/oauth-protected-resource/mcp') {
      return json(res, { resource: `${base}/mcp`, authorization_servers: [base] });
    }
    if (req.url === '/.well-known/oauth-authorization-server') {
      return json(res, {
        issuer: base,
        authorization_endpoint: `${base}/authorize`,
        token_endpoint: `${base}/token`,
        response_types_supported: ['code'],
        code_challenge_methods_supported: ['S256'],
        token_endpoint_auth_methods_supported: ['none'],
      });
    }
    if (req.url === '/token') return json(res, { error: 'invalid_grant' }, 400);
    const token = req.headers.authorization?.replace(/^Bearer /, '') ?? '';
    if (req.url !== '/mcp' || !tokens.has(token)) {
      res.writeHead(req.url === '/mcp' ? 401 : 404, {
        'www-authenticate': `Bearer resource_metadata="${base}/.well-known/oauth-protected-resource/mcp"`,
      });
      return res.end();
    }
    await mcp(req, res);
  };

  return {
    url: `${base}/mcp`,
    issuer: base,
    accepted: tokens,
    holding: () => waiting.length,
    release() {
      for (const resolve of waiting.splice(0)) resolve();
    },
    async close() {
      waiting.forEach((resolve) => {
        resolve();
      });
      waiting = [];
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    },
  };
}

function json(res: ServerResponse, body: unknown, status = 200): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
