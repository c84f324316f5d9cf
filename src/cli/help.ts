/**
 * Help texts.
 *
 * @module
 */
import type { CommandSpec } from './commands.js';

/** Help for the global options, shared by every help page. */
export const GLOBAL_OPTIONS_HELP = `Global options:
  -c, --config PATH   use this config file instead of discovering one
      --json          the result as one JSON document on stdout, instead of text
  -v, --verbose       more detail: value sources, stack traces on errors
  -h, --help          show help (also: mcp-agent COMMAND --help)
  -V, --version       print the version`;

/** The top-level help page. */
export function mainHelp(commands: readonly CommandSpec[], version: string): string {
  const width = Math.max(...commands.map((command) => command.path.join(' ').length));
  const lines = commands.map(
    (command) => `  ${command.path.join(' ').padEnd(width)}  ${command.summary}`,
  );
  const groups = [...new Set(commands.filter((c) => c.path.length > 1).map((c) => c.path[0]))];
  return `mcp-agent ${version}: authentication for MCP agents (configuration compatible with mcp-agent)

Usage: mcp-agent [--config PATH] [--json] [--verbose] <command> [options]

Commands:
${lines.join('\n')}

${GLOBAL_OPTIONS_HELP}

A command's result goes to stdout (text, or JSON with --json); progress, prompts, warnings and
errors go to stderr. Exit codes: 0 success, 1 runtime failure, 2 usage or configuration error.
Run \`mcp-agent <command> --help\` for a command's options${groups.length > 0 ? ` (e.g. \`mcp-agent ${groups[0]} --help\`)` : ''}.
`;
}

/** Help for one command. */
export function commandHelp(command: CommandSpec): string {
  const flags = Object.entries(command.options).map(
    ([name, spec]) =>
      [
        `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.value ? ` ${spec.value}` : ''}`,
        spec.help,
      ] as const,
  );
  // Two spaces at least between a flag and its help, however long the flag.
  const width = Math.max(20, ...flags.map(([flag]) => flag.length + 2));
  const options = flags.map(([flag, help]) => `  ${flag.padEnd(width)}${help}`);
  return `Usage: ${command.usage}

${command.description}
${options.length > 0 ? `\nOptions:\n${options.join('\n')}\n` : ''}
${GLOBAL_OPTIONS_HELP}
`;
}

/** Help for a group of commands (`mcp-agent config --help`). */
export function groupHelp(group: string, commands: readonly CommandSpec[]): string {
  const width = Math.max(...commands.map((command) => command.path.join(' ').length));
  return `Usage: mcp-agent ${group} <command>

Commands:
${commands.map((command) => `  ${command.path.join(' ').padEnd(width)}  ${command.summary}`).join('\n')}

${GLOBAL_OPTIONS_HELP}
`;
}
