/**
 * Workflow runs: started by `workflows-<name>-run`, read by `workflows-get_status`, stopped by
 * `workflows-cancel` (mcp-agent's tool names). A run belongs to the principal that started it:
 * another caller asking for it finds no such run. Running runs are limited per principal and in
 * all; finished runs are kept per principal (its most recent 100) so their result can be read.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import type { CallerIdentity } from '../server/identity.js';
import type { AppWorkflow } from './define.js';

/** The state of a run. */
export type RunStatus = 'running' | 'completed' | 'error' | 'cancelled';

/** What `workflows-get_status` answers. */
export interface RunState {
  readonly workflow_id: string;
  readonly run_id: string;
  readonly status: RunStatus;
  readonly result?: unknown;
  readonly error?: string;
  readonly started_at: string;
  readonly finished_at?: string;
}

interface Run {
  readonly workflow: string;
  readonly id: string;
  readonly principal: string;
  readonly controller: AbortController;
  readonly startedAt: number;
  status: RunStatus;
  result?: unknown;
  error?: string;
  finishedAt?: number;
}

/** Limits of {@link WorkflowRuns}. */
export interface WorkflowLimits {
  /** Runs one principal may have running at once. Default 32. */
  readonly runningPerPrincipal?: number;
  /** Runs running in all. Default 1,000. */
  readonly running?: number;
  /** Finished runs kept per principal (for `workflows-get_status`). Default 100. */
  readonly finishedPerPrincipal?: number;
  /** Finished runs kept in all. Default 10,000. */
  readonly finished?: number;
  /** Largest result kept, in bytes of JSON. Default 256 KiB. */
  readonly resultBytes?: number;
}

/** Why a run could not start. */
export class WorkflowLimitError extends Error {}

/** The runs of one app. */
export class WorkflowRuns {
  readonly #running = new Map<string, Run>();
  /** Finished runs, oldest first. */
  readonly #finished = new Map<string, Run>();
  readonly #finishedBy = new Map<string, string[]>();
  readonly #now: () => number;
  readonly #limits: Required<WorkflowLimits>;

  constructor(now: () => number = Date.now, limits: WorkflowLimits = {}) {
    this.#now = now;
    this.#limits = {
      runningPerPrincipal: limits.runningPerPrincipal ?? 32,
      running: limits.running ?? 1_000,
      finishedPerPrincipal: limits.finishedPerPrincipal ?? 100,
      finished: limits.finished ?? 10_000,
      resultBytes: limits.resultBytes ?? 256 * 1024,
    };
  }

  /** Start `workflow` for `principal`; returns at once with the run's ids. */
  start(
    workflow: AppWorkflow,
    input: Record<string, unknown>,
    principal: string,
    caller: CallerIdentity | undefined,
  ): { workflow_id: string; run_id: string } {
    let mine = 0;
    for (const run of this.#running.values()) if (run.principal === principal) mine += 1;
    if (mine >= this.#limits.runningPerPrincipal || this.#running.size >= this.#limits.running) {
      throw new WorkflowLimitError(
        'Too many workflow runs are running; wait for some to finish or cancel them.',
      );
    }
    const run: Run = {
      workflow: workflow.name,
      id: randomUUID(),
      principal,
      controller: new AbortController(),
      startedAt: this.#now(),
      status: 'running',
    };
    this.#running.set(run.id, run);
    const signal = run.controller.signal;
    void Promise.resolve()
      .then(() => workflow.run(input, { caller, signal, runId: run.id }))
      .then(
        (result) => this.#finish(run, 'completed', { result }),
        (error: unknown) =>
          this.#finish(run, signal.aborted ? 'cancelled' : 'error', {
            error: error instanceof Error ? error.message : 'the workflow failed',
          }),
      );
    return { workflow_id: workflow.name, run_id: run.id };
  }

  #find(runId: string, principal: string): Run | undefined {
    const run = this.#running.get(runId) ?? this.#finished.get(runId);
    return run && run.principal === principal ? run : undefined;
  }

  /** The state of run `runId` of `principal`, or `undefined`. */
  status(runId: string, principal: string): RunState | undefined {
    const run = this.#find(runId, principal);
    if (!run) return undefined;
    return {
      workflow_id: run.workflow,
      run_id: run.id,
      status: run.status,
      ...(run.result !== undefined ? { result: run.result } : {}),
      ...(run.error !== undefined ? { error: run.error } : {}),
      started_at: new Date(run.startedAt).toISOString(),
      ...(run.finishedAt !== undefined
        ? { finished_at: new Date(run.finishedAt).toISOString() }
        : {}),
    };
  }

  /** Cancel run `runId` of `principal`; its state, or `undefined` when there is no such run. */
  cancel(runId: string, principal: string): RunState | undefined {
    const run = this.#find(runId, principal);
    if (!run) return undefined;
    if (run.status === 'running') {
      run.controller.abort();
      this.#finish(run, 'cancelled', {});
    }
    return this.status(runId, principal);
  }

  /** Cancel every running run (the app is closing). */
  cancelAll(): void {
    for (const run of [...this.#running.values()]) {
      run.controller.abort();
      this.#finish(run, 'cancelled', {});
    }
  }

  #finish(run: Run, status: RunStatus, outcome: { result?: unknown; error?: string }): void {
    if (run.status !== 'running') return;
    run.status = status;
    if (outcome.result !== undefined) {
      let size = Number.POSITIVE_INFINITY;
      try {
        size = Buffer.byteLength(JSON.stringify(outcome.result) ?? '');
      } catch {
        // Not JSON (a cycle, a BigInt): not kept.
      }
      if (size <= this.#limits.resultBytes) run.result = outcome.result;
      else run.error = 'the result is too large (or not JSON) to keep';
    }
    if (outcome.error !== undefined) run.error = outcome.error;
    run.finishedAt = this.#now();
    this.#running.delete(run.id);
    this.#finished.set(run.id, run);
    const mine = this.#finishedBy.get(run.principal) ?? [];
    mine.push(run.id);
    this.#finishedBy.set(run.principal, mine);
    // Each principal keeps its own most recent runs; one caller cannot push out another's.
    while (mine.length > this.#limits.finishedPerPrincipal) {
      this.#finished.delete(mine.shift() as string);
    }
    while (this.#finished.size > this.#limits.finished) {
      const oldest = this.#finished.values().next().value as Run;
      this.#finished.delete(oldest.id);
      const list = this.#finishedBy.get(oldest.principal);
      list?.splice(list.indexOf(oldest.id), 1);
      if (list?.length === 0) this.#finishedBy.delete(oldest.principal);
    }
    if (mine.length === 0) this.#finishedBy.delete(run.principal);
  }
}
