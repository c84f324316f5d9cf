/**
 * The node:http adapter (`mcp-agent-ts/node`) in front of the SDK v2's own Node face
 * (`toNodeHandler(createMcpHandler(…))` of `@modelcontextprotocol/node`): an SDK v2 client logs
 * in through the development authorization server, and every row of the attack table
 * (test/middleware/suite.ts).
 */
import { ADAPTERS } from './adapters.js';
import { describeAdapter } from './suite.js';

describeAdapter(ADAPTERS['node-v2']);
