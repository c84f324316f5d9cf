/**
 * The attack table of the middleware adapters run against `serve` (`createApp`) with the same
 * tools and `authorization:` section: the adapters answer every row as it does.
 */
import { ADAPTERS } from './adapters.js';
import { describeAdapter } from './suite.js';

describeAdapter(ADAPTERS.serve, { login: false });
