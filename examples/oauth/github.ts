// What the interactive_tool and pre_authorize examples share: the search they run on GitHub's MCP
// server (its `search_repositories` tool), reduced to the repositories found.
import type { AgentAuthScope } from 'mcp-agent-ts';

/** The configured name of GitHub's MCP server. */
export const GITHUB = 'github';

/**
 * The repositories of the organization `org` (the first five, best match first), as GitHub's MCP
 * server finds them with the tokens of `scope`, as indented JSON.
 */
export async function searchOrganization(scope: AgentAuthScope, org: string): Promise<string> {
  const client = await scope.connect(GITHUB);
  const result = await client.callTool({
    name: 'search_repositories',
    arguments: { query: `org:${org}`, per_page: 5, sort: 'best-match', order: 'desc' },
  });
  if (result.isError === true) throw new Error(`GitHub's search failed: ${textOf(result)}`);
  return JSON.stringify(repositoriesIn(textOf(result)), null, 2);
}

function textOf(result: Record<string, unknown>): string {
  const content = Array.isArray(result.content) ? result.content : [];
  return content
    .flatMap((item: { type?: string; text?: string }) => (item.type === 'text' ? [item.text] : []))
    .join('\n');
}

/** The `items` of a search answer (or the list it is). */
function repositoriesIn(text: string): unknown[] {
  try {
    const answer: unknown = JSON.parse(text);
    if (Array.isArray(answer)) return answer;
    const items = (answer as { items?: unknown } | null)?.items;
    return Array.isArray(items) ? items : [];
  } catch {
    return [];
  }
}
