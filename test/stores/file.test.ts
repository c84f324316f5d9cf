/**
 * The `file` backend beyond the shared contract: permissions, `~/`, atomic replacement, the
 * lock file between processes, and damaged files.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { inspect } from 'node:util';
import { afterEach, describe, expect, test } from 'vitest';
import { isMcpAgentError } from '../../src/errors.js';
import {
  expandHome,
  FileKeyValueStore,
  LOCK_WAIT_MS,
  STALE_LOCK_MS,
} from '../../src/stores/file.js';
import { tempTree } from '../helpers/cli.js';
import { within } from '../support/net.js';
import { builtFile, describeWith, onPlatform } from '../support/services.js';

const BUILT = fileURLToPath(new URL('../../dist/stores/file.js', import.meta.url));
const built = builtFile('dist/stores/file.js');
const posixModes = onPlatform(
  process.platform !== 'win32',
  'POSIX file modes (0600, 0700) do not exist on Windows',
);
const CANARY = 'CANARYTOKEN-f1le-93kd';

const trees: ReturnType<typeof tempTree>[] = [];
afterEach(() => {
  for (const tree of trees.splice(0)) tree.cleanup();
});

/** A temporary directory, removed after the test. */
function tree(): ReturnType<typeof tempTree> {
  const created = tempTree();
  trees.push(created);
  return created;
}

/** The error `promise` rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error('expected a rejection, but the promise resolved');
}

/** Every text an error shows: message, stack, and the whole cause chain as inspected. */
function everythingShown(error: Error): string {
  return `${error.message}\n${error.stack ?? ''}\n${inspect(error, { depth: 10 })}`;
}

