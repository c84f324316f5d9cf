// mcp-agent's examples/oauth/pre_authorize: a background run (a scheduled job, a worker) has
// nobody to sign in, so its GitHub token is authorized beforehand, in one of two ways:
//   - `npx mcp-agent auth login github` once, into the `file` token store this run reads, or
//   - a token obtained elsewhere as `access_token` in mcp_agent.secrets.yaml.
// Without one, the run stops at once with an error naming `mcp-agent auth login` (it never waits).
// Run: `npx tsx main.ts [org]` in this folder.
import {
  authorizationRequiredIn,
  type CreateAgentAuthOptions,
  createAgentAuth,
  isMcpAgentError,
  McpAgentError,
} from 'mcp-agent-ts';
import { isMain } from '../../model_providers/finder.js';
import { searchOrganization } from '../github.js';

const NOT_AUTHORIZED =
  'This background run holds no GitHub token: run `npx mcp-agent auth login github` in this folder (or set access_token in mcp_agent.secrets.yaml), then run it again.';

/** What the run works with: where its settings come from, where its output goes. */
export interface BackgroundOptions {
  /** Its settings (no consent: nobody can be asked). */
  readonly auth?: Omit<CreateAgentAuthOptions, 'consent'>;
  readonly print?: (line: string) => void;
}

/**
 * Search the repositories of `org` on GitHub's MCP server with the token authorized beforehand,
 * and print them. A missing token is an `OAUTH_LOGIN_REQUIRED` error saying how to authorize one
 * (nobody is asked, nothing waits).
 */
export async function searchInBackground(
  org: string,
  options: BackgroundOptions = {},
): Promise<string> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const auth = createAgentAuth(options.auth);
  try {
    const repositories = await searchOrganization(auth, org);
    print(repositories);
    return repositories;
  } catch (error) {
    if (!authorizationRequiredIn(error)) throw error;
    throw new McpAgentError('OAUTH_LOGIN_REQUIRED', NOT_AUTHORIZED, { cause: error });
  } finally {
    await auth.close();
  }
}

if (isMain(import.meta.url)) {
  try {
    await searchInBackground(process.argv[2] ?? 'lastmile-ai');
  } catch (error) {
    if (!isMcpAgentError(error)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exitCode = 1;
  }
}
