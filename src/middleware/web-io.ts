/**
 * What the adapters over fetch `Request`/`Response` (web, Hono) share: the check that a `Request`
 * came in, and an answer as a `Response`.
 *
 * @module
 */
import { codedTypeError } from '../errors.js';
import type { HttpAnswer } from '../server/http-reply.js';

/** Throw a `TypeError` naming `adapter` unless `request` is a fetch `Request`. */
export function assertFetchRequest(request: unknown, adapter: string): asserts request is Request {
  if (request instanceof Request) return;
  const nodeLike = request !== null && typeof request === 'object' && 'headersDistinct' in request;
  throw codedTypeError(
    'ERR_INVALID_ARG_TYPE',
    nodeLike
      ? `${adapter} takes a fetch Request, not a node:http request: use mcp-agent-ts/node (or /express, /fastify)`
      : `${adapter} takes a fetch Request`,
  );
}

/** `answer` as a fetch `Response` (no body for an empty one: 204 and `HEAD` allow none). */
export function responseOf(answer: HttpAnswer): Response {
  return new Response(answer.body === '' ? null : answer.body, {
    status: answer.status,
    headers: answer.headers,
  });
}
