/**
 * How files and configuration issues are shown by every command.
 *
 * @module
 */
import { relative, sep } from 'node:path';
import { type ConfigIssue, formatIssue } from '../config/issues.js';
import { formatOrigin, formatPath } from '../config/paths.js';
import type { CliIo } from './io.js';

/** Show a file relative to the working directory when it is inside it. */
export function displayFile(io: CliIo): (file: string) => string {
  return (file) => {
    const rel = relative(io.cwd, file);
    return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' ? rel : file;
  };
}

/** An issue as plain JSON. */
export function issueJson(issue: ConfigIssue, show: (file: string) => string) {
  return {
    severity: issue.severity,
    ...(issue.path ? { path: formatPath(issue.path) } : {}),
    ...(issue.origin ? { source: formatOrigin(issue.origin, show) } : {}),
    message: issue.message,
    text: formatIssue(issue, show),
  };
}
