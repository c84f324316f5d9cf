/**
 * `mcp-agent init`.
 *
 * @module
 */
import { resolve } from 'node:path';
import { initProject } from '../../config/starter.js';
import { displayFile } from '../format.js';
import type { CliIo, Output } from '../io.js';

/** Write the starter files into `dir` (default: the working directory). */
export function init(io: CliIo, out: Output, options: { dir?: string; force: boolean }): number {
  const dir = resolve(io.cwd, options.dir ?? '.');
  const results = initProject(dir, { force: options.force });
  const show = displayFile(io);
  out.resultJson({ ok: true, files: results });
  for (const { file, action } of results) out.result(`${action.padEnd(9)} ${show(file)}`);
  out.note('Next: edit mcp_agent.config.yaml, then run `npx mcp-agent config check`.');
  return 0;
}
