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

/** A client registered by hand, as a GitHub OAuth app is (a secret, one exact callback URL). */
export interface OAuthApp {
  readonly client_id: string;
  readonly client_secret: string;
}

/** Register a confidential client with the stand-in's authorization server for `redirectUri`. */
export async function registerOAuthApp(standIn: ServedApp, redirectUri: string): Promise<OAuthApp> {
  const response = await fetch(`${standIn.as.issuer}/reg`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      client_name: 'GitHub OAuth app of the example',
      redirect_uris: [redirectUri],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'client_secret_basic',
      application_type: 'native',
    }),
  });
  const client = (await response.json()) as Partial<OAuthApp>;
  if (response.status !== 201 || !client.client_id || !client.client_secret) {
    throw new Error(`registration failed with HTTP ${response.status}`);
  }
  return { client_id: client.client_id, client_secret: client.client_secret };
}

/**
 * The `github` server entry of the examples' configuration, pointed at the stand-in: with `app`,
 * in GitHub's layout (the client configured, the authorization server named, no `resource`
 * parameter); without, discovered and registered dynamically.
 */
export function githubServer(standIn: ServedApp, app?: OAuthApp) {
  const github = app
    ? {
        ...app,
        authorization_server: standIn.as.issuer,
        include_resource_parameter: false,
        scopes: ['mcp:tools'],
      }
    : {};
  return {
    transport: 'streamable_http' as const,
    url: standIn.resource,
    auth: { oauth: { enabled: true, ...github } },
  };
}
