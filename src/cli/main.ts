/**
 * Process entry of the `mcp-agent` command.
 *
 * @module
 */
import { homedir } from 'node:os';
import { run } from './run.js';

const code = await run(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
  homeDir: homedir(),
  stdin: process.stdin,
  stderrIsTTY: process.stderr.isTTY === true,
});
process.exitCode = code;
