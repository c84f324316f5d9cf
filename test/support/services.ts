/**
 * What some tests need beyond Node (a Redis, the `redis-server` binary, the build in `dist/`, a
 * POSIX platform), and the one rule for when it is missing. Every test that needs one of these
 * goes through {@link describeWith} or {@link testWith}; no test file calls `skipIf` itself.
 *
 * The rule: a missing service fails the tests that need it, with a message saying how to start
 * it, when `CI` is set, when `MCP_AGENT_TEST_REQUIRE` names it (`redis,redis-server,build,chromium,haproxy` or
 * `all`), or, for Redis, when `REDIS_URL` is set. Otherwise (a local run) those tests are
 * skipped, and the closing summary (test/support/summary-line.ts) prints one line per reason.
 * A platform condition (POSIX file modes) is never required: the test means nothing elsewhere.
 */
import { existsSync } from 'node:fs';
import { beforeAll, describe, test } from 'vitest';
import { redisReachable, redisServerInstalled } from './redis-server.js';

declare module 'vitest' {
  interface TaskMeta {
    /** Why a test did not run: what is missing and how to start it (set by describeWith/testWith). */
    unavailable?: string;
  }
}

/** Something a test needs, whether it is there, and what to do when it is not. */
export interface Requirement {
  /** The key `MCP_AGENT_TEST_REQUIRE` names it by: `redis`, `redis-server`, `build`, `chromium`; or a platform. */
  readonly key: string;
  readonly available: boolean;
  /** What is missing and how to start or install it, as one sentence. */
  readonly missing: string;
  /** Whether a missing one fails the tests (CI, or expected) instead of skipping them. */
  readonly required: boolean;
}

/** The Redis the tests share: `REDIS_URL`, default the README's redis://127.0.0.1:6379. */
export const REDIS_URL: string = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

const truthy = (value: string | undefined): boolean =>
  value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';

/** Why a missing `key` is a failure here, or `undefined` when it may be skipped. */
export function requiredBecause(
  key: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (truthy(env.CI)) return 'CI is set';
  const listed = (env.MCP_AGENT_TEST_REQUIRE ?? '').split(',').map((item) => item.trim());
  if (listed.includes(key) || listed.includes('all')) return `MCP_AGENT_TEST_REQUIRE lists ${key}`;
  if (key === 'redis' && truthy(env.REDIS_URL)) return 'REDIS_URL is set';
  return undefined;
}

function requirement(key: string, available: boolean, missing: string): Requirement {
  return { key, available, missing, required: requiredBecause(key) !== undefined };
}

let redisProbe: Promise<Requirement> | undefined;

/** A Redis answering PING at {@link REDIS_URL} (probed once per test file). */
export function redisService(): Promise<Requirement> {
  redisProbe ??= redisReachable(REDIS_URL).then((up) =>
    requirement(
      'redis',
      up,
      `no Redis answers at ${REDIS_URL}: start one with \`redis-server --port ${new URL(REDIS_URL).port || 6379} --save '' --appendonly no --daemonize yes\` (or point REDIS_URL at one)`,
    ),
  );
  return redisProbe;
}

/** The `redis-server` binary, for tests that start, kill and restart a Redis of their own. */
export const redisServerBinary: Requirement = requirement(
  'redis-server',
  redisServerInstalled,
  'redis-server is not on the PATH: install Redis (Debian/Ubuntu `apt-get install redis-server`, macOS `brew install redis`)',
);

/** A file of the build (`dist/…`, relative to the repository), for tests that run the built code. */
export function builtFile(path: string): Requirement {
  return requirement(
    'build',
    existsSync(new URL(`../../${path}`, import.meta.url)),
    `${path} does not exist: run \`npm run build\` first`,
  );
}

/** Debian's Chromium, for the browser tests (test/browser/, driven by playwright-core). */
export function chromiumBrowser(path: string): Requirement {
  return requirement(
    'chromium',
    existsSync(path),
    `Chromium is not installed at ${path}: install it with \`apt-get install -y chromium\` (Debian; .ci/run does this) or set CHROMIUM_PATH`,
  );
}

/** A platform condition: never required, the tests it guards mean nothing elsewhere. */
export function onPlatform(available: boolean, missing: string): Requirement {
  return { key: 'platform', available, missing, required: false };
}

function firstMissing(needs: Requirement | readonly Requirement[]): Requirement | undefined {
  return (Array.isArray(needs) ? needs : [needs]).find((need: Requirement) => !need.available);
}

function failure(need: Requirement): Error {
  return new Error(
    `${need.missing} (a failure, not a skip, because ${requiredBecause(need.key)}).`,
  );
}

/**
 * `describe` when every requirement is met, used as `describeWith(needs)(name, body)`.
 * Otherwise: skipped with the reason in each test's `meta.unavailable` (summarised at the end of
 * the run), or, when required, the suite fails before its own hooks run, with the message.
 */
export function describeWith(
  needs: Requirement | readonly Requirement[],
): (name: string, body: () => void) => void {
  const missing = firstMissing(needs);
  return (name, body) => {
    if (!missing) describe(name, body);
    else if (!missing.required)
      describe(name, { skip: true, meta: { unavailable: missing.missing } }, body);
    else
      describe(name, () => {
        // Registered first, so it runs before the body's own hooks and fails the suite.
        beforeAll(() => {
          throw failure(missing);
        });
        body();
      });
  };
}

/**
 * `test` when every requirement is met, used as `testWith(needs)(name, fn, timeout)`; see
 * {@link describeWith} otherwise (a required one fails the test itself).
 */
export function testWith(
  needs: Requirement | readonly Requirement[],
): (name: string, fn: () => unknown, timeout?: number) => void {
  const missing = firstMissing(needs);
  return (name, fn, timeout) => {
    if (!missing) test(name, fn, timeout);
    else if (!missing.required)
      test(name, { skip: true, meta: { unavailable: missing.missing } }, fn);
    else
      test(name, () => {
        throw failure(missing);
      });
  };
}
