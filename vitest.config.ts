import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = fileURLToPath(new URL('./src/', import.meta.url));
const middleware = `${src}middleware/`;

export default defineConfig({
  resolve: {
    // The recipes of docs/middleware.md (examples/middleware/) import the package by name, as a
    // user's project does; in the tests they run against the sources (tsconfig.json "paths" alike).
    alias: [
      { find: /^mcp-agent-ts\/middleware$/, replacement: `${middleware}index.ts` },
      { find: /^mcp-agent-ts$/, replacement: `${src}index.ts` },
      { find: /^mcp-agent-ts\/agent$/, replacement: `${src}agent/index.ts` },
      { find: /^mcp-agent-ts\/client$/, replacement: `${src}client/index.ts` },
      {
        find: /^mcp-agent-ts\/(express|hono|fastify|node|web)$/,
        replacement: `${middleware}$1.ts`,
      },
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // No test may reach the network or sleep (test/test-rules.test.ts); these bound a hung test,
    // not a slow one.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Vitest's default is one worker fewer than the cores (one on two), but most files wait on the
    // processes and servers they start: 1.5 workers per core halves the run on two cores (470 s
    // to 224 s; four workers were no faster).
    maxWorkers: Math.max(2, Math.ceil(availableParallelism() * 1.5)),
    reporters: ['default', './test/support/summary-line.ts'],
  },
});
