/**
 * `mcp-agent-ts/hono`: Hono middleware protecting an MCP endpoint with {@link McpAuth}.
 * {@link mcpAuthMetadata} answers the protected-resource metadata (RFC 9728 §3.1);
 * {@link requireMcpAuth}, on the endpoint's route, authenticates every request that reaches it
 * (RFC 6750), checks the tool scopes, and sets the caller in the context (`authInfo` for the
 * SDK's handlers, `caller`), with `currentCaller()` on in the handler.
 *
 * ```ts
 * const app = new Hono<{ Variables: McpAuthVariables }>();
 * app.use(mcpAuthMetadata(auth));
 * app.all('/mcp', requireMcpAuth(auth), (c) => mcp.fetch(c.req.raw, { authInfo: c.get('authInfo') }));
 * ```
 *
 * Loads no framework: Hono's types only.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from 'hono';
import type { AuthInfo, CallerIdentity } from '../server/identity.js';
import { assertOpen, type McpAuth } from './protection.js';
import { type RequestInput, unreadableRequest } from './request.js';
import { assertFetchRequest, responseOf } from './web-io.js';

/** The context variables {@link requireMcpAuth} sets. */
export interface McpAuthVariables {
  /** The SDK's `AuthInfo` (its `token` is empty): `mcp.fetch(c.req.raw, { authInfo })`. */
  authInfo: AuthInfo;
  /** The verified caller, as `currentCaller()` gives it in the handler. */
  caller: CallerIdentity;
  /** The JSON body, when the middleware read it for the tool scopes. */
  parsedBody: unknown;
}

/** Answers the metadata URLs of `auth`; other requests go on. */
export function mcpAuthMetadata(auth: McpAuth): MiddlewareHandler {
  assertOpen(auth, 'mcpAuthMetadata (mcp-agent-ts/hono)');
  return async function mcpAuthMetadata(c, next) {
    assertFetchRequest(c.req.raw, 'mcpAuthMetadata (mcp-agent-ts/hono)');
    const answer = auth.metadataFor(c.req.raw);
    if (!answer) {
      await next();
      return;
    }
    return responseOf(answer);
  };
}

/**
 * The request as the core reads it: a body some handler read already comes from Hono's cache, as
 * text (the core parses it when a tool scope needs it, and answers 400 when it is not JSON).
 */
async function inputOf(c: Context): Promise<Request | RequestInput> {
  const raw = c.req.raw;
  assertFetchRequest(raw, 'requireMcpAuth (mcp-agent-ts/hono)');
  if (!raw.bodyUsed || raw.method !== 'POST') return raw;
  return { method: raw.method, url: raw.url, headers: raw.headers, parsedBody: await c.req.text() };
}

/**
 * Authenticates every request that reaches it, or answers with the challenge; the handler after
 * it runs with the caller (`c.get('authInfo')`, `c.get('caller')`, `currentCaller()`).
 */
export function requireMcpAuth(auth: McpAuth): MiddlewareHandler<{ Variables: McpAuthVariables }> {
  assertOpen(auth, 'requireMcpAuth (mcp-agent-ts/hono)');
  return async function requireMcpAuth(c, next) {
    let outcome: Awaited<ReturnType<McpAuth['authenticate']>>;
    try {
      outcome = await auth.authenticate(await inputOf(c));
    } catch (error) {
      const unreadable = unreadableRequest(error);
      if (unreadable) return responseOf(unreadable);
      throw error;
    }
    if (outcome.action === 'respond') return responseOf(outcome.response);
    c.set('authInfo', outcome.authInfo);
    c.set('caller', outcome.caller);
    c.set('parsedBody', outcome.parsedBody);
    await outcome.run(() => next());
    outcome.responded(c.res.status, c.res.headers.get('mcp-session-id'));
    return;
  };
}
