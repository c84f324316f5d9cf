/**
 * `mcp-agent servers list`, `tools list [SERVER]` and `tools call NAME|SERVER TOOL [JSON_ARGS]`.
 *
 * @module
 */
import type { CallToolResult } from '@modelcontextprotocol/client';
import { Ajv } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { McpAgentError } from '../../errors.js';
import { ToolAggregator } from '../../servers/aggregator.js';
import { describeEndpoint } from '../../servers/connect-errors.js';
import { authMode, scrub, secretValues } from '../../servers/credentials.js';
import type { ServerRegistry } from '../../servers/registry.js';
import type { CliConsentOptions } from '../consent.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { serverNotes } from '../server-notes.js';
import { type SessionOptions, withSession } from '../session.js';
import { UsageError } from '../usage.js';
import { loadForCli } from './config.js';

/** `servers list`: name, transport, auth mode and endpoint of each server; never a credential. */
export function serversList(io: CliIo, options: GlobalOptions, out: Output): number {
  const { settings } = loadForCli(io, options);
  const rows = Object.entries(settings.mcp.servers).map(([name, server]) => ({
    name,
    transport: server.transport,
    auth: authMode(server),
    endpoint: describeEndpoint(server),
  }));
  out.resultJson({ servers: rows });
  if (rows.length === 0) {
    // An empty listing: nothing on stdout, and a hint for people.
    out.note('No servers are configured (add them under mcp.servers).');
    return 0;
  }
  const width = (key: 'name' | 'transport' | 'auth') =>
    Math.max(key.length, ...rows.map((row) => row[key].length));
  const line = (name: string, transport: string, auth: string, endpoint: string) =>
    `${name.padEnd(width('name'))}  ${transport.padEnd(width('transport'))}  ${auth.padEnd(width('auth'))}  ${endpoint}`;
  out.result(line('NAME', 'TRANSPORT', 'AUTH', 'ENDPOINT'));
  for (const row of rows) out.result(line(row.name, row.transport, row.auth, row.endpoint));
  return 0;
}

/** `--no-browser` and `--device`, for a login a command may start. */
export type LoginFlags = CliConsentOptions;

/**
 * {@link LoginFlags}, and how the servers' elicitation and sampling requests are answered
 * (`SessionOptions.answer`).
 */
export type CallFlags = LoginFlags & Pick<SessionOptions, 'answer'>;

function withRegistry<T>(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  run: (registry: ServerRegistry) => Promise<T>,
  flags: CallFlags = {},
): Promise<T> {
  return withSession(io, options, out, (session) => run(session.registry), flags);
}

/** `tools list [SERVER]`. */
export function toolsList(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string | undefined,
  flags: CallFlags = {},
): Promise<number> {
  return withRegistry(
    io,
    options,
    out,
    async (registry) => {
      const names = server === undefined ? registry.names() : [server];
      const aggregator = new ToolAggregator(registry, names);
      // One server that cannot be reached does not hide the tools of the others.
      const settled = await Promise.allSettled(
        names.map((name) => aggregator.listServerTools(name)),
      );
      const failures = settled.flatMap((result) =>
        result.status === 'rejected' ? [result.reason] : [],
      );
      if (failures.length === names.length && failures[0] !== undefined) throw failures[0];
      const tools = settled.flatMap((result) =>
        result.status === 'fulfilled' ? result.value : [],
      );
      out.resultJson({
        tools: tools.map((tool) => ({
          name: tool.name,
          server: tool.server,
          tool: tool.tool,
          description: tool.definition.description ?? null,
          inputSchema: tool.definition.inputSchema,
        })),
      });
      if (tools.length === 0) out.note('No tools.');
      const width = Math.max(...tools.map((tool) => tool.name.length), 0);
      for (const tool of tools) {
        const description = (tool.definition.description ?? '').split('\n')[0] ?? '';
        out.result(`${tool.name.padEnd(width)}  ${description}`.trimEnd());
      }
      for (const failure of failures) {
        out.error(failure instanceof Error ? failure.message : 'a server failed');
      }
      return failures.length > 0 ? 1 : 0;
    },
    flags,
  );
}

