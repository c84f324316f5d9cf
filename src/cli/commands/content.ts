/**
 * `mcp-agent resources list [SERVER]`, `resources read [SERVER] URI`, `prompts list [SERVER]` and
 * `prompts get NAME [JSON_ARGS]`: the downstream servers' resources and prompts, named as `serve`
 * names them (prompts `SERVER_PROMPT`, resources by their URI with the name `SERVER_NAME`).
 *
 * @module
 */

import type {
  GetPromptResult,
  Prompt,
  ReadResourceResult,
  Resource,
  ResourceTemplateType as ResourceTemplate,
} from '@modelcontextprotocol/client';
import { ToolNames } from '../../config/tool-names.js';
import { McpAgentError } from '../../errors.js';
import { matchesUriTemplate } from '../../server/content-scopes.js';
import { type ContentNaming, namespacedNaming } from '../../servers/content-names.js';
import type { ServerConnection, ServerRegistry } from '../../servers/registry.js';
import type { CliIo, GlobalOptions, Output } from '../io.js';
import { serverNotes } from '../server-notes.js';
import { withSession } from '../session.js';
import { UsageError } from '../usage.js';
import type { CallFlags, LoginFlags } from './servers.js';

type Kind = 'resources' | 'prompts';

/** Pages of one listing read at most (a server that never stops paging is cut there). */
const MAX_PAGES = 100;

/** Every page of a listing of `connection` (none when the server lacks the capability). */
async function all<T>(
  connection: ServerConnection,
  kind: Kind,
  page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>,
): Promise<T[]> {
  if (!connection.client.getServerCapabilities()?.[kind]) return [];
  const items: T[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const result = await connection.request(() => page(cursor));
    items.push(...result.items);
    cursor = result.nextCursor;
  } while (cursor && ++pages < MAX_PAGES);
  return items;
}

function resourcesOf(connection: ServerConnection): Promise<Resource[]> {
  return all(connection, 'resources', async (cursor) => {
    const result = await connection.client.listResources(cursor ? { cursor } : {});
    return { items: result.resources, nextCursor: result.nextCursor };
  });
}

function templatesOf(connection: ServerConnection): Promise<ResourceTemplate[]> {
  return all(connection, 'resources', async (cursor) => {
    const result = await connection.client.listResourceTemplates(cursor ? { cursor } : {});
    return { items: result.resourceTemplates, nextCursor: result.nextCursor };
  });
}

function promptsOf(connection: ServerConnection): Promise<Prompt[]> {
  return all(connection, 'prompts', async (cursor) => {
    const result = await connection.client.listPrompts(cursor ? { cursor } : {});
    return { items: result.prompts, nextCursor: result.nextCursor };
  });
}

/** What each server (`names`) gives; one that fails does not hide the others. */
async function perServer<T>(
  registry: ServerRegistry,
  names: readonly string[],
  list: (connection: ServerConnection) => Promise<T[]>,
): Promise<{ lists: { server: string; items: T[] }[]; failures: unknown[] }> {
  const settled = await Promise.allSettled(
    names.map(async (server) => ({ server, items: await list(await registry.connect(server)) })),
  );
  const failures = settled.flatMap((result) =>
    result.status === 'rejected' ? [result.reason] : [],
  );
  if (failures.length === names.length && failures[0] !== undefined) throw failures[0];
  return {
    lists: settled.flatMap((result) => (result.status === 'fulfilled' ? [result.value] : [])),
    failures,
  };
}

/** Every server, or `server` alone (`SERVER_UNKNOWN` when it is not configured). */
function serversOf(registry: ServerRegistry, server: string | undefined): string[] {
  if (server === undefined) return registry.names();
  registry.settings(server);
  return [server];
}

function namingOf(registry: ServerRegistry): ContentNaming {
  return namespacedNaming(new ToolNames(registry.names()));
}

/**
 * One row per item `list` gives of every server (or of `server` alone), made by `row` with the
 * served naming; a server that fails does not hide the others.
 */
async function rowsPerServer<T, R>(
  registry: ServerRegistry,
  server: string | undefined,
  list: (connection: ServerConnection) => Promise<T[]>,
  row: (naming: ContentNaming, server: string, item: T) => R,
): Promise<{ rows: R[]; failures: unknown[] }> {
  const naming = namingOf(registry);
  const { lists, failures } = await perServer(registry, serversOf(registry, server), list);
  const rows = lists.flatMap(({ server: name, items }) =>
    items.map((item) => row(naming, name, item)),
  );
  return { rows, failures };
}

function reportFailures(out: Output, failures: readonly unknown[]): number {
  for (const failure of failures) {
    out.error(failure instanceof Error ? failure.message : 'a server failed');
  }
  return failures.length > 0 ? 1 : 0;
}

/** `resources list [SERVER]`: resources and templates, by URI, with their served names. */
export function resourcesList(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string | undefined,
  flags: LoginFlags = {},
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async ({ registry }) => {
      const { rows, failures } = await rowsPerServer(
        registry,
        server,
        async (connection) => [
          ...(await resourcesOf(connection)).map((resource) => ({ resource, template: false })),
          ...(await templatesOf(connection)).map((template) => ({
            resource: { ...template, uri: template.uriTemplate },
            template: true,
          })),
        ],
        (naming, name, { resource, template }) => ({
          uri: resource.uri,
          name: naming.resourceName(name, resource.name),
          server: name,
          template,
          description: resource.description ?? null,
          mimeType: resource.mimeType ?? null,
        }),
      );
      out.resultJson({ resources: rows });
      if (rows.length === 0) out.note('No resources.');
      const width = Math.max(...rows.map((row) => row.uri.length), 0);
      for (const row of rows) out.result(`${row.uri.padEnd(width)}  ${row.name}`.trimEnd());
      return reportFailures(out, failures);
    },
    flags,
  );
}

