/**
 * Front mode (`front: NAME`, `serve --front NAME`): the app serves exactly one configured server
 * as it is, its tools under their own names, protected by `authorization` like any served app.
 * Nothing else is served: the other configured servers are not started (a warning names them),
 * and an app module (its tools, workflows and agents) is refused at start.
 *
 * The caller's token never goes downstream: the server is reached with the credentials its own
 * configuration gives (static headers or env, the app's OAuth, or the caller's own login).
 *
 * @module
 */
import type { Settings } from '../config/schema/settings.js';
import {
  frontToolName,
  frontToolScopeMessage,
  quotedNames,
  unconfiguredFront,
} from '../config/tool-names.js';
import { McpAgentError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { AppDefinition } from './define.js';

/** The settings narrowed to the fronted server, and the servers left out. */
export interface FrontSettings {
  /** The fronted server's configured name. */
  readonly server: string;
  /** `settings` with `mcp.servers` holding the fronted server only. */
  readonly settings: Settings;
  /** The other configured servers (not started, not served). */
  readonly leftOut: readonly string[];
}

/**
 * The settings of front mode for `server`; throws a `USAGE` error naming the configured servers
 * when `server` is not one of them.
 */
export function frontSettings(settings: Settings, server: string): FrontSettings {
  const servers = settings.mcp.servers;
  const names = Object.keys(servers);
  const own = Object.hasOwn(servers, server) ? servers[server] : undefined;
  if (!own) {
    const why = unconfiguredFront(server, names) ?? `"${server}" is not a configured server`;
    throw new McpAgentError('USAGE', `front: ${why}.`);
  }
  return {
    server,
    settings: { ...settings, front: server, mcp: { ...settings.mcp, servers: { [server]: own } } },
    leftOut: names.filter((name) => name !== server),
  };
}

/** Refuse an app module in front mode: its tools, workflows and agents would not be served. */
export function refuseAppModule(definition: AppDefinition, server: string): void {
  const parts = [
    ...[...definition.tools.keys()].map((name) => `tool "${name}"`),
    ...[...definition.workflows.keys()].map((name) => `workflow "${name}"`),
    ...[...definition.agents.keys()].map((name) => `agent "${name}"`),
  ];
  if (parts.length === 0) return;
  throw new McpAgentError(
    'USAGE',
    `front mode serves server "${server}" as it is and nothing else, but the app module defines ${parts.slice(0, 5).join(', ')}${parts.length > 5 ? ', …' : ''}; serve without front to serve them.`,
  );
}

/** Warn about the servers left out and about namespaced `tool_scopes` keys. */
export function warnFront(front: FrontSettings, logger: Logger): void {
  const { server, leftOut } = front;
  if (leftOut.length > 0) {
    logger.warn(
      `front mode serves server "${server}" only; not started and not served: ${quotedNames(leftOut)}`,
      { server },
    );
  }
  for (const key of Object.keys(front.settings.authorization?.tool_scopes ?? {})) {
    const tool = frontToolName(key, server);
    if (tool === undefined) continue;
    logger.warn(`authorization.tool_scopes key "${key}" ${frontToolScopeMessage(tool)}`, {
      server,
    });
  }
}
