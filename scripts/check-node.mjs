// The first step of `npm test`: which Node.js npm scripts run on, and a stop at once, with the fix,
// when it is not the project's (node_modules/.bin/node, npm's `node` package) but an older one.
import { requireProjectNode } from './node-runtime.mjs';

requireProjectNode('npm test');
console.log(`npm scripts run on Node ${process.version} (${process.execPath})`);
