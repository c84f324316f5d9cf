import type { Reporter, TestCase, TestModule } from 'vitest/node';

/** Whether `test` sits in a suite (or module) that failed by itself (a hook), so it never ran. */
function inFailedSuite(test: TestCase): boolean {
  for (let parent = test.parent; ; parent = parent.parent) {
    if (parent.errors().length > 0) return true;
    if (parent.type === 'module') return false;
  }
}

/**
 * Prints, at the end of a run, one `skipped N tests: <why and how to start it>` line per missing
 * service (test/support/services.ts), the Node.js the run was on (`npm test` runs the suite on
 * Node 24 and 22), then one plain `N passed, N failed, N skipped` line for tools that read a
 * run's closing line rather than Vitest's coloured summary. A test that did not run because its
 * suite's hooks failed counts as failed, not skipped.
 */
export default class SummaryLineReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const unavailable = new Map<string, number>();
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed++;
        else if (state === 'failed' || inFailedSuite(test)) failed++;
        else {
          skipped++;
          const why = test.meta().unavailable;
          if (why !== undefined) unavailable.set(why, (unavailable.get(why) ?? 0) + 1);
        }
      }
    }
    for (const [why, count] of unavailable) {
      process.stdout.write(`skipped ${count} test${count === 1 ? '' : 's'}: ${why}\n`);
    }
    process.stdout.write(`on Node.js ${process.version} (${process.execPath})\n`);
    process.stdout.write(`${passed} passed, ${failed} failed, ${skipped} skipped\n`);
  }
}
