/**
 * `createApp` failing half-way (here: the authorization server's metadata names a JWKS address
 * that is refused) closes what it had opened, so a caller that gives up on it leaks nothing: the
 * keep-alive connection of the metadata request is closed with the HTTP stack.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { isMcpAgentError } from '../../src/errors.js';
import { waitFor } from '../support/net.js';

let issuerServer: Server;
let issuer: string;

beforeAll(async () => {
  issuerServer = createServer((_req, res) => {
    // Keep-alive for a minute: only closing the client's HTTP stack ends the connection sooner.
    res.writeHead(200, {
      'content-type': 'application/json',
      connection: 'keep-alive',
      'keep-alive': 'timeout=60',
    });
    res.end(
      JSON.stringify({
        issuer,
        jwks_uri: 'http://jwks.example.com/keys', // plain http off loopback: refused
        token_endpoint: `${issuer}/token`,
      }),
    );
  });
  await new Promise<void>((done) => issuerServer.listen(0, '127.0.0.1', done));
  issuer = `http://127.0.0.1:${(issuerServer.address() as AddressInfo).port}`;
});

afterAll(() => new Promise((done) => issuerServer.close(done)));

function openConnections(): Promise<number> {
  return new Promise((resolve, reject) =>
    issuerServer.getConnections((error, count) => (error ? reject(error) : resolve(count))),
  );
}

test('a step that fails after the HTTP stacks were opened closes them', async () => {
  const error = await createApp({
    settings: settingsSchema.parse({
      authorization: {
        enabled: true,
        issuer_url: issuer,
        resource_server_url: 'http://127.0.0.1:9/mcp',
        expected_audiences: ['http://127.0.0.1:9/mcp'],
      },
    }),
    env: {},
  }).catch((caught: unknown) => caught);
  expect(isMcpAgentError(error, 'CONFIG_INVALID')).toBe(true);
  // The metadata request's keep-alive connection goes with the closed HTTP stack.
  await waitFor(
    'the keep-alive connection to close',
    async () => ((await openConnections()) === 0 ? true : undefined),
    2_000,
  );
});
