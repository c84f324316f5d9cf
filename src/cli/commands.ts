/**
 * The command table: names, options, help texts and handlers.
 *
 * @module
 */

import { configCheck, configShow } from './commands/config.js';
import { init } from './commands/init.js';
import { serversList, toolsCall, toolsList } from './commands/servers.js';
import type { CliIo, GlobalOptions, Output } from './io.js';
import { UsageError } from './usage.js';

/** A command-specific option. */
export interface OptionSpec {
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  readonly value?: string;
  readonly help: string;
}

/** What a command handler receives. */
export interface CommandContext {
  readonly io: CliIo;
  readonly global: GlobalOptions;
  readonly out: Output;
  readonly args: readonly string[];
  readonly options: Readonly<Record<string, string | boolean | undefined>>;
}

/** One command of the CLI. */
export interface CommandSpec {
  /** The words that name it, e.g. `['config', 'check']`. */
  readonly path: readonly string[];
  readonly summary: string;
  readonly usage: string;
  readonly description: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Most positional arguments accepted. */
  readonly maxArgs: number;
  run(context: CommandContext): number | Promise<number>;
}

/** Every command. */
export const COMMANDS: readonly CommandSpec[] = [
  {
    path: ['config', 'check'],
    summary: 'validate the configuration and report every problem',
    usage: 'mcp-agent [--config PATH] [--json] config check',
    description:
      'Finds and loads the configuration (config file, secrets file, .env, environment, MCP_APP_SETTINGS_PRELOAD),\nvalidates it, and prints a summary and any warnings. Every error names the key and the file:line:column\nit came from. Exit code 0 when valid, 2 when not.',
    options: {},
    maxArgs: 0,
    run: ({ io, global, out }) => configCheck(io, global, out),
  },
  {
    path: ['config', 'show'],
    summary: 'print the effective configuration, secrets redacted',
    usage: 'mcp-agent [--config PATH] [--json] [--verbose] config show',
    description:
      'Prints the merged configuration with defaults applied. Secret values (client secrets, tokens, API keys,\nheader and env values, and everything from the secrets file) are shown as [redacted].\nWith --verbose, each value is annotated with where it came from; --json always includes the sources.',
    options: {},
    maxArgs: 0,
    run: ({ io, global, out }) => configShow(io, global, out),
  },
  {
    path: ['servers', 'list'],
    summary: 'list the configured downstream servers and how each is authenticated',
    usage: 'mcp-agent [--config PATH] [--json] servers list',
    description:
      'Lists mcp.servers: name, transport, authentication mode (none, headers, env or oauth) and\nendpoint (the command, or the URL without its query). Credential values are never shown.',
    options: {},
    maxArgs: 0,
    run: ({ io, global, out }) => serversList(io, global, out),
  },
  {
    path: ['tools', 'list'],
    summary: 'list the tools of one server, or of all servers, as SERVER/TOOL',
    usage: 'mcp-agent [--config PATH] [--json] tools list [SERVER]',
    description:
      'Connects to the server (or every configured server) and lists its tools under namespaced\nnames SERVER/TOOL, honouring allowed_tools. A "/" or "~" inside a name is written "~1" or "~0".',
    options: {},
    maxArgs: 1,
    run: ({ io, global, out, args }) => toolsList(io, global, out, args[0]),
  },
  {
    path: ['tools', 'call'],
    summary: 'call one tool and print its result',
    usage: 'mcp-agent [--config PATH] [--json] tools call SERVER TOOL [\'{"arg": "value"}\']',
    description:
      "Calls TOOL on SERVER with the JSON object given (default {}), checked against the tool's input\nschema first. Text content is printed as text, other content as JSON; --json prints the raw result.\nExit code 1 when the tool reports an error.",
    options: {},
    maxArgs: 3,
    run: ({ io, global, out, args }) => {
      const [server, tool, json] = args;
      if (server === undefined || tool === undefined) {
        throw new UsageError(
          '"tools call" needs a SERVER and a TOOL.',
          'mcp-agent tools call --help',
        );
      }
      return toolsCall(io, global, out, server, tool, json);
    },
  },
  {
    path: ['init'],
    summary: 'write a starter mcp_agent.config.yaml and mcp_agent.secrets.yaml',
    usage: 'mcp-agent init [--dir DIR] [--force]',
    description:
      'Writes a commented mcp_agent.config.yaml, an mcp_agent.secrets.yaml readable only by you (mode 0600),\nand a .gitignore entry for the secrets file. An existing config file is kept unless --force is given;\nan existing secrets file is never overwritten.',
    options: {
      dir: {
        type: 'string',
        value: 'DIR',
        help: 'where to write the files (default: the working directory)',
      },
      force: { type: 'boolean', help: 'replace an existing mcp_agent.config.yaml' },
    },
    maxArgs: 0,
    run: ({ io, out, options }) =>
      init(io, out, {
        ...(typeof options.dir === 'string' ? { dir: options.dir } : {}),
        force: options.force === true,
      }),
  },
];
