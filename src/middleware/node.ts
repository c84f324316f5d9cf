/**
 * `mcp-agent-ts/node`: an MCP server on plain node:http protected by {@link McpAuth}. The
 * listener answers the protected-resource metadata (RFC 9728 §3.1) and authenticates every other
 * request before the handler runs (RFC 6750), so nothing reaches the handler unauthenticated,
 * whatever its path. The handler gets the caller as `req.auth` (what the SDK v1
 * `StreamableHTTPServerTransport` and SDK v2 `toNodeHandler` read), and the body when the
 * middleware read it for the tool scopes.
 *
 * ```ts
 * const auth = await createMcpAuth({ configPath: 'mcp_agent.config.yaml' });
 * createServer(withMcpAuth(auth, (req, res, body) => transport.handleRequest(req, res, body)));
 * ```
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonRpcErrorAnswer } from '../server/http-reply.js';
import {
  type AuthedIncomingMessage,
  assertNodeExchange,
  nodeRequestInput,
  passCaller,
  writeAnswer,
} from './node-io.js';
import { assertOpen, type McpAuth } from './protection.js';
import { unreadableRequest } from './request.js';

/** The handler behind {@link withMcpAuth}: `parsedBody` is the body when the middleware read it. */
export type ProtectedNodeHandler = (
  req: AuthedIncomingMessage,
  res: ServerResponse,
  parsedBody?: unknown,
) => unknown;

/** Options of {@link withMcpAuth}. */
export interface NodeMcpAuthOptions {
  /** Told of a handler that threw (the client gets 500 `Internal error`). */
  readonly onError?: (error: unknown) => void;
}

/**
 * A node:http request listener: the metadata of `auth`, else the request authenticated (and its
 * tool scopes checked) and handed to `handler` with the caller as `req.auth`; refusals are
 * answered with their challenge. A request the core cannot read is answered 400; a handler that
 * throws, 500.
 */
export function withMcpAuth(
  auth: McpAuth,
  handler: ProtectedNodeHandler,
  options: NodeMcpAuthOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  assertOpen(auth, 'withMcpAuth (mcp-agent-ts/node)');
  return function mcpAuthListener(req, res) {
    assertNodeExchange(req, res, 'withMcpAuth (mcp-agent-ts/node)');
    serve(auth, handler, req, res).catch((error: unknown) => {
      const unreadable = unreadableRequest(error);
      if (!unreadable) options.onError?.(error);
      writeAnswer(res, unreadable ?? jsonRpcErrorAnswer(500, -32603, 'Internal error'));
    });
  };
}

async function serve(
  auth: McpAuth,
  handler: ProtectedNodeHandler,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const outcome = await auth.handle(nodeRequestInput(req, req.url ?? '/'));
  if (outcome.action === 'respond') {
    writeAnswer(res, outcome.response);
    return;
  }
  passCaller(req, res, outcome);
  await outcome.run(() => handler(req, res, outcome.parsedBody));
}
