/**
 * Two `mcp-agent serve` processes (the built CLI, `dist/`) on different ports share a Redis token
 * store and one public callback (replica B): a caller's call on A asks them to sign in, the
 * browser goes through B's sign-in check and callback, and A's call completes with the token B
 * stored. Skipped when Redis does not answer.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { tempTree } from '../helpers/cli.js';
import { userTokens } from '../server/serve-support.js';
import { deleteRedisKeys } from '../support/redis-server.js';
import { builtFile, describeWith, REDIS_URL, redisService } from '../support/services.js';
import {
  connect,
  DOWN_SCOPE,
  type Inbound,
  type Realm,
  startInbound,
  startRealm,
  subOf,
} from './delegated-support.js';

const redis = await redisService();
const PREFIX = `mcp-agent-test-processes-${randomUUID()}`;
const CLI = fileURLToPath(new URL('../../bin/mcp-agent.js', import.meta.url));

let inbound: Inbound;
let realm: Realm;
const children: ChildProcess[] = [];
let tree: ReturnType<typeof tempTree>;

/** Start `serve` on `port`; resolves with its MCP URL once it printed it. */
async function serveProcess(config: string, port: number): Promise<string> {
  const child = spawn(
    process.execPath,
    [CLI, '--config', config, '--json', 'serve', '--port', String(port)],
    {
      cwd: tree.dir,
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let out = '';
  let err = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`serve did not start: ${err}`)), 20_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      try {
        const { url } = JSON.parse(out) as { url: string };
        clearTimeout(timer);
        done(url);
      } catch {
        // not the whole document yet
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      fail(new Error(`serve exited (${code}): ${err}`));
    });
  });
}

describeWith([redis, builtFile('dist/cli/main.js')])('two serve processes sharing Redis', () => {
  let urlA = '';
  let urlB = '';

  beforeAll(async () => {
    inbound = await startInbound();
    realm = await startRealm();
    tree = tempTree();
    const config = join(tree.dir, 'mcp_agent.config.yaml');
    writeFileSync(
      config,
      `name: delegated-processes
mcp:
  servers:
    down:
      transport: streamable_http
      url: ${realm.server.url}
      auth:
        oauth:
          enabled: true
          scopes: [${DOWN_SCOPE}]
oauth:
  background_refresh: false
  callback_base_url: http://127.0.0.1:${inbound.port}
  token_store:
    backend: redis
    redis_url: ${REDIS_URL}
    redis_prefix: ${PREFIX}
authorization:
  enabled: true
  issuer_url: ${inbound.as.issuer}
  resource_server_url: ${inbound.resource}
  expected_audiences: [${inbound.resource}]
  required_scopes: [mcp:tools]
`,
    );
    // B listens where the inbound tokens point (the public address), and is the callback.
    urlB = await serveProcess(config, inbound.port);
    urlA = await serveProcess(config, 0);
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(
      children.map((child) =>
        child.exitCode === null ? new Promise((done) => child.once('exit', done)) : undefined,
      ),
    );
    await realm?.close();
    await inbound?.as.close();
    tree?.cleanup();
    if (redis.available) await deleteRedisKeys(REDIS_URL, PREFIX);
  });

  test("a sign-in asked by process A completes at process B's check and callback; A's call goes on; B then serves the caller", async () => {
    expect(new URL(urlA).port).not.toBe(new URL(urlB).port);
    const token = (await userTokens(inbound.as.issuer, inbound.resource, 'alice')).accessToken;
    const onA = await connect(urlA, token, { signInAs: 'alice-down' });
    try {
      const result = await onA.call('down_whoami');
      expect(result.isError).toBeFalsy();
      expect(subOf(result)).toBe('alice-down');
      const request = onA.log.requests[0];
      const link = new URL(request?.mode === 'url' ? request.url : '');
      expect(link.origin).toBe(new URL(urlB).origin);
      expect(onA.log.pages[0]?.body).toContain('Signed in');
    } finally {
      await onA.close();
    }
    const onB = await connect(urlB, token, { signInAs: 'alice-down' });
    try {
      expect(subOf(await onB.call('down_whoami'))).toBe('alice-down');
      expect(onB.log.requests).toHaveLength(0);
    } finally {
      await onB.close();
    }
  });
});
