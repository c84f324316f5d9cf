/**
 * `mcp-agent-ts/fastify`: Fastify plugin and hook protecting an MCP endpoint with
 * {@link McpAuth}. {@link mcpAuthMetadata} registers the protected-resource metadata routes
 * (RFC 9728 §3.1); {@link requireMcpAuth}, the endpoint route's options, authenticates every
 * request that reaches it (RFC 6750) in `onRequest`, before Fastify reads its body, checks the
 * tool scopes on the body Fastify parsed in `preHandler`, and sets the caller as
 * `request.raw.auth` (what the SDK transports read from the node:http request).
 *
 * ```ts
 * await app.register(mcpAuthMetadata(auth));
 * app.all('/mcp', requireMcpAuth(auth), async (request, reply) => {
 *   reply.hijack();
 *   await transport.handleRequest(request.raw, reply.raw, request.body);
 * });
 * ```
 *
 * Loads no framework: Fastify's types only.
 *
 * @module
 */
import type { IncomingMessage } from 'node:http';
import type {
  FastifyPluginCallback,
  FastifyReply,
  onRequestHookHandler,
  preHandlerHookHandler,
} from 'fastify';
import type { HttpAnswer } from '../server/http-reply.js';
import { assertNodeExchange, nodeRequestInput, passCaller } from './node-io.js';
import { assertOpen, type McpAuth, type McpAuthHeadersChecked } from './protection.js';
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

/** The route options {@link requireMcpAuth} gives: its two hooks. */
export interface McpAuthHooks {
  /** Authenticates from the headers (`Host`, the token, the session), before Fastify reads the body. */
  readonly onRequest: onRequestHookHandler;
  /** Checks the tool scopes on the body Fastify parsed; the handler runs with the caller. */
  readonly preHandler: preHandlerHookHandler;
}

/** Answer what the core could not read with 400; hand any other error to Fastify. */
function failed(response: FastifyReply, done: (error?: Error) => void) {
  return (error: unknown) => {
    const unreadable = unreadableRequest(error);
    if (unreadable) reply(response, unreadable);
    else done(error instanceof Error ? error : new Error('authentication failed'));
  };
}

/**
 * The route options protecting a route (`app.all('/mcp', requireMcpAuth(auth), handler)`): an
 * `onRequest` hook authenticating every request, or answering with the challenge, before its body
 * is read; a `preHandler` hook checking the tool scopes on the parsed body. The handler runs with
 * the caller (`request.raw.auth`, `currentCaller()`), and `request.body` is the JSON that was
 * checked. With hooks of your own, give both: `{ ...requireMcpAuth(auth), preValidation }`.
 */
export function requireMcpAuth(auth: McpAuth): McpAuthHooks {
  assertOpen(auth, 'requireMcpAuth (mcp-agent-ts/fastify)');
  const authenticated = new WeakMap<IncomingMessage, McpAuthHeadersChecked>();
  return {
    onRequest: function requireMcpAuth(request, response, done) {
      assertNodeExchange(request.raw, response.raw, 'requireMcpAuth (mcp-agent-ts/fastify)');
      const input = nodeRequestInput(request.raw, request.raw.url ?? request.url);
      auth.authenticateHeaders(input).then(
        (checked) => {
          if (checked.action === 'respond') {
            reply(response, checked.response);
            return;
          }
          authenticated.set(request.raw, checked);
          done();
        },
        failed(response, done),
      );
    },
    preHandler: function mcpToolScopes(request, response, done) {
      const checked = authenticated.get(request.raw);
      authenticated.delete(request.raw);
      if (!checked) {
        done(new Error('requireMcpAuth: its preHandler ran without its onRequest hook'));
        return;
      }
      checked.withBody(request.body).then(
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
        failed(response, done),
      );
    },
  };
}