/** The pid of a process that has exited (and so cannot hold a lock). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '']);
  if (child.pid === undefined) throw new Error('could not start a child process');
  return child.pid;
}

describeWith(posixModes)('permissions', () => {
  test('the file is written with mode 0600 in a new directory created with mode 0700', async () => {
    const { dir } = tree();
    const path = join(dir, 'new', 'nested', 'tokens.json');
    const store = new FileKeyValueStore({ path });
    expect(await store.set('k', CANARY)).toBe(1);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
  });

  test('a token file readable by others is 0600 again after the next write', async () => {
    const { write } = tree();
    const path = write('tokens.json', JSON.stringify({ format: 1, entries: {} }), 0o644);
    await new FileKeyValueStore({ path }).set('k', 'v');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test('an existing directory is used as it is', async () => {
    const { dir } = tree();
    const store = new FileKeyValueStore({ path: join(dir, 'tokens.json') });
    await store.set('k', 'v');
    expect(await store.get('k')).toEqual({ value: 'v', version: 1 });
  });
});

describe('paths', () => {
  test('a leading ~/ is the home directory given as homeDir', async () => {
    const { dir } = tree();
    const home = join(dir, 'home');
    const store = new FileKeyValueStore({ path: '~/.mcp-agent/tokens.json', homeDir: home });
    expect(store.path).toBe(join(home, '.mcp-agent', 'tokens.json'));
    await store.set('k', 'v');
    expect(JSON.parse(readFileSync(join(home, '.mcp-agent', 'tokens.json'), 'utf8'))).toEqual({
      format: 1,
      entries: { k: { value: 'v', version: 1 } },
    });
  });

  test('expandHome expands only a leading ~ or ~/', () => {
    expect(expandHome('~', '/home/u')).toBe('/home/u');
    expect(expandHome('~/a/b.json', '/home/u')).toBe('/home/u/a/b.json');
    expect(expandHome('~other/a.json', '/home/u')).toBe('~other/a.json');
    expect(expandHome('a/~/b.json', '/home/u')).toBe('a/~/b.json');
    expect(expandHome('/abs/~/b.json', '/home/u')).toBe('/abs/~/b.json');
  });

  test('a relative path is resolved against the working directory', () => {
    expect(new FileKeyValueStore({ path: 'rel/tokens.json' }).path).toBe(
      resolve('rel/tokens.json'),
    );
  });
});

describe('atomic replacement', () => {
  test('readers only ever see complete JSON; no temporary or lock files are left', async () => {
    const { dir } = tree();
    const path = join(dir, 'tokens.json');
    const store = new FileKeyValueStore({ path });
    await store.set('seed', 'x'.repeat(50_000));

    let writing = true;
    let reads = 0;
    const reader = (async () => {
      while (writing) {
        const text = await readFile(path, 'utf8');
        expect(() => JSON.parse(text)).not.toThrow();
        reads++;
        await new Promise((resolveTick) => setImmediate(resolveTick));
      }
    })();
    const keys = Array.from({ length: 20 }, (_, i) => `key-${i}`);
    try {
      const versions = await within(
        'twenty concurrent writes',
        Promise.all(keys.map((key) => store.set(key, `${key} ${'y'.repeat(2_000)}`))),
        15_000,
      );
      expect(versions).toEqual(keys.map(() => 1));
    } finally {
      writing = false;
      await reader;
    }
    expect(reads).toBeGreaterThan(0);
    expect((await store.keys()).sort()).toEqual(['seed', ...keys].sort());
    expect(readdirSync(dir)).toEqual(['tokens.json']);
  });

  test('expired entries are dropped from the file on the next write', async () => {
    const { dir } = tree();
    const path = join(dir, 'tokens.json');
    let now = 1_000;
    const store = new FileKeyValueStore({ path, now: () => now });
    await store.set('old', CANARY, { ttlMs: 10 });
    now += 10;
    await store.set('new', 'v');
    expect(readFileSync(path, 'utf8')).not.toContain(CANARY);
  });
});

describeWith(built)('two processes (the built dist/stores/file.js)', () => {
  const script = `
    const { FileKeyValueStore } = await import(process.env.STORE_MODULE);
    const store = new FileKeyValueStore({ path: process.env.STORE_PATH });
    // Ready, then wait for the test's "go" on stdin so that both processes start together.
    process.stdout.write('ready\\n');
    await new Promise((go) => process.stdin.once('data', go));
    process.stdin.destroy();
    let retries = 0;
    for (let i = 0; i < 50; i++) {
      for (;;) {
        const current = await store.get('counter');
        const next = String(Number(current?.value ?? '0') + 1);
        const version = await store.set('counter', next, { expectVersion: current?.version ?? null });
        if (version !== undefined) break;
        retries++;
      }
    }
    process.stdout.write(JSON.stringify({ retries }));
  `;

  /** A started increment script: `ready` once it waits for `go()`; `done` its retry count. */
  function incrementer(path: string): {
    ready: Promise<void>;
    go(): void;
    done: Promise<number>;
  } {
    const child: ChildProcess = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { ...process.env, STORE_MODULE: pathToFileURL(BUILT).href, STORE_PATH: path },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const exited = once(child, 'exit') as Promise<[number | null]>;
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.startsWith('ready\n')) resolve();
      });
      exited.then(() => reject(new Error(`incrementer exited before it was ready: ${stderr}`)));
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const done = exited.then(([code]) => {
      if (code !== 0) throw new Error(`incrementer exited with ${code}: ${stderr}`);
      return (JSON.parse(stdout.slice('ready\n'.length)) as { retries: number }).retries;
    });
    done.catch(() => {}); // Reported by the test that awaits it, not as unhandled.
    return { ready, go: () => child.stdin?.end('go\n'), done };
  }

  test('50 + 50 read-modify-write increments with expectVersion end at exactly 100', async () => {
    const { dir } = tree();
    const path = join(dir, 'tokens.json');
    const both = [incrementer(path), incrementer(path)];
    await within(
      'two incrementing processes to start',
      Promise.all(both.map((p) => p.ready)),
      10_000,
    );
    for (const child of both) child.go();
    const retries = await within(
      'two incrementing processes',
      Promise.all(both.map((p) => p.done)),
      18_000,
    );
    const store = new FileKeyValueStore({ path });
    expect(await store.get('counter')).toEqual({ value: '100', version: 100 });
    expect(retries).toHaveLength(2);
    expect(readdirSync(dir)).toEqual(['tokens.json']);
  }, 20_000);
});

