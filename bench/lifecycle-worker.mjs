/**
 * One OS process of the lifecycle benchmark (bench/lifecycle.mjs). It opens the token state of
 * the config in `dir`, prints `ready`, waits for `go` on stdin, then either
 *
 * - `calls`: makes `count` concurrent tool calls through the auth-aware fetch, or
 * - `rotate`: calls `token()` one call after the other (each one due for a refresh, as the AS
 *   issues tokens that expire at once) until the AS has answered `count` refreshes in all,
 *
 * and prints `result {"ok":…,"failed":…,"errors":[…],"ms":…}` (ms: from `go` to the last result).
 *
 * Usage: node bench/lifecycle-worker.mjs '{"dir":"…","mode":"calls","count":250,"mcpUrl":"…","issuer":"…"}'
 */
import { createInterface } from 'node:readline';
import { withOAuth } from '../dist/index.js';
import { openAuth, pooledFetch, toolCall } from './common.mjs';

const job = JSON.parse(process.argv[2] ?? '{}');
const { store, auth } = await openAuth(job.dir);
const mcpFetch = pooledFetch();

process.stdout.write('ready\n');
for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === 'go') break;
}

const began = performance.now();
let ok = 0;
let failed = 0;
const errors = new Set();
if (job.mode === 'calls') {
  const authFetch = withOAuth(mcpFetch, auth, new URL(job.mcpUrl));
  const results = await Promise.all(
    Array.from({ length: job.count }, (_, i) => toolCall(authFetch, job.mcpUrl, i)),
  );
  ok = results.filter(Boolean).length;
  failed = results.length - ok;
} else {
  const countUrl = `${job.issuer}/count`;
  for (;;) {
    const { refreshes } = await (await fetch(countUrl)).json();
    if (refreshes >= job.count) break;
    try {
      await auth.token();
      ok += 1;
    } catch (error) {
      failed += 1;
      errors.add(String(error?.code ?? error?.message ?? error));
    }
  }
}
const ms = performance.now() - began;
process.stdout.write(`result ${JSON.stringify({ ok, failed, errors: [...errors], ms })}\n`);
await store.close();
await mcpFetch.close();
process.exit(0);
