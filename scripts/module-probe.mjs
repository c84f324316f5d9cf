// What a Node process loads: preload this module (`node --import ./scripts/module-probe.mjs …`)
// and, when the process exits, it writes to the file named by MODULE_PROBE_OUT one JSON object:
//   { packages: ['jose', …], files: 17, urls: […], heapUsed: bytes, maxRss: bytes }
// `packages`: every npm package a module was resolved from (import or require), sorted; `files`:
// how many modules outside node_modules were resolved (this package's own, from a checkout);
// `urls`: every module resolved; `heapUsed`: after a full garbage collection when the process
// runs with --expose-gc; `maxRss`: the peak resident set. Used through test/support/module-probe.ts
// (the entry-point and start-up tests) and by bench/imports.mjs. Needs module.registerHooks
// (Node ≥ 22.15).
import { writeFileSync } from 'node:fs';
import * as nodeModule from 'node:module';

const out = process.env.MODULE_PROBE_OUT;
if (!out) throw new Error('module-probe: set MODULE_PROBE_OUT to the file to write');
const { registerHooks } = nodeModule;
if (typeof registerHooks !== 'function') {
  throw new Error(`module-probe: Node ${process.versions.node} has no module.registerHooks`);
}

const resolved = new Set();
registerHooks({
  resolve(specifier, context, nextResolve) {
    const result = nextResolve(specifier, context);
    resolved.add(result.url);
    return result;
  },
});

/** `@scope/name` or `name` of the innermost node_modules folder of `url`, if any. */
function packageOf(url) {
  return /.*\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1];
}

process.on('exit', () => {
  globalThis.gc?.();
  const urls = [...resolved];
  const packages = [...new Set(urls.map(packageOf).filter(Boolean))].sort();
  const files = urls.filter((url) => url.startsWith('file:') && !packageOf(url)).length;
  const report = {
    packages,
    files,
    urls,
    heapUsed: process.memoryUsage().heapUsed,
    maxRss: process.resourceUsage().maxRSS * 1024,
  };
  writeFileSync(out, JSON.stringify(report));
});
