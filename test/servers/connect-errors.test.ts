/**
 * The failures of the MCP SDK v2 client read as v1's did: its timeout (`SdkError`
 * `REQUEST_TIMEOUT`, v1's `McpError` -32001) is `SERVER_TIMEOUT`; a stdio connection that closed
 * before the answer (`CONNECTION_CLOSED`, v1's -32000) is a server that exited; an HTTP status
 * rides in `SdkHttpError`'s `data.status` (v1: the error's `code`); a 403 `insufficient_scope`
 * that reached the transport (no `authProvider`: our `fetch` did not answer it) is the SDK's
 * `InsufficientScopeError`, read as the 403 it was. A server's own JSON-RPC error data says
 * nothing about HTTP.
 */
import {
  InsufficientScopeError,
  ProtocolError,
  SdkError,
  SdkErrorCode,
  SdkHttpError,
} from '@modelcontextprotocol/client';
import { expect, test } from 'vitest';
import { serverSchema } from '../../src/config/schema/servers.js';
import { describeConnectError } from '../../src/servers/connect-errors.js';

const remote = serverSchema.parse({
  transport: 'streamable_http',
  url: 'https://mcp.example.com/mcp',
});
const local = serverSchema.parse({ transport: 'stdio', command: 'my-server --flag' });

test('the SDK v2 timeout is SERVER_TIMEOUT', () => {
  const error = new SdkError(SdkErrorCode.RequestTimeout, 'Request timed out', { timeout: 5 });
  expect(describeConnectError('docs', remote, error)).toMatchObject({
    code: 'SERVER_TIMEOUT',
    message: expect.stringContaining('did not answer in time'),
  });
});

test('a stdio connection closed before the answer is a server that exited', () => {
  const error = new SdkError(SdkErrorCode.ConnectionClosed, 'Connection closed');
  expect(describeConnectError('local', local, error)).toMatchObject({
    code: 'SERVER_CONNECT',
    message: expect.stringContaining('exited before it answered'),
  });
});

test("an HTTP status in SdkHttpError's data decides, as v1's code did", () => {
  const notFound = new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'Error POSTing', {
    status: 404,
    statusText: 'Not Found',
  });
  expect(describeConnectError('docs', remote, notFound).message).toContain(
    'no MCP endpoint at https://mcp.example.com/mcp (HTTP 404)',
  );
  const unauthorized = new SdkHttpError(SdkErrorCode.ClientHttpNotImplemented, 'Error POSTing', {
    status: 401,
  });
  expect(describeConnectError('docs', remote, unauthorized)).toMatchObject({
    code: 'SERVER_AUTH_REQUIRED',
    message: expect.stringContaining('(HTTP 401)'),
  });
});

test('InsufficientScopeError is the 403 it answered', () => {
  const error = new InsufficientScopeError({ requiredScope: 'admin' });
  expect(describeConnectError('docs', remote, error)).toMatchObject({
    code: 'SERVER_AUTH_REQUIRED',
    message: expect.stringContaining('(HTTP 403)'),
  });
});

test("a server's JSON-RPC error data with a status is no HTTP status", () => {
  const error = new ProtocolError(-32603, 'failed', { status: 401 });
  const described = describeConnectError('docs', remote, error);
  expect(described.code).toBe('SERVER_CONNECT');
  expect(described.message).not.toContain('401');
});