/** The one server of `names` that lists `uri`, else the one with a template matching it. */
async function ownerOf(registry: ServerRegistry, names: readonly string[], uri: string) {
  const { lists } = await perServer(registry, names, async (connection) => [
    ...(await resourcesOf(connection))
      .filter((resource) => resource.uri === uri)
      .map(() => 'listed'),
    ...(await templatesOf(connection))
      .filter((template) => matchesUriTemplate(template.uriTemplate, uri))
      .map(() => 'template'),
  ]);
  for (const how of ['listed', 'template']) {
    const servers = lists.filter(({ items }) => items.includes(how)).map(({ server }) => server);
    if (servers.length === 1) return servers[0] as string;
    if (servers.length > 1) {
      throw new UsageError(
        `The resource "${uri}" is offered by ${servers.map((s) => `"${s}"`).join(' and ')}; name the server: "mcp-agent resources read SERVER URI".`,
        'mcp-agent resources read --help',
      );
    }
  }
  throw new McpAgentError(
    'TOOL_UNKNOWN',
    `No server lists the resource "${uri}" or has a template matching it; "mcp-agent resources list" shows them.`,
  );
}

/** `resources read [SERVER] URI`: text contents as text, the rest as JSON. */
export function resourcesRead(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  target: { readonly server?: string | undefined; readonly uri: string },
  flags: CallFlags = {},
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async ({ registry }) => {
      const server = target.server ?? (await ownerOf(registry, registry.names(), target.uri));
      const connection = await registry.connect(server);
      const { log } = serverNotes(out, connection, options.verbose);
      // On 2026-07-28 the envelope names the log level (the server logs nothing otherwise).
      const params = { uri: target.uri, ...connection.relayParams(undefined, log) };
      const result = await connection.request(
        (request) => connection.client.readResource(params, request),
        { log },
      );
      out.resultJson(result);
      out.result(renderContents(result));
      return 0;
    },
    flags,
  );
}

function renderContents(result: ReadResourceResult): string {
  return result.contents
    .map((item) =>
      'text' in item && typeof item.text === 'string' ? item.text : JSON.stringify(item, null, 2),
    )
    .join('\n');
}

/** `prompts list [SERVER]`: the prompts as `SERVER_PROMPT`, with their arguments. */
export function promptsList(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  server: string | undefined,
  flags: LoginFlags = {},
): Promise<number> {
  return withSession(
    io,
    options,
    out,
    async ({ registry }) => {
      const { rows, failures } = await rowsPerServer(
        registry,
        server,
        promptsOf,
        (naming, name, prompt) => ({
          name: naming.prompt(name, prompt.name),
          server: name,
          prompt: prompt.name,
          description: prompt.description ?? null,
          arguments: prompt.arguments ?? [],
        }),
      );
      out.resultJson({ prompts: rows });
      if (rows.length === 0) out.note('No prompts.');
      const width = Math.max(...rows.map((row) => row.name.length), 0);
      for (const row of rows) {
        const args = row.arguments.map((arg) => (arg.required ? arg.name : `[${arg.name}]`));
        const description = (row.description ?? '').split('\n')[0] ?? '';
        out.result(
          `${row.name.padEnd(width)}  ${[args.join(' '), description].filter(Boolean).join('  ')}`.trimEnd(),
        );
      }
      return reportFailures(out, failures);
    },
    flags,
  );
}

/** `prompts get NAME [JSON_ARGS]`: the prompt's messages, one `role: text` line each. */
export function promptsGet(
  io: CliIo,
  options: GlobalOptions,
  out: Output,
  name: string,
  json: string | undefined,
  flags: CallFlags = {},
): Promise<number> {
  const args = promptArguments(json, name);
  return withSession(
    io,
    options,
    out,
    async ({ registry }) => {
      const naming = namingOf(registry);
      const server = naming.promptOwner(name);
      const connection = server === undefined ? undefined : await registry.connect(server);
      const prompt =
        connection &&
        (await promptsOf(connection)).find(
          (candidate) => naming.prompt(connection.name, candidate.name) === name,
        );
      if (!connection || !prompt) {
        throw new McpAgentError(
          'TOOL_UNKNOWN',
          `No server offers a prompt named "${name}"; prompt names are SERVER_PROMPT, as "mcp-agent prompts list" shows them.`,
        );
      }
      const { log } = serverNotes(out, connection, options.verbose);
      const params = {
        name: prompt.name,
        arguments: args,
        ...connection.relayParams(undefined, log),
      };
      const result: GetPromptResult = await connection.request(
        (request) => connection.client.getPrompt(params, request),
        { log },
      );
      out.resultJson(result);
      for (const message of result.messages) {
        const { content } = message;
        out.result(
          `${message.role}: ${content.type === 'text' ? content.text : JSON.stringify(content)}`,
        );
      }
      return 0;
    },
    flags,
  );
}

/** The prompt's arguments: a JSON object of strings (MCP prompt arguments are strings). */
function promptArguments(json: string | undefined, name: string): Record<string, string> {
  if (json === undefined || json.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    value = undefined;
  }
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    Object.values(value).some((item) => typeof item !== 'string')
  ) {
    throw new McpAgentError(
      'TOOL_ARGUMENTS',
      `The arguments for prompt "${name}" must be a JSON object of strings, for example '{"city": "Paris"}'.`,
    );
  }
  return value as Record<string, string>;
}
