/**
 * `mcp-agent init`: a commented starter configuration, an empty secrets file readable only by its
 * owner, and a `.gitignore` entry that keeps the secrets file out of version control.
 *
 * @module
 */
import { appendFileSync, chmodSync, lstatSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { McpAgentError } from '../errors.js';

/** The starter `mcp_agent.config.yaml`. */
export const STARTER_CONFIG = `# mcp-agent configuration. The same file works with the Python mcp-agent.
#
# Secrets (client secrets, tokens, API keys) belong in mcp_agent.secrets.yaml beside this file:
# it is merged over this one and never committed. Any string may use \${VAR} or \${VAR:-default};
# an unset variable without a default is an error. Check the result with:
#   npx mcp-agent config check
#   npx mcp-agent config show --verbose

mcp:
  servers:
    # A local server, started as a child process (stdio). Only PATH, HOME and a few other
    # variables reach it; list what it needs under env:.
    filesystem:
      command: npx
      args: ["-y", "@modelcontextprotocol/server-filesystem", "."]

    # A remote server with a static credential from the environment:
    # github:
    #   transport: streamable_http
    #   url: https://api.githubcopilot.com/mcp/
    #   headers:
    #     Authorization: "Bearer \${GITHUB_TOKEN}"

    # A remote server with OAuth 2.1 (the client secret goes in the secrets file):
    # notion:
    #   transport: streamable_http
    #   url: https://mcp.notion.com/mcp
    #   auth:
    #     oauth:
    #       enabled: true
    #       scopes: []

oauth:
  token_store:
    # memory (lost on exit), file (~/.mcp-agent/oauth-tokens.json, mode 0600) or redis
    backend: memory
    refresh_leeway_seconds: 60
  flow_timeout_seconds: 300
  loopback_ports: [33418, 33419, 33420]

# To require OAuth bearer tokens from the clients of this agent:
# authorization:
#   enabled: true
#   issuer_url: https://auth.example.com
#   resource_server_url: http://127.0.0.1:8000/mcp
#   expected_audiences: ["http://127.0.0.1:8000/mcp"]
#   required_scopes: []
`;

/** The starter `mcp_agent.secrets.yaml`. */
export const STARTER_SECRETS = `# Secrets for mcp_agent.config.yaml. Keep this file private (mode 0600) and out of version
# control. It is deep-merged over the config file, so any key can be set here, for example:
#
# mcp:
#   servers:
#     github:
#       headers:
#         Authorization: "Bearer ghp_your_token"
#     notion:
#       auth:
#         oauth:
#           client_id: your-client-id
#           client_secret: your-client-secret
`;

/** What {@link initProject} did to each file. */
export interface InitResult {
  readonly file: string;
  readonly action: 'created' | 'updated' | 'unchanged';
}

/**
 * Write the starter files into `dir`. Existing config or secrets files are an error unless
 * `force` is set (the secrets file is never overwritten, even with `force`, since it may hold the
 * only copy of a credential).
 */
export function initProject(dir: string, options: { force?: boolean } = {}): InitResult[] {
  const configFile = join(dir, 'mcp_agent.config.yaml');
  const secretsFile = join(dir, 'mcp_agent.secrets.yaml');
  const gitignore = join(dir, '.gitignore');
  if (exists(configFile) && !options.force) {
    throw new McpAgentError(
      'FILE_EXISTS',
      `${configFile} already exists; pass --force to replace it with the starter file.`,
    );
  }
  const results: InitResult[] = [];
  rmSync(configFile, { force: true });
  write(configFile, STARTER_CONFIG, 0o644);
  results.push({ file: configFile, action: 'created' });
  if (exists(secretsFile)) {
    results.push({ file: secretsFile, action: 'unchanged' });
  } else {
    write(secretsFile, STARTER_SECRETS, 0o600);
    results.push({ file: secretsFile, action: 'created' });
  }
  results.push({ file: gitignore, action: ignoreSecrets(gitignore) });
  return results;
}

/** Whether anything, even a dangling link, is at `path`. */
function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Create `file`; never through an existing file or link (`wx`), then set its mode exactly. */
function write(file: string, text: string, mode: number): void {
  try {
    writeFileSync(file, text, { mode, flag: 'wx' });
    chmodSync(file, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new McpAgentError('FILE_WRITE', `Cannot write ${file} (${code}).`, { cause: error });
  }
}

function ignoreSecrets(gitignore: string): InitResult['action'] {
  const entry = 'mcp_agent.secrets.yaml';
  let current = '';
  if (!exists(gitignore)) {
    write(gitignore, `${entry}\n`, 0o644);
    return 'created';
  }
  try {
    current = readFileSync(gitignore, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new McpAgentError('FILE_WRITE', `Cannot read ${gitignore} (${code}).`, { cause: error });
  }
  const lines = current.split(/\r?\n/).map((line) => line.trim());
  if (lines.includes(entry) || lines.includes(`/${entry}`)) return 'unchanged';
  try {
    appendFileSync(gitignore, `${current === '' || current.endsWith('\n') ? '' : '\n'}${entry}\n`);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new McpAgentError('FILE_WRITE', `Cannot update ${gitignore} (${code}).`, {
      cause: error,
    });
  }
  return 'updated';
}
