/**
 * Command-line usage errors: exit code 2 and a pointer to the right help page.
 *
 * @module
 */
import { McpAgentError } from '../errors.js';

/** A usage error; `helpFor` is the command whose `--help` explains the usage. */
export class UsageError extends McpAgentError {
  readonly helpFor: string;

  constructor(message: string, helpFor = 'mcp-agent --help', cause?: unknown) {
    super('USAGE', message, cause === undefined ? {} : { cause });
    this.helpFor = helpFor;
  }
}
