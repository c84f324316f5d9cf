/**
 * `mcp-agent-ts/fastify`: Fastify plugin and hook protecting an MCP endpoint with
 * {@link McpAuth}. {@link mcpAuthMetadata} registers the protected-resource metadata routes
 * (RFC 9728 §3.1); {@link requireMcpAuth}, the endpoint route's `preHandler`, authenticates every
 * request that reaches it (RFC 6750), checks the tool scopes on the body Fastify parsed, and sets
 * the caller as `request.raw.auth` (what the SDK transports read from the node:http request).
 *
 * ```ts
 * await app.register(mcpAuthMetadata(auth));
 * app.all('/mcp', { preHandler: requireMcpAuth(auth) }, async (request, reply) => {
 *   reply.hijack();
 *   await transport.handleRequest(request.raw, reply.raw, request.body);
 * });
 * ```
 *
 * Loads no framework: Fastify's types only.
 *
 * @module
 */
import type { FastifyPluginCallback, FastifyReply, preHandlerHookHandler } from 'fastify';
import type { HttpAnswer } from '../server/http-reply.js';
import { assertNodeExchange, nodeRequestInput, passCaller } from './node-io.js';
import { assertOpen, type McpAuth } from './protection.js';
import { unreadableRequest } from './request.js';

function reply(to: FastifyReply, answer: HttpAnswer): void {
  void to
    .code(answer.status)
    .headers(answer.headers)
    .send(answer.body === '' ? undefined : answer.body);
}

/** A plugin serving the metadata of `auth` at its paths (`GET`, `HEAD`, `OPTIONS`; 405 else). */
export function mcpAuthMetadata(auth: McpAuth): FastifyPluginCallback {
  assertOpen(auth, 'mcpAuthMetadata (mcp-agent-ts/fastify)');
  return function mcpAuthMetadata(instance, _options, done) {
    // Whatever body comes with another method, it is answered 405 (not 415 or 400) unread.
    instance.removeAllContentTypeParsers();
    instance.addContentTypeParser('*', (_request, _payload, parsed) => parsed(null));
    for (const path of auth.metadataPaths) {
      instance.all(path, (request, response) => {
        const answer = auth.metadataFor(nodeRequestInput(request.raw, request.raw.url ?? path));
        if (answer) reply(response, answer);
        else void response.code(404).send();
      });
    }
    done();
  };
}

/**
 * A `preHandler` hook authenticating every request of its route, or answering with the challenge;
 * the handler runs with the caller (`request.raw.auth`, `currentCaller()`).
 */
export function requireMcpAuth(auth: McpAuth): preHandlerHookHandler {
  assertOpen(auth, 'requireMcpAuth (mcp-agent-ts/fastify)');
  return function requireMcpAuth(request, response, done) {
    assertNodeExchange(request.raw, response.raw, 'requireMcpAuth (mcp-agent-ts/fastify)');
    const input = nodeRequestInput(request.raw, request.raw.url ?? request.url, request.body);
    auth.authenticate(input).then(
      (outcome) => {
        if (outcome.action === 'respond') {
          reply(response, outcome.response);
          return;
        }
        // Text or bytes (a parser with parseAs) go on as the JSON the tool scopes were checked on.
        if (outcome.parsedBody !== undefined) request.body = outcome.parsedBody;
        passCaller(request.raw, response.raw, outcome);
        // The handler runs inside done(): it starts with the caller as currentCaller().
        outcome.run(() => done());
      },
      (error: unknown) => {
        const unreadable = unreadableRequest(error);
        if (unreadable) reply(response, unreadable);
        else done(error instanceof Error ? error : new Error('authentication failed'));
      },
    );
  };
}
