// The conformance suite's results on disk, read the same way by `conformance.mjs` (client
// scenarios) and `conformance-server.mjs` (server scenarios): each run writes a `checks.json`
// somewhere below its output directory.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Every `checks.json` below `dir` (none when `dir` does not exist). */
export function findChecks(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? findChecks(join(dir, entry.name))
      : entry.name === 'checks.json'
        ? [join(dir, entry.name)]
        : [],
  );
}
