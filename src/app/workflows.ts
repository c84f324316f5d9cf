/**
 * Workflow runs: started by `workflows-<name>-run`, read by `workflows-get_status`, stopped by
 * `workflows-cancel` (mcp-agent's tool names). A run belongs to the principal that started it:
 * another caller asking for it finds no such run. Running runs are limited per principal and in
 * all; finished runs are kept per principal (its most recent 100) so their result can be read.
 *
 * The runs live in a {@link RunStore}: this process's memory, or the Redis that replicas share
 * (the token store's). On a shared store any replica answers `get_status` and `cancel`, and a run
 * whose replica stops (killed, or closed) is taken over: the replica executing a run renews its
 * lease on every tick; each replica's tick also sweeps the running runs, and claims one whose
 * lease has expired, running its workflow again from the stored input (at least once: a
 * workflow may run more than once, see `docs/hosting.md`). A cancel on any replica finishes the
 * run in the store; the replica executing it sees that on its next tick and aborts its signal.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { type Logger, silentLogger } from '../logger.js';
import type { SchedulerTimers } from '../oauth/scheduler.js';
import type { CallerIdentity } from '../server/identity.js';
import { MemoryKeyValueStore } from '../stores/memory.js';
import { type RunCaps, type RunRecord, type RunStatus, RunStore } from '../stores/runs.js';
import type { AppWorkflow } from './define.js';

export type { RunStatus } from '../stores/runs.js';

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

/** Options of {@link WorkflowRuns}. */
export interface WorkflowRunsOptions {
  /** Where runs live. Default: this process's memory. */
  readonly store?: RunStore;
  /** The app's workflows by name: a run taken over from another replica runs its workflow here. */
  readonly workflows?: ReadonlyMap<string, AppWorkflow>;
  readonly now?: () => number;
  readonly limits?: WorkflowLimits;
  /** This replica's id (the owner of the runs it executes). Default a random UUID. */
  readonly replica?: string;
  /** How long a run's lease lasts without renewal. Default 30 s. */
  readonly leaseMs?: number;
  /** How often leases are renewed and expired ones swept. Default a third of `leaseMs`. */
  readonly tickMs?: number;
  /** Executions of one run at most (the first and the take-overs). Default 3. */
  readonly maxAttempts?: number;
  /** The tick's timer (injected in tests). Default `setTimeout`, unref'd. */
  readonly timers?: SchedulerTimers;
  readonly logger?: Logger;
}

/** Why a run could not start. */
export class WorkflowLimitError extends Error {}

/** A run this replica executes. */
interface LocalRun {
  readonly controller: AbortController;
  readonly attempt: number;
  /** Set when this replica no longer owns the run: its outcome is not written. */
  left: boolean;
}

const realTimers: SchedulerTimers = {
  set(run, ms) {
    const handle = setTimeout(run, ms);
    handle.unref();
    return handle;
  },
  clear(handle) {
    clearTimeout(handle as NodeJS.Timeout);
  },
};

/** The runs of one app (on one replica). */
export class WorkflowRuns {
  readonly #store: RunStore;
  readonly #workflows: ReadonlyMap<string, AppWorkflow>;
  readonly #now: () => number;
  readonly #caps: RunCaps;
  readonly #resultBytes: number;
  readonly #replica: string;
  readonly #leaseMs: number;
  readonly #tickMs: number;
  readonly #maxAttempts: number;
  readonly #timers: SchedulerTimers;
  readonly #logger: Logger;
  readonly #local = new Map<string, LocalRun>();
  readonly #executing = new Set<Promise<void>>();
  #timer: unknown;
  #closed = false;

