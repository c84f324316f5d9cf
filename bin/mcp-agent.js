#!/usr/bin/env node
// The `mcp-agent` command. The TypeScript sources are compiled to dist/ by `npm install`
// (the `prepare` script) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write(
    'error: mcp-agent is not built yet; run `npm install` (or `npm run build`) in the mcp-agent-ts directory.\n',
  );
  process.exit(1);
}
await import(entry.href);
