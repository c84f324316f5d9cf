/**
 * What each middleware entry point loads, measured on the build in a fresh Node process (a
 * resolve hook records every module): the core loads no HTTP client library, no Redis client, no
 * MCP SDK and no authorization server; no adapter loads a framework (theirs are type imports), nor
 * any of those.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { expect } from 'vitest';
import { builtFile, testWith } from '../support/services.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

const FORBIDDEN =
  /\/node_modules\/(undici|redis|@redis|@modelcontextprotocol|oidc-provider|express|hono|@hono|fastify)\//;

/**
 * Import `file` in a new process (then run `then` with its exports as `entry`) and list every
 * `node_modules` package file it loaded.
 */
function loadedBy(file: string, then = ''): string[] {
  const script = [
    "import { registerHooks } from 'node:module';",
    'const seen = [];',
    'registerHooks({ resolve(specifier, context, next) { const found = next(specifier, context); seen.push(found.url); return found; } });',
    'const entry = await import(process.argv[1]);',
    then,
    'process.stdout.write(JSON.stringify(seen));',
  ].join('\n');
  const run = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', script, pathToFileURL(`${root}${file}`).href],
    { encoding: 'utf8', timeout: 30_000, env: withoutProxy() },
  );
  expect(run.stderr).toBe('');
  return (JSON.parse(run.stdout) as string[]).filter((url) => url.includes('/node_modules/'));
}

/** This process's environment without its proxy variables. */
function withoutProxy(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY']) {
    delete env[name];
    delete env[name.toLowerCase()];
  }
  return env;
}

const ENTRIES = ['index', 'express', 'hono', 'fastify', 'node', 'web'];

testWith(builtFile('dist/middleware/index.js'))(
  'no entry of the middleware loads undici, redis, the MCP SDK, oidc-provider or a framework',
  () => {
    for (const entry of ENTRIES) {
      const loaded = loadedBy(`dist/middleware/${entry}.js`);
      expect(
        loaded.filter((url) => FORBIDDEN.test(url)),
        entry,
      ).toEqual([]);
      // What it does load: jose (the JWT verifier), zod and yaml (the settings).
      expect(
        loaded.some((url) => url.includes('/node_modules/jose/')),
        entry,
      ).toBe(true);
    }
  },
  60_000,
);

testWith(builtFile('dist/middleware/index.js'))(
  'createMcpAuth loads undici (the proxy-aware stack of serve) only when its environment names a proxy',
  () => {
    const create = (env: Record<string, string>) =>
      [
        'const auth = await entry.createMcpAuth({',
        "  authorization: { issuer_url: 'http://127.0.0.1:1', resource_server_url: 'http://127.0.0.1:2/mcp', expected_audiences: ['http://127.0.0.1:2/mcp'] },",
        `  env: ${JSON.stringify(env)},`,
        '});',
        'await auth.close();',
      ].join('\n');
    const undici = (loaded: string[]) =>
      loaded.some((url) => url.includes('/node_modules/undici/'));
    expect(undici(loadedBy('dist/middleware/index.js', create({})))).toBe(false);
    expect(
      undici(loadedBy('dist/middleware/index.js', create({ HTTPS_PROXY: 'http://127.0.0.1:3' }))),
    ).toBe(true);
  },
  60_000,
);
