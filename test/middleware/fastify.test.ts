/**
 * The fastify adapter (`mcp-agent-ts/fastify`, the recipe `examples/middleware/fastify.ts`) with the real
 * framework and the real SDK server: an SDK client logs in through the development authorization
 * server, and every row of the attack table (test/middleware/suite.ts).
 */
import { ADAPTERS } from './adapters.js';
import { describeAdapter } from './suite.js';

describeAdapter(ADAPTERS.fastify);
