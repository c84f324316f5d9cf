/**
 * Raw-HTTP helpers of the middleware rows: requests to the protected endpoint with any header
 * (repeated ones included), sessions, tool calls, and the checks of the response contract of
 * security.md §0.1.
 */
import { expect } from 'vitest';
import {
  challengeParams,
  initialize,
  mcpHeaders,
  message,
  type RawResponse,
  raw,
  rpc,
  textOf,
} from '../server/serve-support.js';
import type { Environment } from './environment.js';

/** Request headers; an array sends the header once per item. */
export type Headers = Record<string, string | string[]>;

/** `Authorization: Bearer token`. */
export const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/** POST `body` (an `initialize` by default) to the endpoint, or to `path`. */
export function post(env: Environment, headers: Headers, body = initialize(), path = '/mcp') {
  return raw(`${env.origin}${path}`, {
    method: 'POST',
    headers: { ...mcpHeaders(), ...headers },
    body,
  });
}

/** The headers that continue the session `token` opens (none on a stateless server). */
export async function openSession(env: Environment, token: string): Promise<Headers> {
  const opened = await post(env, bearer(token));
  expect(opened.status, opened.body).toBe(200);
  const id = opened.headers['mcp-session-id'];
  if (env.adapter.sessions) expect(typeof id).toBe('string');
  else expect(id).toBeUndefined();
  return { ...bearer(token), ...(typeof id === 'string' ? { 'mcp-session-id': id } : {}) };
}

/** `tools/call` of `name` without arguments. */
export function callTool(env: Environment, headers: Headers, name: string) {
  return post(env, headers, rpc('tools/call', { name, arguments: {} }));
}

/** The text of a successful tool call's answer. */
export function resultText(response: RawResponse): string {
  expect(response.status, response.body).toBe(200);
  return textOf(message(response.body).result);
}

/** The response refuses with `status` and a challenge with exactly `params` (RFC 6750 §3). */
export function expectChallenge(
  response: RawResponse,
  status: number,
  params: Record<string, string>,
): void {
  expect(response.status, response.body).toBe(status);
  expect(response.headers['www-authenticate'] ?? '').toMatch(/^Bearer /);
  expect(challengeParams(response.headers['www-authenticate'])).toEqual(params);
  expect(response.headers['cache-control']).toBe('no-store');
}
