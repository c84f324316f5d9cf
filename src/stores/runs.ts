/**
 * Workflow run records on a {@link KeyValueStore}: one record per run (sealed like the tokens when
 * the store seals), an index of the running runs (for the limits and for the sweeper that takes
 * over runs whose replica stopped renewing its lease), and the finished runs kept per principal
 * and in all, oldest first. Every change is a compare-and-set on the record's version, so two
 * replicas never both finish, or both take over, one run.
 *
 * On the process's memory (`shared: false`) it keeps the runs of one process, as before; on the
 * token store's Redis (`shared: true`) every replica sees every run.
 *
 * @module
 */
import { keyPart } from './key-part.js';
import type { KeyValueStore } from './kv.js';
import type { Sealer } from './seal.js';

/** Storage keys of run records start with this. */
export const RUN_KEY_PREFIX = '#run:';

/** The index of running runs (`[run id, principal]` pairs). */
export const RUNNING_INDEX_KEY = '#runs:running';

/** The index of finished runs in all (run ids, oldest first). */
export const FINISHED_INDEX_KEY = '#runs:finished';

/** The indexes of each principal's finished runs start with this. */
export const FINISHED_BY_KEY_PREFIX = '#runs:finished-by:';

/** How long a finished run is kept on a shared store at most (7 days), whatever the limits. */
export const FINISHED_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** Compare-and-set attempts before a change gives up (another writer kept winning). */
const MAX_CAS_ATTEMPTS = 50;

const RUN_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The state of a run. */
export type RunStatus = 'running' | 'completed' | 'error' | 'cancelled';

/** One workflow run as stored. */
export interface RunRecord {
  readonly workflow: string;
  readonly runId: string;
  /** Whose run it is: nobody else finds it. */
  readonly principal: string;
  readonly status: RunStatus;
  /** What the run was started with (run again from it when a replica takes the run over). */
  readonly input: Record<string, unknown>;
  /** The caller that started it (JSON), handed to the workflow again on a take-over. */
  readonly caller?: Record<string, unknown> | undefined;
  readonly result?: unknown;
  readonly error?: string | undefined;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly finishedAt?: number | undefined;
  /** 1 for the first execution, +1 on each take-over. */
  readonly attempt: number;
  /** The replica executing it. */
  readonly owner: string;
  /** Epoch milliseconds; past it, another replica may take the run over. */
  readonly leaseUntil: number;
}

/** The caps of {@link RunStore.create} and {@link RunStore.finish}. */
export interface RunCaps {
  readonly runningPerPrincipal: number;
  readonly running: number;
  readonly finishedPerPrincipal: number;
  readonly finished: number;
}

/** Options of {@link RunStore}. */
export interface RunStoreOptions {
  /** Whether other processes (replicas) share `kv`: leases and take-overs are then used. */
  readonly shared: boolean;
  /** Seal the records (input, caller, result) with this, as the tokens are. */
  readonly sealer?: Sealer | undefined;
}

type RunningIndex = [runId: string, principal: string][];

/** Workflow runs on a key-value backend. */
export class RunStore {
  readonly #kv: KeyValueStore;
  readonly #sealer: Sealer | undefined;
  /** Whether replicas share the runs (see {@link RunStoreOptions.shared}). */
  readonly shared: boolean;

  constructor(kv: KeyValueStore, options: RunStoreOptions) {
    this.#kv = kv;
    this.#sealer = options.sealer;
    this.shared = options.shared;
  }

