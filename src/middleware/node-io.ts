/**
 * What the adapters over node:http (node, Express, Fastify) share: reading a node:http request
 * for the core (every value of a repeated header: `headersDistinct`, since `headers` keeps only
 * the first `Authorization`), writing an answer, handing the caller on as the SDK's `req.auth`, and
 * watching the response for the `Mcp-Session-Id` that binds a session to its caller.
 *
 * @module
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { codedTypeError } from '../errors.js';
import type { HttpAnswer } from '../server/http-reply.js';
import { send } from '../server/http-reply.js';
import type { AuthInfo } from '../server/identity.js';
import type { McpAuthNext } from './protection.js';
import type { RequestInput } from './request.js';

/** A node:http request as an SDK transport reads it: the caller in `auth`. */
export type AuthedIncomingMessage = IncomingMessage & { auth?: AuthInfo };

const misuse = (message: string): TypeError => codedTypeError('ERR_INVALID_ARG_TYPE', message);

/**
 * Throw a `TypeError` naming `adapter` unless `req` and `res` are a node:http request and
 * response (a fetch `Request` belongs to `mcp-agent-ts/web` or `/hono`).
 */
export function assertNodeExchange(
  req: unknown,
  res: unknown,
  adapter: string,
): asserts req is IncomingMessage {
  if (req instanceof Request) {
    throw misuse(
      `${adapter} takes a node:http request and response, not a fetch Request: use withMcpAuth of mcp-agent-ts/web (or mcp-agent-ts/hono)`,
    );
  }
  const request = req as Partial<IncomingMessage> | null;
  const response = res as Partial<ServerResponse> | null;
  if (
    typeof request?.headersDistinct !== 'object' ||
    typeof response?.writeHead !== 'function' ||
    typeof response.end !== 'function'
  ) {
    throw misuse(`${adapter} takes a node:http request and response (req, res)`);
  }
}

/** `req` as the core reads it, at `url` (its request target), with the body the framework parsed. */
export function nodeRequestInput(
  req: IncomingMessage,
  url: string,
  parsedBody?: unknown,
): RequestInput {
  return {
    method: req.method ?? 'GET',
    url,
    headers: req.headersDistinct,
    parsedBody,
    body: () => req,
  };
}

/** Write `answer` to `res` (only end it when headers are out already). */
export function writeAnswer(res: ServerResponse, answer: HttpAnswer): void {
  send(res, answer.status, answer.headers, answer.body);
}

function sessionHeader(headers: unknown): string | undefined {
  if (Array.isArray(headers)) {
    const flat = headers.flat() as unknown[];
    for (let index = 0; index + 1 < flat.length; index += 2) {
      const name = flat[index];
      if (typeof name === 'string' && name.toLowerCase() === 'mcp-session-id') {
        return String(flat[index + 1]);
      }
    }
    return undefined;
  }
  if (headers === null || typeof headers !== 'object') return undefined;
  for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
    if (name.toLowerCase() === 'mcp-session-id' && value !== undefined) return String(value);
  }
  return undefined;
}

/**
 * Hand the caller to the handler (`req.auth`) and tell `next` how the response starts (its status
 * and `Mcp-Session-Id`), whether the handler calls `writeHead` or lets Node write the head.
 */
export function passCaller(
  req: AuthedIncomingMessage,
  res: ServerResponse,
  next: McpAuthNext,
): void {
  req.auth = next.authInfo;
  const writeHead = res.writeHead;
  const watched = function (this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead;
    const [status, ...rest] = args;
    const given = sessionHeader(rest.find((arg) => typeof arg === 'object' && arg !== null));
    const set = res.getHeader('mcp-session-id');
    next.responded(Number(status), given ?? (set === undefined ? undefined : String(set)));
    return (writeHead as (...all: unknown[]) => ServerResponse).apply(this, args);
  };
  res.writeHead = watched as ServerResponse['writeHead'];
}