/** The tool `tools call` names: its served name (as `tools list` shows it), or server and tool. */
export type ToolTarget =
  | { readonly name: string }
  | { readonly server: string; readonly tool: string };

/** `tools call NAME [JSON_ARGS]` or `tools call SERVER TOOL [JSON_ARGS]`. */
export function toolsCall(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  target: ToolTarget,
  json: string | undefined,
  flags: CallFlags = {},
): Promise<number> {
  const args = parseArguments(
    json,
    'name' in target
      ? `tool "${target.name}"`
      : `tool "${target.tool}" of server "${target.server}"`,
  );
  return withRegistry(
    io,
    options,
    out,
    async (registry) => {
      if ('name' in target && registry.names().includes(target.name)) {
        throw new UsageError(
          `"tools call ${target.name}" needs a TOOL of server "${target.name}" too, or the tool's name as "mcp-agent tools list ${target.name}" prints it.`,
          'mcp-agent tools call --help',
        );
      }
      const found =
        'name' in target
          ? await new ToolAggregator(registry).resolve(target.name)
          : await new ToolAggregator(registry, [target.server]).findTool(
              target.server,
              target.tool,
            );
      checkArguments(found.name, found.definition.inputSchema, args);
      const connection = await registry.connect(found.server);
      // Progress and the server's log messages go to stderr while the call runs.
      const result = await connection.callTool(
        found.tool,
        args,
        serverNotes(out, connection, options.verbose),
      );
      out.resultJson(result);
      if (result.isError) {
        // An error text is a message, so the server's own secrets are scrubbed from it.
        out.error(`tool "${found.name}" reported an error:`);
        out.note(scrub(renderContent(result), secretValues(connection.settings)));
        return 1;
      }
      out.result(renderContent(result));
      return 0;
    },
    flags,
  );
}

function parseArguments(json: string | undefined, name: string): Record<string, unknown> {
  if (json === undefined || json.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new McpAgentError(
      'TOOL_ARGUMENTS',
      `The arguments for ${name} are not valid JSON; pass one JSON object, for example '{"message": "hi"}'.`,
    );
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new McpAgentError(
      'TOOL_ARGUMENTS',
      `The arguments for ${name} must be a JSON object (like {"name": "value"}), not a list or a single value.`,
    );
  }
  return value as Record<string, unknown>;
}

// `logger: false`: Ajv would write to the console (an unknown format), past the CLI's Output.
const draft07 = new Ajv({ strict: false, allErrors: true, logger: false });
const draft2020 = new Ajv2020({ strict: false, allErrors: true, logger: false });

function checkArguments(name: string, schema: unknown, args: Record<string, unknown>): void {
  // MCP 2025-11-25 makes JSON Schema 2020-12 the default dialect; older servers send draft-07.
  const dialect = (schema as { $schema?: unknown } | null)?.$schema;
  const ajv = typeof dialect === 'string' && dialect.includes('draft-07') ? draft07 : draft2020;
  let validate: ReturnType<typeof ajv.compile>;
  try {
    validate = ajv.compile(schema as object);
  } catch {
    return; // A schema we cannot compile is the server's to enforce.
  }
  if (validate(args)) return;
  const problems = (validate.errors ?? []).slice(0, 5).map((error) => {
    const where = error.instancePath
      ? `"${error.instancePath.slice(1).replaceAll('/', '.')}"`
      : 'the arguments';
    const missing = (error.params as { missingProperty?: string }).missingProperty;
    return missing ? `"${missing}" is required` : `${where} ${error.message ?? 'is not valid'}`;
  });
  throw new McpAgentError(
    'TOOL_ARGUMENTS',
    `The arguments do not match the input schema of "${name}": ${problems.join('; ')}.`,
  );
}

/** Text content as text; every other kind of content as JSON. */
export function renderContent(result: CallToolResult): string {
  const parts = result.content.map((item) =>
    item.type === 'text' ? item.text : JSON.stringify(item, null, 2),
  );
  if (result.structuredContent && parts.length === 0) {
    parts.push(JSON.stringify(result.structuredContent, null, 2));
  }
  return parts.join('\n');
}
