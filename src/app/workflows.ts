/**
 * Workflow runs: started by `workflows-<name>-run`, read by `workflows-get_status`, stopped by
 * `workflows-cancel` (mcp-agent's tool names). A run belongs to the principal that started it:
 * another caller asking for it finds no such run. Finished runs are kept (most recent 1,000) so
 * their result can be read.
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

const KEEP_FINISHED = 1_000;

/** The runs of one app. */
export class WorkflowRuns {
  readonly #runs = new Map<string, Run>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Start `workflow` for `principal`; returns at once with the run's ids. */
  start(
    workflow: AppWorkflow,
    input: Record<string, unknown>,
    principal: string,
    caller: CallerIdentity | undefined,
  ): { workflow_id: string; run_id: string } {
    const run: Run = {
      workflow: workflow.name,
      id: randomUUID(),
      principal,
      controller: new AbortController(),
      startedAt: this.#now(),
      status: 'running',
    };
    this.#runs.set(run.id, run);
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

  /** The state of run `runId` of `principal`, or `undefined`. */
  status(runId: string, principal: string): RunState | undefined {
    const run = this.#runs.get(runId);
    if (!run || run.principal !== principal) return undefined;
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
    const run = this.#runs.get(runId);
    if (!run || run.principal !== principal) return undefined;
    if (run.status === 'running') {
      run.controller.abort();
      this.#finish(run, 'cancelled', {});
    }
    return this.status(runId, principal);
  }

  /** Cancel every running run (the app is closing). */
  cancelAll(): void {
    for (const run of this.#runs.values()) {
      if (run.status === 'running') {
        run.controller.abort();
        this.#finish(run, 'cancelled', {});
      }
    }
  }

  #finish(run: Run, status: RunStatus, outcome: { result?: unknown; error?: string }): void {
    if (run.status !== 'running') return;
    run.status = status;
    if (outcome.result !== undefined) run.result = outcome.result;
    if (outcome.error !== undefined) run.error = outcome.error;
    run.finishedAt = this.#now();
    // Keep the most recent finished runs only.
    const finished = [...this.#runs.values()].filter((item) => item.status !== 'running');
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP_FINISHED))) {
      this.#runs.delete(old.id);
    }
  }
}
