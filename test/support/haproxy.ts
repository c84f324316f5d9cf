/**
 * A real load balancer for the replica tests: Debian's HAProxy in front of several local
 * backends, plain round robin with no stickiness of any kind (no cookie, no source hash), as
 * a hosted agent's ingress would be. A request whose backend refused the connection or died
 * before answering is sent to another one (HAProxy's `retry-on` with `redispatch`): that is the
 * retry a client may expect from its infrastructure, nothing more.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitFor } from './net.js';
import { type Requirement, requiredBecause } from './services.js';

const BINARY = process.env.HAPROXY_PATH || 'haproxy';

/** HAProxy, for the load-balancer tests (installed by .ci/run from Debian's packages). */
export const haproxyBinary: Requirement = {
  key: 'haproxy',
  available: spawnSync(BINARY, ['-v'], { stdio: 'ignore' }).status === 0,
  missing: `${BINARY} is not on the PATH: install it with \`apt-get install -y haproxy\` (Debian; .ci/run does this) or set HAPROXY_PATH`,
  required: requiredBecause('haproxy') !== undefined,
};

/** A running load balancer. */
export interface LoadBalancer {
  /** `http://127.0.0.1:port`, the address clients use. */
  readonly url: string;
  /** Stop HAProxy and remove its configuration. */
  close(): Promise<void>;
}

/** HAProxy's configuration: one frontend, round robin over `backends` (ports on 127.0.0.1). */
export function haproxyConfig(port: number, backends: readonly number[]): string {
  const servers = backends.map(
    (backend, index) =>
      `  server replica${index + 1} 127.0.0.1:${backend} check inter 200ms fall 1 rise 2`,
  );
  return [
    'global',
    '  maxconn 512',
    'defaults',
    '  mode http',
    '  timeout connect 2s',
    '  timeout client 5m',
    '  timeout server 5m',
    '  timeout tunnel 5m',
    '  retries 3',
    '  option redispatch 1',
    '  retry-on conn-failure empty-response',
    'frontend clients',
    `  bind 127.0.0.1:${port}`,
    '  default_backend replicas',
    'backend replicas',
    '  balance roundrobin',
    ...servers,
    '',
  ].join('\n');
}

function accepts(port: number): Promise<true | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(undefined));
  });
}

/** Start HAProxy in the foreground on a free port, in front of `backends`. */
export async function startLoadBalancer(backends: readonly number[]): Promise<LoadBalancer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-haproxy-'));
  const file = join(dir, 'haproxy.cfg');
  writeFileSync(file, haproxyConfig(port, backends));
  const child: ChildProcess = spawn(BINARY, ['-db', '-f', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const exited = once(child, 'exit');
  try {
    await waitFor(
      'HAProxy to listen',
      () => {
        if (child.exitCode !== null) throw new Error(`HAProxy exited: ${stderr.trim()}`);
        return accepts(port);
      },
      10_000,
    );
  } catch (error) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