describe('the lock file', () => {
  test('a lock left by a process that no longer exists is taken over', async () => {
    const { dir, write } = tree();
    const path = join(dir, 'tokens.json');
    write('tokens.json.lock', `${deadPid()} 0123456789abcdef`);
    const store = new FileKeyValueStore({ path });
    expect(await within('a write over a dead lock', store.set('k', 'v'), 2_000)).toBe(1);
    expect(existsSync(`${path}.lock`)).toBe(false);
    expect(await store.get('k')).toEqual({ value: 'v', version: 1 });
  });

  test('a lock older than STALE_LOCK_MS is taken over, even from a live pid', async () => {
    const { dir, write } = tree();
    const path = join(dir, 'tokens.json');
    const lock = write('tokens.json.lock', `${process.pid} 0123456789abcdef`);
    const old = (Date.now() - STALE_LOCK_MS - 5_000) / 1000;
    utimesSync(lock, old, old);
    const store = new FileKeyValueStore({ path });
    expect(await within('a write over a stale lock', store.set('k', 'v'), 2_000)).toBe(1);
    expect(existsSync(lock)).toBe(false);
  });

  test(
    'a lock held by a live process makes a writer wait, then fail with STORE_UNAVAILABLE',
    async () => {
      const { dir, write } = tree();
      const path = join(dir, 'tokens.json');
      const store = new FileKeyValueStore({ path });
      await store.set('k', CANARY);
      const before = readFileSync(path, 'utf8');
      const lock = write('tokens.json.lock', `${process.pid} held-by-this-test`);

      const started = Date.now();
      const error = await rejection(store.set('k', 'new value'));
      const waited = Date.now() - started;

      expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
      expect(waited).toBeGreaterThanOrEqual(LOCK_WAIT_MS - 50);
      expect(error.message).toContain(path);
      expect(error.message).toMatch(/locked by another process/);
      expect(everythingShown(error)).not.toContain(CANARY);
      // Nothing was written, and the other holder's lock is left alone.
      expect(readFileSync(path, 'utf8')).toBe(before);
      expect(readFileSync(lock, 'utf8')).toBe(`${process.pid} held-by-this-test`);
      // Reading does not need the lock.
      expect(await store.get('k')).toEqual({ value: CANARY, version: 1 });
    },
    LOCK_WAIT_MS + 10_000,
  );
});

describe('damaged and unreadable files', () => {
  test.each([
    ['garbage', `not json ${CANARY}`],
    ['a truncated file', `{"format":1,"entries":{"k":{"value":"${CANARY}","vers`],
    ['an unknown format', JSON.stringify({ format: 2, entries: { k: { value: CANARY } } })],
    ['no entries', JSON.stringify({ format: 1, tokens: [CANARY] })],
    ['null entries', JSON.stringify({ format: 1, entries: null })],
    ['JSON null', 'null'],
    ['an empty file', ''],
  ])(
    '%s → STORE_UNAVAILABLE that names the file, never a token; nothing is overwritten',
    async (_name, text) => {
      const { write } = tree();
      const path = write('tokens.json', text);
      const store = new FileKeyValueStore({ path });
      for (const operation of [
        () => store.get('k'),
        () => store.keys(),
        () => store.set('k', 'replacement'),
        () => store.delete('k'),
      ]) {
        const error = await rejection(operation());
        expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect(error.message).toBe(
          `The token file ${path} is damaged or of an unknown format; move it away and log in again.`,
        );
        expect(error.message).not.toContain(CANARY);
      }
      expect(readFileSync(path, 'utf8')).toBe(text);
      expect(readdirSync(dirname(path)).sort()).toEqual(['tokens.json']);
    },
  );

  test('the cause of a damaged-file error does not quote the file (token values)', async () => {
    // A value that lost its opening quote: V8's JSON.parse message quotes the text around the
    // error ('Unexpected token …, "…":{"value":CANARYTOK"… is not valid JSON'), and that
    // SyntaxError is kept as `cause`, which util.inspect and loggers print.
    const { write } = tree();
    const path = write(
      'tokens.json',
      `{"format":1,"entries":{"k":{"value":${CANARY}","version":1}}}`,
    );
    const error = await rejection(new FileKeyValueStore({ path }).get('k'));
    expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(error.message).not.toContain('CANARY');
    expect(everythingShown(error)).not.toContain('CANARY');
  });

  test('a path that is a directory → STORE_UNAVAILABLE naming it', async () => {
    const { dir } = tree();
    const path = join(dir, 'tokens.json');
    mkdirSync(path);
    const store = new FileKeyValueStore({ path });
    const error = await rejection(store.get('k'));
    expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(error.message).toBe(
      `Cannot read ${path} (EISDIR); check that the directory exists and is writable.`,
    );
    expect(isMcpAgentError(await rejection(store.set('k', CANARY)), 'STORE_UNAVAILABLE')).toBe(
      true,
    );
  });

  test('a parent that is a file → STORE_UNAVAILABLE, and the token is not in the message', async () => {
    const { write } = tree();
    const parent = write('not-a-directory', 'x');
    const store = new FileKeyValueStore({ path: join(parent, 'tokens.json') });
    const error = await rejection(store.set('k', CANARY));
    expect(isMcpAgentError(error, 'STORE_UNAVAILABLE')).toBe(true);
    expect(error.message).toMatch(/^Cannot \w+ .*not-a-directory.* \(ENOTDIR\)/);
    expect(everythingShown(error)).not.toContain(CANARY);
  });
});
