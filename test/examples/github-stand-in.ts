/**
 * A stand-in of GitHub's MCP server for the OAuth examples' tests: a served app protected by the
 * development authorization server (login and consent pages, dynamic client registration), with
 * GitHub's `search_repositories` tool. Its answer names the signed-in person, so a test sees whose
 * token reached it.
 */
import * as z from 'zod';
import type { AppSetup } from '../../src/app/define.js';
import { type ServedApp, startServedApp } from '../server/serve-support.js';

/** GitHub's `search_repositories`, answering with two repositories of the `org:` asked for. */
const github: AppSetup = (app) => {
  app.tool(
    'search_repositories',
    {
      query: z.string(),
      per_page: z.number().optional(),
      sort: z.string().optional(),
      order: z.string().optional(),
    },
    ({ query, per_page }, { caller }) => {
      const org = /org:(\S+)/.exec(query)?.[1] ?? 'none';
      const items = ['mcp-agent', 'mcp-eval'].map((name) => ({
        full_name: `${org}/${name}`,
        owner: { login: org },
        searched_by: caller?.subject ?? 'anonymous',
      }));
      return { total_count: items.length, items: items.slice(0, per_page ?? 30) };
    },
    { description: 'Search GitHub repositories.' },
  );
};

/** Start the stand-in; its `resource` is the URL to configure as the `github` server. */
export function startGithubStandIn(): Promise<ServedApp> {
  return startServedApp({ setup: github });
}

/** The `github` server entry of the examples' configuration, pointed at the stand-in. */
export function githubServer(standIn: ServedApp) {
  return {
    transport: 'streamable_http' as const,
    url: standIn.resource,
    auth: { oauth: { enabled: true } },
  };
}
