/**
 * Workflow runs shared by replicas, on one in-memory store with a hand-moved clock: any replica
 * answers and cancels, the owner renews its lease on each tick and stops a run cancelled
 * elsewhere, an expired lease is taken over (attempt + 1) and run again from the stored input,
 * the old owner's late outcome is not written, and another principal finds nothing anywhere.
 */
import { expect, test } from 'vitest';
import type { AppWorkflow } from '../../src/app/define.js';
import { WorkflowRuns } from '../../src/app/workflows.js';
import { Secret } from '../../src/config/secret.js';
import type { SchedulerTimers } from '../../src/oauth/scheduler.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';
import { RunStore } from '../../src/stores/runs.js';
import { Sealer } from '../../src/stores/seal.js';
import { manualClock } from '../support/clock.js';

/** Timers that never fire: the test runs each tick itself. */
const noTimers: SchedulerTimers = { set: () => 0, clear: () => {} };

/** A workflow that waits until the test releases it (or its signal aborts). */
function gated(name = 'gated') {
  const started: { input: Record<string, unknown>; runId: string; signal: AbortSignal }[] = [];
  const releases: ((value: unknown) => void)[] = [];
  let onStart: (() => void) | undefined;
  const workflow: AppWorkflow = {
    name,
    scopes: [],
    run: (input, { signal, runId }) =>
      new Promise((done, fail) => {
        started.push({ input, runId, signal });
        releases.push(done);
        signal.addEventListener('abort', () => fail(new Error('aborted')));
        onStart?.();
      }),
  };
  return {
    workflow,
    started,
    /** Finish the `index`th execution with `value`. */
    release: (index: number, value: unknown) => releases[index]?.(value),
    /** Resolves once `count` executions have started. */
    startedCount: (count: number) =>
      new Promise<void>((resolve) => {
        if (started.length >= count) return resolve();
        onStart = () => {
          if (started.length >= count) resolve();
        };
      }),
  };
}

/** Two replicas on one shared store. */
function replicas(workflow: AppWorkflow, leaseMs = 30_000) {
  const clock = manualClock();
  const kv = new MemoryKeyValueStore({ now: clock.now });
  const make = (replica: string) =>
    new WorkflowRuns({
      store: new RunStore(kv, { shared: true }),
      workflows: new Map([[workflow.name, workflow]]),
      now: clock.now,
      replica,
      leaseMs,
      timers: noTimers,
    });
  return { clock, kv, a: make('replica-a'), b: make('replica-b') };
}

test('a run started on A is read and cancelled on B; A stops it on its next tick', async () => {
  const gate = gated();
  const { a, b } = replicas(gate.workflow);
  const { run_id } = await a.start(gate.workflow, { n: 1 }, 'alice', undefined);
  await gate.startedCount(1);
  expect(await b.status(run_id, 'alice')).toMatchObject({
    status: 'running',
    workflow_id: 'gated',
  });
  expect(await b.cancel(run_id, 'alice')).toMatchObject({ status: 'cancelled' });
  expect(gate.started[0]?.signal.aborted).toBe(false);
  await a.tick();
  expect(gate.started[0]?.signal.aborted).toBe(true);
  await a.settled();
  expect(await a.status(run_id, 'alice')).toMatchObject({ status: 'cancelled' });
});

test('the owner renews its lease: a tick before expiry keeps B from taking the run', async () => {
  const gate = gated();
  const { clock, a, b } = replicas(gate.workflow);
  const { run_id } = await a.start(gate.workflow, {}, 'alice', undefined);
  for (let i = 0; i < 5; i++) {
    clock.advance(20_000);
    await a.tick();
    await b.tick();
  }
  expect(gate.started).toHaveLength(1);
  gate.release(0, { done: true });
  await a.settled();
  expect(await b.status(run_id, 'alice')).toMatchObject({
    status: 'completed',
    result: { done: true },
  });
});

test('an expired lease is taken over: run again from the stored input; the old outcome is dropped', async () => {
  const gate = gated();
  const { clock, a, b } = replicas(gate.workflow);
  const { run_id } = await a.start(gate.workflow, { n: 7 }, 'alice', undefined);
  await gate.startedCount(1);
  // A stops renewing (as if killed); the lease runs out.
  clock.advance(30_001);
  await b.sweep();
  await gate.startedCount(2);
  expect(gate.started[1]).toMatchObject({ input: { n: 7 }, runId: run_id });
  expect(await a.status(run_id, 'alice')).toMatchObject({ status: 'running' });
  // A comes back: its late result is not written.
  gate.release(0, { by: 'a' });
  await a.settled();
  expect(await b.status(run_id, 'alice')).toMatchObject({ status: 'running' });
  gate.release(1, { by: 'b' });
  await b.settled();
  expect(await a.status(run_id, 'alice')).toMatchObject({
    status: 'completed',
    result: { by: 'b' },
  });
});

