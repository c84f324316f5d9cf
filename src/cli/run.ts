/**
 * Runs the `mcp-agent` command line: parses arguments, dispatches to a command, and turns every
 * failure into one clear message and an exit code (0 success, 1 runtime failure, 2 usage or
 * configuration error).
 *
 * @module
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { ConfigError, formatIssue, suggest } from '../config/issues.js';
import { AuthorizationRequiredError, McpAgentError } from '../errors.js';
import { COMMANDS, type CommandSpec } from './commands.js';
import { displayFile, issueJson } from './format.js';
import { handOverJson, handOverText } from './hand-over.js';
import { commandHelp, groupHelp, mainHelp } from './help.js';
import { type CliIo, type GlobalOptions, Output } from './io.js';
import { UsageError } from './usage.js';
import { VERSION } from './version.js';

/** Exit codes. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const GLOBAL_OPTIONS = {
  config: { type: 'string', short: 'c' },
  json: { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
} as const satisfies ParseArgsConfig['options'];

/** Run the CLI with `argv` (without the node and script paths); resolves to the exit code. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const wantsJson = argv.includes('--json');
  const verbose = argv.includes('--verbose') || argv.includes('-v');
  const out = new Output(io, wantsJson);
  try {
    return await dispatch(argv, io, out);
  } catch (error) {
    return report(error, io, out, verbose);
  }
}

async function dispatch(argv: readonly string[], io: CliIo, out: Output): Promise<number> {
  const allOptions: NonNullable<ParseArgsConfig['options']> = { ...GLOBAL_OPTIONS };
  for (const command of COMMANDS) {
    for (const [name, spec] of Object.entries(command.options)) {
      allOptions[name] = spec.short ? { type: spec.type, short: spec.short } : { type: spec.type };
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: allOptions,
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(usageMessage(error), undefined, error);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const positionals = parsed.positionals;

  if (values.version) {
    if (out.json) out.resultJson({ version: VERSION });
    else out.help(VERSION);
    return EXIT.ok;
  }
  const command = findCommand(positionals);
  if (!command) {
    const group = positionals[0] ? COMMANDS.filter((c) => c.path[0] === positionals[0]) : [];
    if (values.help || positionals.length === 0 || (group.length > 0 && positionals.length === 1)) {
      if (values.help && group.length > 0) {
        out.help(groupHelp(positionals[0] as string, group));
        return EXIT.ok;
      }
      if (values.help) {
        out.help(mainHelp(COMMANDS, VERSION));
        return EXIT.ok;
      }
      if (out.json) {
        throw new UsageError(
          group.length > 0 ? `"${positionals[0]}" needs a command.` : 'No command given.',
        );
      }
      // Help nobody asked for (a usage error) is not a result: stderr.
      out.note(
        group.length > 0 ? groupHelp(positionals[0] as string, group) : mainHelp(COMMANDS, VERSION),
      );
      return EXIT.usage;
    }
    const typed = positionals.slice(0, group.length > 0 ? 2 : 1).join(' ');
    const names = COMMANDS.map((c) => c.path.join(' '));
    const hint = suggest(positionals.slice(0, 2).join(' '), names) ?? suggest(typed, names);
    throw new UsageError(`Unknown command "${typed}".${hint ? ` Did you mean "${hint}"?` : ''}`);
  }
  if (values.help) {
    out.help(commandHelp(command));
    return EXIT.ok;
  }
  const name = command.path.join(' ');
  for (const key of Object.keys(values)) {
    if (!(key in GLOBAL_OPTIONS) && !(key in command.options)) {
      throw new UsageError(
        `Option --${key} does not apply to "${name}".`,
        `mcp-agent ${name} --help`,
      );
    }
  }
  const args = positionals.slice(command.path.length);
  if (args.length > command.maxArgs) {
    throw new UsageError(
      `"${name}" takes ${command.maxArgs === 0 ? 'no arguments' : `at most ${command.maxArgs} arguments`}, but got "${args.join(' ')}".`,
      `mcp-agent ${name} --help`,
    );
  }
  const global: GlobalOptions = {
    ...(typeof values.config === 'string' ? { config: values.config } : {}),
    json: values.json === true,
    verbose: values.verbose === true,
  };
  return command.run({ io, global, out, args, options: values });
}

function findCommand(positionals: readonly string[]): CommandSpec | undefined {
  return COMMANDS.find((command) => command.path.every((word, i) => positionals[i] === word));
}

function usageMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const unknown = /Unknown option '([^']+)'/.exec(message);
  if (unknown) return `Unknown option ${unknown[1]}.`;
  const missing = /Option '([^']+)' argument missing/.exec(message);
  if (missing) return `Option ${missing[1]} needs a value.`;
  return message.split('\n')[0] ?? message;
}

function exitCodeOf(error: unknown): number {
  if (!(error instanceof McpAgentError)) return EXIT.failure;
  switch (error.code) {
    case 'USAGE':
    case 'CONFIG_NOT_FOUND':
    case 'CONFIG_UNREADABLE':
    case 'CONFIG_INVALID':
    case 'FILE_EXISTS':
    case 'SERVER_UNKNOWN':
    case 'TOOL_UNKNOWN':
    case 'TOOL_ARGUMENTS':
      return EXIT.usage;
    default:
      return EXIT.failure;
  }
}

function report(error: unknown, io: CliIo, out: Output, verbose: boolean): number {
  const code = exitCodeOf(error);
  const show = displayFile(io);
  // With --json, stdout holds one document: the failure, unless the command wrote its result first.
  const failure = (value: unknown) => {
    if (!out.wroteJson) out.resultJson(value);
  };
  if (error instanceof ConfigError) {
    const errors = error.errors;
    const warnings = error.issues.filter((issue) => issue.severity === 'warning');
    failure({
      ok: false,
      error: {
        code: error.code,
        message: `${errors.length} configuration error${errors.length === 1 ? '' : 's'}`,
        issues: error.issues.map((issue) => issueJson(issue, show)),
      },
    });
    for (const warning of warnings) out.warn(formatIssue(warning, show));
    out.error(`the configuration has ${errors.length} error${errors.length === 1 ? '' : 's'}:`);
    for (const issue of errors) out.note(`  ${formatIssue(issue, show)}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    failure({
      ok: false,
      error: {
        code: error instanceof McpAgentError ? error.code : 'INTERNAL',
        message,
        ...(error instanceof AuthorizationRequiredError ? handOverJson(error) : {}),
      },
    });
    out.error(message);
    if (error instanceof AuthorizationRequiredError) out.note(handOverText(error));
    if (error instanceof UsageError) out.note(`Run \`${error.helpFor}\` for usage.`);
    else if (!(error instanceof McpAgentError)) {
      out.note('This is a bug in mcp-agent-ts; please report it with the output of --verbose.');
    }
  }
  if (verbose && error instanceof Error && error.stack) out.note(error.stack);
  return code;
}
