/**
 * Reading a JSON-RPC request body, capped in size, and what it asks for. {@link readJsonBody} reads
 * any byte stream (a node:http request, a fetch `Request`'s body), so the server middleware
 * (`src/middleware/`) reads bodies as `serve` does.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type HttpAnswer, jsonRpcErrorAnswer, send } from './http-reply.js';

/** A JSON body, or the answer that refuses it. */
export type JsonBody =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly answer: HttpAnswer };

class BodyTooLarge extends Error {}

async function readText(
  chunks: AsyncIterable<Uint8Array>,
  declaredLength: string | null | undefined,
  max: number,
): Promise<string> {
  const declared = Number(declaredLength ?? Number.NaN);
  if (declared > max) throw new BodyTooLarge();
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.byteLength;
    if (size > max) throw new BodyTooLarge();
    parts.push(chunk);
  }
  return Buffer.concat(parts).toString('utf8');
}

/**
 * The JSON body of `chunks` (its `content-length` is `declaredLength`), or the answer refusing it:
 * 413 beyond `max` bytes (declared or read), 400 `Parse error` (JSON-RPC 2.0 §5.1) when it cannot
 * be read or parsed.
 */
export async function readJsonBody(
  chunks: AsyncIterable<Uint8Array>,
  declaredLength: string | null | undefined,
  max: number,
): Promise<JsonBody> {
  let text: string;
  try {
    text = await readText(chunks, declaredLength, max);
  } catch (error) {
    return error instanceof BodyTooLarge
      ? {
          ok: false,
          answer: jsonRpcErrorAnswer(413, -32600, `Request body larger than ${max} bytes`),
        }
      : { ok: false, answer: jsonRpcErrorAnswer(400, -32700, 'Parse error') };
  }
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return { ok: false, answer: jsonRpcErrorAnswer(400, -32700, 'Parse error') };
  }
}

/** The parsed JSON body of `req`, or `undefined` once refused (see {@link readJsonBody}). */
export async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  max: number,
): Promise<unknown> {
  const body = await readJsonBody(req, req.headers['content-length'], max);
  if (body.ok) return body.value;
  send(res, body.answer.status, body.answer.headers, body.answer.body);
  return undefined;
}

/** Whether a JSON-RPC body (a message or a batch) holds an `initialize` request. */
export function isInitialize(body: unknown): boolean {
  const messages = Array.isArray(body) ? body : [body];
  return messages.some(
    (message) =>
      message !== null &&
      typeof message === 'object' &&
      (message as { method?: unknown }).method === 'initialize',
  );
}

/** The ids of the requests in a JSON-RPC body (not its notifications or responses). */
export function requestIds(body: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    if (message === null || typeof message !== 'object') continue;
    const { method, id } = message as { method?: unknown; id?: unknown };
    if (typeof method === 'string' && (typeof id === 'string' || typeof id === 'number')) {
      out.push(id);
    }
  }
  return out;
}

/** Names of the tools a JSON-RPC body calls. */
export function calledTools(body: unknown): string[] {
  const out: string[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    if (message === null || typeof message !== 'object') continue;
    const { method, params } = message as { method?: unknown; params?: { name?: unknown } };
    if (method === 'tools/call' && typeof params?.name === 'string') out.push(params.name);
  }
  return out;
}

/** The methods `prompts/get`, `resources/read`, `resources/subscribe`, `completion/complete`. */
const CONTENT_METHODS = new Set([
  'prompts/get',
  'resources/read',
  'resources/subscribe',
  'completion/complete',
]);

/**
 * The content requests (prompts, resources, completions) of a JSON-RPC body, with their params.
 * A 2026-07-28 `subscriptions/listen` naming `resourceSubscriptions` counts as a
 * `resources/subscribe` of each URI (SEP-2575): it needs the scopes they need.
 */
export function contentRequests(body: unknown): { method: string; params: unknown }[] {
  const out: { method: string; params: unknown }[] = [];
  for (const message of Array.isArray(body) ? body : [body]) {
    if (message === null || typeof message !== 'object') continue;
    const { method, params } = message as { method?: unknown; params?: unknown };
    if (typeof method === 'string' && CONTENT_METHODS.has(method)) out.push({ method, params });
    for (const uri of resourceSubscriptionsOf(method, params)) {
      out.push({ method: 'resources/subscribe', params: { uri } });
    }
  }
  return out;
}

/** The string `resourceSubscriptions` of a `subscriptions/listen` request's `params`. */
export function resourceSubscriptionsOf(method: unknown, params: unknown): string[] {
  if (method !== 'subscriptions/listen' || typeof params !== 'object' || params === null) return [];
  const filter = (params as { notifications?: { resourceSubscriptions?: unknown } }).notifications;
  const uris = filter?.resourceSubscriptions;
  return Array.isArray(uris) ? uris.filter((uri): uri is string => typeof uri === 'string') : [];
}
