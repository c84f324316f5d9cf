/**
 * The house rules for the tests themselves (DESIGN.md, "Tests"): no silent skips (a test that
 * needs a service goes through test/support/services.ts) and no real-time sleeps.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { requiredBecause } from './support/services.js';

const root = fileURLToPath(new URL('.', import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? entry.name === 'fixtures'
        ? []
        : sources(join(dir, entry.name))
      : /\.(ts|mjs)$/.test(entry.name)
        ? [join(dir, entry.name)]
        : [],
  );
}

const files = sources(root).map((file) => ({
  path: relative(root, file).replaceAll('\\', '/'),
  text: readFileSync(file, 'utf8'),
}));

/** `path:line` of every line of the test sources matching `pattern`, except in `allowed`. */
function offenders(pattern: RegExp, allowed: readonly string[] = []): string[] {
  return files
    .filter((file) => !allowed.includes(file.path) && file.path !== 'test-rules.test.ts')
    .flatMap((file) =>
      file.text
        .split('\n')
        .flatMap((line, index) => (pattern.test(line) ? [`${file.path}:${index + 1}`] : [])),
    );
}

test('no test skips itself: what a test needs goes through test/support/services.ts', () => {
  expect(
    offenders(/\b(skipIf|runIf)\b|\b(describe|test|it)\.(skip|todo)\b|\bskip: true\b/, [
      'support/services.ts',
    ]),
  ).toEqual([]);
});

test('no real-time sleep: no promise resolved by a timer (inject the clock or await the event)', () => {
  expect(
    offenders(
      /new Promise\(\s*\(?\s*(\w+)\s*\)?\s*=>\s*setTimeout\(\s*\1\b|from 'node:timers\/promises'/,
      // waitFor polls what another process or socket does, up to a deadline; the conformance
      // suite's reference server spaces its progress and log notifications as the scenarios'
      // own example server does (a server's behaviour under test, not a test waiting).
      ['support/net.ts', 'conformance/reference-tools.mjs'],
    ),
  ).toEqual([]);
});

describe('a missing service fails or skips (test/support/services.ts)', () => {
  test.each([
    [{}, undefined],
    [{ CI: 'true' }, 'CI is set'],
    [{ CI: '1' }, 'CI is set'],
    [{ CI: 'false' }, undefined],
    [{ CI: '' }, undefined],
    [{ MCP_AGENT_TEST_REQUIRE: 'redis-server, redis' }, 'MCP_AGENT_TEST_REQUIRE lists redis'],
    [{ MCP_AGENT_TEST_REQUIRE: 'all' }, 'MCP_AGENT_TEST_REQUIRE lists redis'],
    [{ MCP_AGENT_TEST_REQUIRE: 'build' }, undefined],
    [{ REDIS_URL: 'redis://127.0.0.1:6380' }, 'REDIS_URL is set'],
  ] as const)('redis with %o: %s', (env, expected) => {
    expect(requiredBecause('redis', env)).toBe(expected);
  });

  test('REDIS_URL says nothing about the build or redis-server', () => {
    const env = { REDIS_URL: 'redis://127.0.0.1:6380' };
    expect(requiredBecause('build', env)).toBeUndefined();
    expect(requiredBecause('redis-server', env)).toBeUndefined();
    expect(requiredBecause('build', { MCP_AGENT_TEST_REQUIRE: 'build' })).toBe(
      'MCP_AGENT_TEST_REQUIRE lists build',
    );
  });
});