test('a replica that is closed hands its runs over at once (no wait for the lease)', async () => {
  const gate = gated();
  const { a, b } = replicas(gate.workflow);
  const { run_id } = await a.start(gate.workflow, { n: 2 }, 'alice', undefined);
  await gate.startedCount(1);
  await a.close();
  expect(gate.started[0]?.signal.aborted).toBe(true);
  await b.sweep();
  await gate.startedCount(2);
  gate.release(1, 'finished on b');
  await b.settled();
  expect(await b.status(run_id, 'alice')).toMatchObject({
    status: 'completed',
    result: 'finished on b',
  });
});

test('a run interrupted maxAttempts times ends in error instead of running again', async () => {
  const gate = gated();
  const { clock, a, b } = replicas(gate.workflow);
  const { run_id } = await a.start(gate.workflow, {}, 'alice', undefined);
  await gate.startedCount(1);
  clock.advance(30_001);
  await b.sweep();
  await gate.startedCount(2);
  clock.advance(30_001);
  await a.sweep();
  await gate.startedCount(3);
  clock.advance(30_001);
  await b.sweep();
  expect(gate.started).toHaveLength(3);
  expect(await a.status(run_id, 'alice')).toMatchObject({
    status: 'error',
    error: expect.stringMatching(/interrupted 3 times/),
  });
});

test('another principal finds no such run on either replica, and cannot cancel it', async () => {
  const gate = gated();
  const { a, b } = replicas(gate.workflow);
  const { run_id } = await a.start(gate.workflow, {}, 'alice', undefined);
  for (const replica of [a, b]) {
    expect(await replica.status(run_id, 'mallory')).toBeUndefined();
    expect(await replica.cancel(run_id, 'mallory')).toBeUndefined();
  }
  expect(await b.status(run_id, 'alice')).toMatchObject({ status: 'running' });
  expect(await b.status('not-a-run-id', 'alice')).toBeUndefined();
  await a.cancel(run_id, 'alice');
  await a.settled();
});

test('the running caps hold across replicas', async () => {
  const gate = gated();
  const clock = manualClock();
  const kv = new MemoryKeyValueStore({ now: clock.now });
  const make = (replica: string) =>
    new WorkflowRuns({
      store: new RunStore(kv, { shared: true }),
      now: clock.now,
      replica,
      timers: noTimers,
      limits: { runningPerPrincipal: 2 },
    });
  const [a, b] = [make('a'), make('b')];
  await a.start(gate.workflow, {}, 'alice', undefined);
  await b.start(gate.workflow, {}, 'alice', undefined);
  await expect(a.start(gate.workflow, {}, 'alice', undefined)).rejects.toThrow(/too many/i);
  await expect(b.start(gate.workflow, {}, 'alice', undefined)).rejects.toThrow(/too many/i);
  await a.close();
  await b.close();
});

test('startTicking: the timer given runs the tick again and again until close', async () => {
  const scheduled: (() => void)[] = [];
  const timers: SchedulerTimers = {
    set: (run) => scheduled.push(run),
    clear: () => {},
  };
  const gate = gated();
  const clock = manualClock();
  const kv = new MemoryKeyValueStore({ now: clock.now });
  const store = new RunStore(kv, { shared: true });
  const a = new WorkflowRuns({ store, now: clock.now, replica: 'a', timers: noTimers });
  const b = new WorkflowRuns({
    store,
    workflows: new Map([['gated', gate.workflow]]),
    now: clock.now,
    replica: 'b',
    timers,
  });
  expect(scheduled).toHaveLength(0);
  b.startTicking();
  await a.start(gate.workflow, {}, 'alice', undefined);
  await gate.startedCount(1);
  clock.advance(30_001);
  expect(scheduled).toHaveLength(1);
  scheduled[0]?.();
  await gate.startedCount(2);
  expect(gate.started).toHaveLength(2);
  await b.close();
  await a.close();
});

test('sealed records: neither input nor result is in the store in clear; another key reads nothing', async () => {
  const input = 'CANARY-sealed-input-5t1x';
  const kv = new MemoryKeyValueStore();
  const sealer = new Sealer(new Secret('the replicas passphrase, sixteen+'));
  const runs = new WorkflowRuns({
    store: new RunStore(kv, { shared: true, sealer }),
    timers: noTimers,
  });
  const echo: AppWorkflow = { name: 'echo', scopes: [], run: (given) => ({ echoed: given }) };
  const { run_id } = await runs.start(echo, { input }, 'alice', undefined);
  await runs.settled();
  expect(await runs.status(run_id, 'alice')).toMatchObject({ result: { echoed: { input } } });
  for (const key of await kv.keys()) expect((await kv.get(key))?.value).not.toContain(input);
  const otherKey = new RunStore(kv, {
    shared: true,
    sealer: new Sealer(new Secret('another passphrase, sixteen+')),
  });
  expect(await otherKey.get(run_id)).toBeUndefined();
});
