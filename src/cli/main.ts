/**
 * Process entry of the `mcp-agent` command.
 *
 * @module
 */
import { homedir } from 'node:os';
import { processSink } from './io.js';
import { run } from './run.js';

// A reader that goes away (`| head -1`) ends the output, not the command; a stream that cannot be
// written for another reason (a full disk) makes the run fail.
let unwritable = false;
const stderr = processSink(process.stderr, () => {
  unwritable = true;
});
const stdout = processSink(process.stdout, (error) => {
  unwritable = true;
  stderr.write(`error: cannot write the result to standard output (${error.code ?? 'error'}).\n`);
});

const code = await run(process.argv.slice(2), {
  stdout,
  stderr,
  env: process.env,
  cwd: process.cwd(),
  homeDir: homedir(),
  stdin: process.stdin,
  stderrIsTTY: process.stderr.isTTY === true,
  stdoutIsTTY: process.stdout.isTTY === true,
});
process.exitCode = code === 0 && unwritable ? 1 : code;
