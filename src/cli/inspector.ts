/**
 * The MCP Inspector command that `mcp-agent dev` suggests, for the Node.js running it. The
 * Inspector 2.x (the one that logs in with OAuth from its web UI and its `--cli`) needs Node
 * ≥ 22.19; on an older Node, a bare `npx @modelcontextprotocol/inspector` installs 0.15, the last
 * release without an `engines` field, which cannot log in to the agent. npm's `node` package
 * brings a Node 22 for the Inspector alone.
 *
 * @module
 */

/** The oldest Node.js the MCP Inspector 2.x runs on (its `engines`). */
const INSPECTOR_NODE = [22, 19] as const;

/** Whether `nodeVersion` (`process.versions.node`, e.g. `20.18.1`) runs the Inspector 2.x. */
export function runsInspector2(nodeVersion: string): boolean {
  const [major = 0, minor = 0] = nodeVersion.split('.').map((part) => Number.parseInt(part, 10));
  return major > INSPECTOR_NODE[0] || (major === INSPECTOR_NODE[0] && minor >= INSPECTOR_NODE[1]);
}

/** The command that opens the Inspector's web UI on the MCP endpoint `url`, on `nodeVersion`. */
export function inspectorCommand(url: string, nodeVersion: string): string {
  return runsInspector2(nodeVersion)
    ? `npx -y @modelcontextprotocol/inspector@2 --server-url ${url}`
    : `npx -y -p node@22 -p @modelcontextprotocol/inspector@2 -- mcp-inspector --server-url ${url}`;
}
