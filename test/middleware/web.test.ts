/**
 * The web adapter (`mcp-agent-ts/web`, the recipe `examples/middleware/web.ts`) with the real
 * framework and the real SDK server: an SDK client logs in through the development authorization
 * server, and every row of the attack table (test/middleware/suite.ts).
 */
import { ADAPTERS } from './adapters.js';
import { describeAdapter } from './suite.js';

describeAdapter(ADAPTERS.web);
