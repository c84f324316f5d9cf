/**
 * The MCP Inspector 2.x, its command line, connects to `serve` in both of its protocol eras
 * (issue 18): `--protocol-era legacy` (`initialize`, a 2025-11-25 session), `modern`
 * (`server/discover`, stateless 2026-07-28 requests) and `auto` (it probes and gets 2026-07-28).
 * With authorization on, it sends a bearer of the development authorization server in `--header`,
 * or signs in itself on a terminal (discovery, registration, PKCE on the sign-in pages); with
 * authorization off, it needs nothing. Each era lists the tools and calls one that answers text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp, type RunningApp } from '../../src/app/create-app.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import { interopApp, startInteropApp } from '../interop/support.js';
import { type ServedApp, signIn, textOf, userTokens } from '../server/serve-support.js';
import { freePort } from '../support/net.js';
import { testWith } from '../support/services.js';
import { withTerminal } from '../support/terminal.js';
import {
  inspectorOnTerminal,
  inspectorVersion,
  resultOf,
  runInspector,
} from './support/inspector.js';

type Era = 'legacy' | 'modern' | 'auto';

/** The revision each era ends on against `serve`. */
const REVISION: Record<Era, string> = {
  legacy: '2025-11-25',
  modern: '2026-07-28',
  auto: '2026-07-28',
};

/** The key of the server's info in a 2026-07-28 result's `_meta`, which 2025-11-25 lacks. */
const SERVER_INFO = 'io.modelcontextprotocol/serverInfo';

let served: ServedApp;
let open: { running: RunningApp; close(): Promise<void>; url: string };
let bearer: string;
const homes: string[] = [];

/** A fresh home directory for one Inspector run (removed after the file). */
function home(): string {
  const dir = mkdtempSync(join(tmpdir(), 'inspector-home-'));
  homes.push(dir);
  return dir;
}

/** `serve` with authorization off: the same app, nothing in front. */
async function startOpenApp() {
  const port = await freePort();
  const app = await createApp({
    settings: settingsSchema.parse({ name: 'inspector-open' }),
    setup: interopApp,
    env: {},
  });
  const running = await app.listen({ host: '127.0.0.1', port });
  return {
    running,
    url: `http://127.0.0.1:${port}/mcp`,
    async close() {
      await running.close();
      await app.close();
    },
  };
}

beforeAll(async () => {
  [served, open] = await Promise.all([startInteropApp(), startOpenApp()]);
  bearer = (await userTokens(served.as.issuer, served.resource, 'alice')).accessToken;
}, 60_000);

afterAll(async () => {
  await served?.close();
  await open?.close();
  for (const dir of homes) rmSync(dir, { recursive: true, force: true });
});

/** One `--cli` run against `url` in `era`, `--format json`; its `result`. */
async function inspect(url: string, era: Era, argv: string[], token?: string) {
  const auth = token ? ['--header', `Authorization: Bearer ${token}`] : [];
  const args = ['--cli', url, '--transport', 'http', '--protocol-era', era, ...auth];
  return resultOf(await runInspector([...args, ...argv, '--format', 'json'], home()));
}

/** The era's revision, the tools listed, `whoami` and `add` called: what every era must do. */
async function listAndCall(url: string, era: Era, token?: string) {
  const run = (argv: string[]) => inspect(url, era, argv, token);
  const initialize = await run(['--method', 'initialize']);
  expect(initialize.protocolVersion).toBe(REVISION[era]);
  const listed = (await run(['--method', 'tools/list'])).tools as { name: string }[];
  expect(listed.map((tool) => tool.name)).toEqual(expect.arrayContaining(['whoami', 'add']));
  const add = await run([
    '--method',
    'tools/call',
    '--tool-name',
    'add',
    '--tool-arg',
    'a=2',
    'b=3',
  ]);
  expect(textOf(add)).toBe('5');
  // A 2026-07-28 result names the server in its `_meta`; a 2025-11-25 one does not.
  expect(Object.keys((add._meta ?? {}) as object).includes(SERVER_INFO)).toBe(era !== 'legacy');
  return JSON.parse(textOf(await run(['--method', 'tools/call', '--tool-name', 'whoami'])));
}

describe(`MCP Inspector ${inspectorVersion()} (--cli) against serve`, () => {
  for (const era of ['legacy', 'modern', 'auto'] as const) {
    test(`--protocol-era ${era}, authorization on: a bearer in --header, tools listed and called`, async () => {
      const caller = await listAndCall(served.resource, era, bearer);
      expect(caller).toMatchObject({ subject: 'alice', issuer: served.as.issuer });
    }, 60_000);

    test(`--protocol-era ${era}, authorization off: tools listed and called`, async () => {
      expect(await listAndCall(open.url, era)).toMatchObject({ subject: 'anonymous' });
    }, 60_000);
  }

  for (const era of ['legacy', 'modern'] as const) {
    test(`--protocol-era ${era}, no token and no terminal: auth_required, exit code 3 (the 401, no login)`, async () => {
      const args = ['--cli', served.resource, '--protocol-era', era, '--method', 'tools/list'];
      const run = await runInspector([...args, '--format', 'json'], home());
      expect(run.code).toBe(3);
      expect(run.stderr).toContain('"code":"auth_required"');
    }, 60_000);

    testWith(withTerminal())(
      `--protocol-era ${era}, on a terminal: the Inspector signs in itself, then calls whoami`,
      async () => {
        const callback = `http://127.0.0.1:${await freePort()}/oauth/callback`;
        const args = ['--cli', served.resource, '--protocol-era', era, '--callback-url', callback];
        const call = ['--method', 'tools/call', '--tool-name', 'whoami', '--format', 'json'];
        const { code, screen } = await inspectorOnTerminal([...args, ...call], home(), (url) =>
          signIn(url, 'bob'),
        );
        expect(screen).toContain('Authorization complete.');
        expect(code).toBe(0);
        const line = screen.split(/\r?\n/).find((text) => text.startsWith('{"result"')) ?? '{}';
        const caller = JSON.parse(textOf(JSON.parse(line).result));
        expect(caller).toMatchObject({ subject: 'bob', issuer: served.as.issuer });
      },
      60_000,
    );
  }
});
