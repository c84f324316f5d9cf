/**
 * `mcp-agent-ts/express`: Express middleware protecting an MCP endpoint with {@link McpAuth}.
 * {@link mcpAuthMetadata} answers the protected-resource metadata (RFC 9728 §3.1);
 * {@link requireMcpAuth}, on the endpoint's route, authenticates every request that reaches it
 * (RFC 6750) from its headers, then checks the tool scopes (it reads the body itself when a scope
 * needs it, and sets `req.body`), and sets the caller as `req.auth` (what the SDK transports
 * read).
 *
 * ```ts
 * app.use(mcpAuthMetadata(auth));
 * app.all('/mcp', requireMcpAuth(auth), (req, res) => transport.handleRequest(req, res, req.body));
 * ```
 *
 * Put no body parser before it (`express.json()`, on the route or `app.use`): a parser before it
 * parses every body before the token is checked (the tool scopes still hold: `req.body` is checked,
 * as JSON, text or bytes). Put it last before the handler: `currentCaller()` holds in what it
 * calls.
 *
 * Loads no framework: Express's types only.
 *
 * @module
 */
import type { RequestHandler } from 'express';
import { assertNodeExchange, nodeRequestInput, passCaller, writeAnswer } from './node-io.js';
import { assertOpen, type McpAuth } from './protection.js';
import { unreadableRequest } from './request.js';

/** Answers the metadata URLs of `auth` (mount it on the app: it reads `req.originalUrl`). */
export function mcpAuthMetadata(auth: McpAuth): RequestHandler {
  assertOpen(auth, 'mcpAuthMetadata (mcp-agent-ts/express)');
  return function mcpAuthMetadata(req, res, next) {
    assertNodeExchange(req, res, 'mcpAuthMetadata (mcp-agent-ts/express)');
    const answer = auth.metadataFor(nodeRequestInput(req, req.originalUrl));
    if (answer) writeAnswer(res, answer);
    else next();
  };
}

/**
 * Authenticates every request that reaches it, or answers with the challenge; what comes after
 * it runs with the caller (`req.auth`, `currentCaller()`).
 */
export function requireMcpAuth(auth: McpAuth): RequestHandler {
  assertOpen(auth, 'requireMcpAuth (mcp-agent-ts/express)');
  return function requireMcpAuth(req, res, next) {
    assertNodeExchange(req, res, 'requireMcpAuth (mcp-agent-ts/express)');
    auth.authenticate(nodeRequestInput(req, req.originalUrl, req.body)).then(
      (outcome) => {
        if (outcome.action === 'respond') {
          writeAnswer(res, outcome.response);
          return;
        }
        // Read here, or decoded from express.text()/raw(): the JSON the tool scopes were checked on.
        if (outcome.parsedBody !== undefined) req.body = outcome.parsedBody;
        passCaller(req, res, outcome);
        outcome.run(() => next());
      },
      (error: unknown) => {
        const unreadable = unreadableRequest(error);
        if (unreadable) writeAnswer(res, unreadable);
        else next(error);
      },
    );
  };
}
