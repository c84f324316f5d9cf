/**
 * Workflow runs on two replicas (two `createApp`s) sharing the Redis token store (sealed with an
 * `encryption_key`): a run started on A is read and cancelled on B; A killed mid-run (its ticks
 * stop) → the clock passes the lease → B's sweep takes the run over and completes it from the
 * stored input; another principal finds no run on either replica; the run's input and result
 * never appear in Redis in clear. Needs a Redis at REDIS_URL (default redis://127.0.0.1:6379).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { type App, createApp } from '../../src/app/create-app.js';
import type { AppBuilder } from '../../src/app/define.js';
import { settingsSchema } from '../../src/config/schema/settings.js';
import type { SchedulerTimers } from '../../src/oauth/scheduler.js';
import type { CallerIdentity } from '../../src/server/identity.js';
import { manualClock } from '../support/clock.js';
import { deleteRedisKeys, rawRedis } from '../support/redis-server.js';
import { describeWith, REDIS_URL, redisService } from '../support/services.js';

const redis = await redisService();
const INPUT_CANARY = 'CANARY-workflow-input-7q2w';
const RESULT_CANARY = 'CANARY-workflow-result-3k9d';
const PASSPHRASE = 'a passphrase of the replicas, long enough';

/** Timers that never fire: the test runs each replica's ticks itself. */
const noTimers: SchedulerTimers = { set: () => 0, clear: () => {} };

function caller(subject: string): CallerIdentity {
  return {
    issuer: 'https://issuer.example',
    subject,
    scopes: [],
    claims: { sub: subject },
    verifiedBy: 'jwt',
  };
}
const alice = caller('alice');
const mallory = caller('mallory');

/** Executions of the `slow` workflow, each finished by the test. */
interface Execution {
  readonly input: Record<string, unknown>;
  readonly replica: string;
  readonly signal: AbortSignal;
  finish(value: unknown): void;
}

const executions: Execution[] = [];
const waiting: { count: number; resolve: () => void }[] = [];

/** Resolves once `count` executions have started (on any replica). */
function executionsStarted(count: number): Promise<void> {
  if (executions.length >= count) return Promise.resolve();
  return new Promise((resolve) => waiting.push({ count, resolve }));
}

/** The app module of replica `replica`: one workflow that waits for the test. */
function setupOf(replica: string) {
  return (app: AppBuilder) => {
    app.workflow(
      'slow',
      (input, { signal }) =>
        new Promise((resolve, reject) => {
          executions.push({ input, replica, signal, finish: resolve });
          signal.addEventListener('abort', () => reject(new Error('aborted')));
          for (const wait of waiting.filter((item) => executions.length >= item.count)) {
            waiting.splice(waiting.indexOf(wait), 1);
            wait.resolve();
          }
        }),
    );
  };
}

const clock = manualClock(Date.now());
let prefix = '';
let replicas: App[] = [];

async function replica(name: string): Promise<App> {
  const app = await createApp({
    settings: settingsSchema.parse({
      oauth: {
        token_store: {
          backend: 'redis',
          redis_url: REDIS_URL,
          redis_prefix: prefix,
          encryption_key: PASSPHRASE,
        },
      },
    }),
    setup: setupOf(name),
    env: {},
    now: clock.now,
    workflowRuns: { replica: name, leaseMs: 30_000, timers: noTimers },
  });
  replicas.push(app);
  return app;
}

/** Call tool `name` of `app` as `who`; the parsed JSON answer, or the error text. */
async function call(app: App, name: string, args: Record<string, unknown>, who: CallerIdentity) {
  const tool = await app.catalog.find(name, who);
  if (!tool) throw new Error(`no tool ${name}`);
  const result = await tool.call(args, { caller: who, signal: new AbortController().signal });
  const text = (result.content[0] as { text: string }).text;
  return result.isError ? { error: text } : (JSON.parse(text) as Record<string, unknown>);
}

/** Every value under the test's prefix, as Redis holds it. */
async function redisValues(): Promise<string> {
  const client = await rawRedis(REDIS_URL);
  try {
    const values: string[] = [];
    for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
      for (const key of Array.isArray(batch) ? batch.map(String) : [String(batch)]) {
        values.push(`${key} ${String(await client.get(key))}`);
      }
    }
    return values.join('\n');
  } finally {
    client.destroy();
  }
}

