/**
 * Dynamic client registration (RFC 7591) at the development authorization server, for metadata
 * real MCP clients send: `mcp-remote --device-code` asks for the device grant (no authorization
 * endpoint) with `response_types: ["code"]`. RFC 7591 §2 lets the server replace requested
 * values: the client is registered with `response_types: []` and can use the device grant.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type DevAuthorizationServer,
  startDevAuthorizationServer,
} from '../../src/dev/authorization-server.js';

const RESOURCE = 'http://127.0.0.1:8000/mcp';
const DEVICE_CODE = 'urn:ietf:params:oauth:grant-type:device_code';

type Json = Record<string, unknown>;

describe('registration with response types that do not match the grants', () => {
  let as: DevAuthorizationServer;

  beforeAll(async () => {
    as = await startDevAuthorizationServer({ port: 0, resources: [RESOURCE] });
  });
  afterAll(() => as?.close());

  async function register(metadata: Json) {
    const response = await fetch(`${as.issuer}/reg`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(metadata),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  test('the device grant with response_types ["code"] (mcp-remote): registered without them', async () => {
    const { status, body } = await register({
      redirect_uris: ['http://localhost:20548/oauth/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: [DEVICE_CODE, 'refresh_token'],
      response_types: ['code'],
      client_name: 'MCP CLI Proxy',
      application_type: 'native',
    });
    expect(status, JSON.stringify(body)).toBe(201);
    expect(body.response_types).toEqual([]);
    expect(body.grant_types).toEqual([DEVICE_CODE, 'refresh_token']);

    const started = await fetch(`${as.issuer}/device/auth`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: String(body.client_id), scope: 'mcp:tools' }),
    });
    expect(started.status).toBe(200);
    expect(((await started.json()) as Json).user_code).toEqual(expect.any(String));
  });

  test('response types are kept when the grants use them, and checked as before', async () => {
    const code = await register({
      redirect_uris: ['http://127.0.0.1:53682/callback'],
      token_endpoint_auth_method: 'none',
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    });
    expect(code.status).toBe(201);
    expect(code.body.response_types).toEqual(['code']);
    // Grants left to the default (authorization_code) keep the check on response types.
    const implicit = await register({
      redirect_uris: ['http://127.0.0.1:53682/callback'],
      response_types: ['id_token'],
    });
    expect(implicit.status).toBe(400);
    expect(implicit.body.error).toBe('invalid_client_metadata');
  });
});