  /**
   * Store the new run `record` and index it as running, unless that would pass the running
   * caps: then nothing is kept and the answer is `false`.
   */
  async create(record: RunRecord, caps: RunCaps): Promise<boolean> {
    const key = runKey(record.runId);
    await this.#kv.set(key, this.#encode(key, record), { expectVersion: null });
    const added = await this.#change<RunningIndex>(RUNNING_INDEX_KEY, [], (index) => {
      const mine = index.filter(([, principal]) => principal === record.principal).length;
      if (mine >= caps.runningPerPrincipal || index.length >= caps.running) return undefined;
      return [...index, [record.runId, record.principal]];
    });
    if (!added) await this.#kv.delete(key);
    return added;
  }

  /** The run `runId`, or `undefined` (no such run, or one this store cannot open). */
  async get(runId: string): Promise<RunRecord | undefined> {
    return (await this.#read(runId))?.record;
  }

  /**
   * Change the running run `runId` with `change` (compare-and-set, retried when another writer
   * came first). `change` answers `undefined` to leave it as it is. The changed record, or
   * `undefined` when nothing changed.
   */
  async update(
    runId: string,
    change: (current: RunRecord) => RunRecord | undefined,
  ): Promise<RunRecord | undefined> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt += 1) {
      const read = await this.#read(runId);
      if (read?.record.status !== 'running') return undefined;
      const next = change(read.record);
      if (!next) return undefined;
      const key = runKey(runId);
      const ttl = next.status !== 'running' && this.shared ? { ttlMs: FINISHED_TTL_MS } : {};
      const written = await this.#kv.set(key, this.#encode(key, next), {
        expectVersion: read.version,
        ...ttl,
      });
      if (written !== undefined) return next;
    }
    return undefined;
  }

  /**
   * Finish the running run `runId` with `change` (which must set a final status, or answer
   * `undefined` to leave the run as it is), then move it from the running index to the finished
   * ones, where only the most recent `caps.finishedPerPrincipal` of its principal and
   * `caps.finished` in all are kept.
   */
  async finish(
    runId: string,
    change: (current: RunRecord) => RunRecord | undefined,
    caps: RunCaps,
  ): Promise<RunRecord | undefined> {
    const finished = await this.update(runId, (current) => {
      const next = change(current);
      return next && next.status !== 'running' ? next : undefined;
    });
    if (!finished) return undefined;
    await this.#unindex(runId);
    await this.#keepFinished(finished, caps);
    return finished;
  }

  /** The ids of the runs indexed as running. */
  async running(): Promise<string[]> {
    return (await this.#index<RunningIndex>(RUNNING_INDEX_KEY, [])).value.map(([runId]) => runId);
  }

  /**
   * Drop `runId` from the running index when its record is gone or finished (a write lost
   * between the two); a record this store cannot open (another key) is left alone.
   */
  async tidy(runId: string): Promise<void> {
    const exists = RUN_ID.test(runId) && (await this.#kv.get(runKey(runId))) !== undefined;
    const record = exists ? await this.get(runId) : undefined;
    if (!exists || (record?.status !== undefined && record.status !== 'running')) {
      await this.#unindex(runId);
    }
  }

  /** Release the backend (the token store closes a shared one). */
  async close(): Promise<void> {
    if (!this.shared) await this.#kv.close();
  }

  async #unindex(runId: string): Promise<void> {
    await this.#change<RunningIndex>(RUNNING_INDEX_KEY, [], (index) =>
      index.some(([id]) => id === runId) ? index.filter(([id]) => id !== runId) : undefined,
    );
  }

  /** Add `record` to the finished indexes and forget the runs pushed out of them. */
  async #keepFinished(record: RunRecord, caps: RunCaps): Promise<void> {
    const dropped = new Set<string>();
    const trim = (limit: number) => (ids: string[]) => {
      const next = [...ids.filter((id) => id !== record.runId), record.runId];
      for (const id of next.splice(0, Math.max(0, next.length - limit))) dropped.add(id);
      return next;
    };
    // Each principal keeps its own most recent runs; one caller cannot push out another's.
    await this.#change(finishedByKey(record.principal), [], trim(caps.finishedPerPrincipal));
    await this.#change(FINISHED_INDEX_KEY, [], trim(caps.finished));
    for (const id of dropped) await this.#kv.delete(runKey(id));
  }

  /** Change the JSON index `key` by compare-and-set; `false` when `change` declined. */
  async #change<T>(key: string, empty: T, change: (value: T) => T | undefined): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt += 1) {
      const { value, version } = await this.#index(key, empty);
      const next = change(value);
      if (next === undefined) return false;
      const written = await this.#kv.set(key, JSON.stringify(next), { expectVersion: version });
      if (written !== undefined) return true;
    }
    return false;
  }

  async #index<T>(key: string, empty: T): Promise<{ value: T; version: number | null }> {
    const stored = await this.#kv.get(key);
    if (!stored) return { value: empty, version: null };
    try {
      return { value: JSON.parse(stored.value) as T, version: stored.version };
    } catch {
      return { value: empty, version: stored.version };
    }
  }

  async #read(runId: string): Promise<{ record: RunRecord; version: number } | undefined> {
    if (!RUN_ID.test(runId)) return undefined;
    const key = runKey(runId);
    const stored = await this.#kv.get(key);
    if (!stored) return undefined;
    const text = this.#sealer ? this.#sealer.open(stored.value, key) : stored.value;
    if (text === undefined) return undefined;
    try {
      const record = JSON.parse(text) as RunRecord;
      return record.runId === runId ? { record, version: stored.version } : undefined;
    } catch {
      return undefined;
    }
  }

  #encode(key: string, record: RunRecord): string {
    const text = JSON.stringify(record);
    return this.#sealer ? this.#sealer.seal(text, key) : text;
  }
}

/** Whether `runId` has the form of a run id (a UUID). */
export function isRunId(runId: string): boolean {
  return RUN_ID.test(runId);
}

function runKey(runId: string): string {
  return `${RUN_KEY_PREFIX}${runId}`;
}

function finishedByKey(principal: string): string {
  return `${FINISHED_BY_KEY_PREFIX}${keyPart(principal)}`;
}