describeWith(redis)('workflow runs shared by replicas through Redis', () => {
  beforeAll(() => {
    executions.length = 0;
  });

  afterEach(async () => {
    for (const app of replicas.splice(0)) await app.close();
    if (redis.available) await deleteRedisKeys(REDIS_URL, prefix);
  });

  afterAll(() => {
    replicas = [];
  });

  test('started on A, read and cancelled on B; A stops it on its next tick', async () => {
    prefix = `mcp-agent-test-runs-${randomUUID()}`;
    const [a, b] = [await replica('a'), await replica('b')];
    const before = executions.length;
    const started = await call(a, 'workflows-slow-run', { run_parameters: { n: 1 } }, alice);
    const runId = String(started.run_id);
    await executionsStarted(before + 1);
    expect(await call(b, 'workflows-get_status', { run_id: runId }, alice)).toMatchObject({
      status: 'running',
      workflow_id: 'slow',
    });
    expect(await call(b, 'workflows-cancel', { run_id: runId }, alice)).toMatchObject({
      status: 'cancelled',
    });
    const execution = executions[before] as Execution;
    expect(execution.replica).toBe('a');
    await a.runs.tick();
    expect(execution.signal.aborted).toBe(true);
    await a.runs.settled();
    expect(await call(a, 'workflows-get_status', { run_id: runId }, alice)).toMatchObject({
      status: 'cancelled',
    });
  });

  test('A killed mid-run: B takes the run over after the lease and completes it; sealed at rest', async () => {
    prefix = `mcp-agent-test-runs-${randomUUID()}`;
    const [a, b] = [await replica('a'), await replica('b')];
    const before = executions.length;
    const started = await call(
      a,
      'workflows-slow-run',
      { run_parameters: { secret: INPUT_CANARY } },
      alice,
    );
    const runId = String(started.run_id);
    await executionsStarted(before + 1);
    // Within the lease B leaves the run alone.
    clock.advance(10_000);
    await b.runs.tick();
    expect(executions).toHaveLength(before + 1);
    // A is killed: no more ticks. Past the lease, B's sweep claims the run and runs it again.
    clock.advance(30_000);
    await b.runs.tick();
    await executionsStarted(before + 2);
    const takeOver = executions[before + 1] as Execution;
    expect(takeOver).toMatchObject({ replica: 'b', input: { secret: INPUT_CANARY } });
    takeOver.finish({ echo: RESULT_CANARY });
    await b.runs.settled();
    for (const app of [a, b]) {
      expect(await call(app, 'workflows-get_status', { run_id: runId }, alice)).toMatchObject({
        status: 'completed',
        result: { echo: RESULT_CANARY },
      });
      // Another principal finds no such run, on either replica.
      for (const tool of ['workflows-get_status', 'workflows-cancel']) {
        expect(await call(app, tool, { run_id: runId }, mallory)).toEqual({
          error: `No workflow run ${runId}.`,
        });
      }
    }
    // A's late execution ends without overwriting B's result.
    (executions[before] as Execution).finish({ echo: 'late' });
    await a.runs.settled();
    expect(await call(b, 'workflows-get_status', { run_id: runId }, alice)).toMatchObject({
      result: { echo: RESULT_CANARY },
    });
    const stored = await redisValues();
    expect(stored).toContain(`${prefix}:#run:${runId}`);
    expect(stored).not.toContain(INPUT_CANARY);
    expect(stored).not.toContain(RESULT_CANARY);
  });

  test('A closed (a rolling restart): its run is handed over and B completes it at once', async () => {
    prefix = `mcp-agent-test-runs-${randomUUID()}`;
    const [a, b] = [await replica('a'), await replica('b')];
    const before = executions.length;
    const runId = String(
      (await call(a, 'workflows-slow-run', { run_parameters: { n: 3 } }, alice)).run_id,
    );
    await executionsStarted(before + 1);
    replicas.splice(replicas.indexOf(a), 1);
    await a.close();
    expect((executions[before] as Execution).signal.aborted).toBe(true);
    await b.runs.sweep();
    await executionsStarted(before + 2);
    (executions[before + 1] as Execution).finish('done on b');
    await b.runs.settled();
    expect(await call(b, 'workflows-get_status', { run_id: runId }, alice)).toMatchObject({
      status: 'completed',
      result: 'done on b',
    });
  });
});
