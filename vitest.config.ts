import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    // No test may reach the network or sleep (test/test-rules.test.ts); these bound a hung test,
    // not a slow one.
    testTimeout: 20_000,
    hookTimeout: 20_000,
    reporters: ['default', './test/support/summary-line.ts'],
  },
});