  constructor(options: WorkflowRunsOptions = {}) {
    this.#now = options.now ?? Date.now;
    this.#store =
      options.store ?? new RunStore(new MemoryKeyValueStore({ now: this.#now }), { shared: false });
    this.#workflows = options.workflows ?? new Map();
    const limits = options.limits ?? {};
    this.#caps = {
      runningPerPrincipal: limits.runningPerPrincipal ?? 32,
      running: limits.running ?? 1_000,
      finishedPerPrincipal: limits.finishedPerPrincipal ?? 100,
      finished: limits.finished ?? 10_000,
    };
    this.#resultBytes = limits.resultBytes ?? 256 * 1024;
    this.#replica = options.replica ?? randomUUID();
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#tickMs = options.tickMs ?? Math.max(1, Math.floor(this.#leaseMs / 3));
    this.#maxAttempts = options.maxAttempts ?? 3;
    this.#timers = options.timers ?? realTimers;
    this.#logger = options.logger ?? silentLogger;
  }

  /**
   * Start the tick's timer (renewals and sweeps) when the store is shared; only a replica that
   * can run workflows sweeps, and so polls the shared store. `createApp` calls it once built.
   */
  startTicking(): void {
    if (this.#store.shared && this.#workflows.size > 0 && this.#timer === undefined) {
      this.#schedule();
    }
  }

  /** Whether replicas share these runs (leases, take-overs). */
  get shared(): boolean {
    return this.#store.shared;
  }

  /** Start `workflow` for `principal`; resolves once the run is stored, with its ids. */
  async start(
    workflow: AppWorkflow,
    input: Record<string, unknown>,
    principal: string,
    caller: CallerIdentity | undefined,
  ): Promise<{ workflow_id: string; run_id: string }> {
    const now = this.#now();
    const record: RunRecord = {
      workflow: workflow.name,
      runId: randomUUID(),
      principal,
      status: 'running',
      input,
      ...(caller && this.#store.shared ? { caller: { ...caller } } : {}),
      startedAt: now,
      attempt: 1,
      owner: this.#replica,
      leaseUntil: now + this.#leaseMs,
    };
    if (!(await this.#store.create(record, this.#caps))) {
      throw new WorkflowLimitError(
        'Too many workflow runs are running; wait for some to finish or cancel them.',
      );
    }
    this.#execute(workflow, record, input, caller);
    return { workflow_id: workflow.name, run_id: record.runId };
  }

  /** The state of run `runId` of `principal`, or `undefined`. */
  async status(runId: string, principal: string): Promise<RunState | undefined> {
    const record = await this.#store.get(runId);
    return record && record.principal === principal ? stateOf(record) : undefined;
  }

  /** Cancel run `runId` of `principal`; its state, or `undefined` when there is no such run. */
  async cancel(runId: string, principal: string): Promise<RunState | undefined> {
    const record = await this.#store.get(runId);
    if (!record || record.principal !== principal) return undefined;
    if (record.status === 'running') {
      const cancelled = await this.#store.finish(
        runId,
        (current) => ({ ...current, status: 'cancelled', finishedAt: this.#now() }),
        this.#caps,
      );
      // Executed here: stopped now; elsewhere, its replica sees the cancel on its next tick.
      this.#leave(runId);
      if (cancelled) return stateOf(cancelled);
    }
    return this.status(runId, principal);
  }

  /** Cancel every run this replica executes (the app is closing, runs not shared). */
  async cancelAll(): Promise<void> {
    for (const runId of [...this.#local.keys()]) {
      await this.#store.finish(
        runId,
        (current) => ({ ...current, status: 'cancelled', finishedAt: this.#now() }),
        this.#caps,
      );
      this.#leave(runId);
    }
  }

  /** Resolves when the executions running now have ended (and their outcome is stored). */
  async settled(): Promise<void> {
    while (this.#executing.size > 0) await Promise.allSettled([...this.#executing]);
  }

  /**
   * One tick (the timer runs it): renew the leases of the runs executed here, stopping those
   * cancelled or taken over elsewhere, then sweep: take over the runs whose lease expired.
   */
  async tick(): Promise<void> {
    await this.renew();
    await this.sweep();
  }

  /** Renew the leases of the runs executed here; stop those this replica no longer owns. */
  async renew(): Promise<void> {
    for (const [runId, local] of [...this.#local]) {
      try {
        const renewed = await this.#store.update(runId, (current) =>
          this.#owns(current, local.attempt)
            ? { ...current, leaseUntil: this.#now() + this.#leaseMs }
            : undefined,
        );
        // Cancelled (or finished) elsewhere, or taken over after a lapse: stop executing it.
        if (!renewed) this.#leave(runId);
      } catch (error) {
        this.#warn('renewing a workflow run lease failed', runId, error);
      }
    }
  }

  /** Take over the runs whose lease has expired (their replica stopped renewing). */
  async sweep(): Promise<void> {
    if (!this.#store.shared || this.#closed) return;
    for (const runId of await this.#store.running()) {
      try {
        await this.#takeOver(runId);
      } catch (error) {
        this.#warn('taking over a workflow run failed', runId, error);
      }
    }
  }

  /**
   * Close: stop the timer and the runs executed here. On a shared store their leases are
   * released, so another replica takes them over on its next sweep; otherwise they are cancelled.
   */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) this.#timers.clear(this.#timer);
    if (!this.#store.shared) {
      await this.cancelAll();
      return;
    }
    for (const [runId, local] of [...this.#local]) {
      this.#leave(runId);
      await this.#store
        .update(runId, (current) =>
          this.#owns(current, local.attempt) ? { ...current, leaseUntil: 0 } : undefined,
        )
        .catch((error: unknown) => this.#warn('handing a workflow run over failed', runId, error));
    }
  }

  async #takeOver(runId: string): Promise<void> {
    const seen = await this.#store.get(runId);
    if (seen?.status !== 'running') return this.#store.tidy(runId);
    const local = this.#local.get(runId);
    if (local) {
      // Executed here: the renewal keeps it. Unless another replica took it over meanwhile.
      if (this.#owns(seen, local.attempt)) return;
      this.#leave(runId);
    }
    const now = this.#now();
    if (seen.leaseUntil > now) return;
    const lapsed = (current: RunRecord) =>
      current.attempt === seen.attempt && current.leaseUntil <= now;
    const workflow = this.#workflows.get(seen.workflow);
    // Not defined here (another app sharing the store, a rolling deploy): left to a replica that has it.
    if (!workflow) return;
    if (seen.attempt >= this.#maxAttempts) {
      const error = `the run was interrupted ${seen.attempt} times (its replica stopped); not run again`;
      await this.#store.finish(
        runId,
        (current) =>
          lapsed(current) ? { ...current, status: 'error', error, finishedAt: now } : undefined,
        this.#caps,
      );
      return;
    }
    const claimed = await this.#store.update(runId, (current) =>
      lapsed(current)
        ? {
            ...current,
            owner: this.#replica,
            attempt: current.attempt + 1,
            leaseUntil: now + this.#leaseMs,
          }
        : undefined,
    );
    if (claimed) {
      const caller = claimed.caller as CallerIdentity | undefined;
      this.#execute(workflow, claimed, claimed.input, caller);
    }
  }

  /** Whether `record` is still the execution `attempt` of this replica. */
  #owns(record: RunRecord, attempt: number): boolean {
    return record.owner === this.#replica && record.attempt === attempt;
  }

  /** Execute `workflow` for `record` here, in the background; its outcome goes to the store. */
  #execute(
    workflow: AppWorkflow,
    record: RunRecord,
    input: Record<string, unknown>,
    caller: CallerIdentity | undefined,
  ): void {
    const local: LocalRun = {
      controller: new AbortController(),
      attempt: record.attempt,
      left: false,
    };
    this.#local.set(record.runId, local);
    const signal = local.controller.signal;
    const execution = Promise.resolve()
      .then(() => workflow.run(input, { caller, signal, runId: record.runId }))
      .then(
        (result) => this.#settle(record.runId, local, { status: 'completed', result }),
        (error: unknown) =>
          this.#settle(record.runId, local, {
            status: signal.aborted ? 'cancelled' : 'error',
            error: error instanceof Error ? error.message : 'the workflow failed',
          }),
      )
      .catch((error: unknown) =>
        this.#warn('storing a workflow run outcome failed', record.runId, error),
      )
      .finally(() => this.#executing.delete(execution));
    this.#executing.add(execution);
  }

  /** Store the outcome of execution `local` of `runId`, unless it no longer owns the run. */
  async #settle(
    runId: string,
    local: LocalRun,
    outcome: { status: RunStatus; result?: unknown; error?: string },
  ): Promise<void> {
    if (this.#local.get(runId) === local) this.#local.delete(runId);
    if (local.left) return;
    const kept = this.#kept(outcome);
    await this.#store.finish(
      runId,
      (current) =>
        this.#owns(current, local.attempt)
          ? { ...current, status: outcome.status, ...kept, finishedAt: this.#now() }
          : undefined,
      this.#caps,
    );
  }

  /** The result and error kept of `outcome`: a result over `resultBytes` (or not JSON) is not. */
  #kept(outcome: { result?: unknown; error?: string }): { result?: unknown; error?: string } {
    if (outcome.result === undefined) {
      return outcome.error === undefined ? {} : { error: outcome.error };
    }
    let size = Number.POSITIVE_INFINITY;
    try {
      size = Buffer.byteLength(JSON.stringify(outcome.result) ?? '');
    } catch {
      // Not JSON (a cycle, a BigInt): not kept.
    }
    return size <= this.#resultBytes
      ? { result: outcome.result }
      : { error: 'the result is too large (or not JSON) to keep' };
  }

  /** Stop executing `runId` here without writing its outcome. */
  #leave(runId: string): void {
    const local = this.#local.get(runId);
    if (!local) return;
    local.left = true;
    this.#local.delete(runId);
    local.controller.abort();
  }

  #schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#timers.set(() => {
      void this.tick()
        .catch((error: unknown) => this.#warn('the workflow run sweep failed', undefined, error))
        .finally(() => this.#schedule());
    }, this.#tickMs);
  }

  /** Log a failure: the run's id and the error's message, never its input or result. */
  #warn(what: string, runId: string | undefined, error: unknown): void {
    this.#logger.warn(what, {
      ...(runId ? { run_id: runId } : {}),
      error: error instanceof Error ? error.message : 'unknown error',
    });
  }
}

/** What `workflows-get_status` answers for `record`. */
function stateOf(record: RunRecord): RunState {
  return {
    workflow_id: record.workflow,
    run_id: record.runId,
    status: record.status,
    ...(record.result !== undefined ? { result: record.result } : {}),
    ...(record.error !== undefined ? { error: record.error } : {}),
    started_at: new Date(record.startedAt).toISOString(),
    ...(record.finishedAt !== undefined
      ? { finished_at: new Date(record.finishedAt).toISOString() }
      : {}),
  };
}
