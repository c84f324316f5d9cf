/**
 * Reading a JSON-RPC request body, capped in size, and what it asks for.
 *
 * @module
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { jsonRpcError } from './http-reply.js';

class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage, max: number): Promise<string> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > max) throw new BodyTooLarge();
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * The parsed JSON body of `req`, or `undefined` once refused: 413 beyond `max` bytes (declared
 * or read), 400 `Parse error` (JSON-RPC 2.0 §5.1) when it cannot be read or parsed.
 */
export async function readJson(
  req: IncomingMessage,
  res: ServerResponse,
  max: number,
): Promise<unknown> {
  let text: string;
  try {
    text = await readBody(req, max);
  } catch (error) {
    if (error instanceof BodyTooLarge) {
      jsonRpcError(res, 413, -32600, `Request body larger than ${max} bytes`);
    } else {
      jsonRpcError(res, 400, -32700, 'Parse error');
    }
    return undefined;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    jsonRpcError(res, 400, -32700, 'Parse error');
    return undefined;
  }
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
