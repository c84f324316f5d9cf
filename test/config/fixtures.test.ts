/**
 * Every configuration in test/fixtures/mcp-agent/ (real files and doc blocks from mcp-agent, see
 * its README.md) must load unchanged. Each `${VAR}` a fixture references is set to a canary value
 * so that substitution succeeds and the value can be traced (and checked to stay redacted).
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { ConfigError, type ConfigIssue, formatIssue } from '../../src/config/issues.js';
import { type LoadedSettings, loadSettings } from '../../src/config/load.js';
import { SECTIONS_NOT_USED } from '../../src/config/schema/settings.js';
import { REDACTED, Secret } from '../../src/config/secret.js';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'mcp-agent');
const CONFIG = 'mcp_agent.config.yaml';
const SECRETS = 'mcp_agent.secrets.yaml';

/** The fixture directories, each holding an mcp_agent.config.yaml (and maybe a secrets file). */
const fixtureNames = readdirSync(FIXTURES, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

/** The value every referenced `${NAME}` is set to. */
const canary = (name: string): string => `canary-${name}-7f3a`;

function fixtureFiles(name: string): string[] {
  const dir = join(FIXTURES, name);
  return [CONFIG, SECRETS].map((file) => join(dir, file)).filter((file) => existsSync(file));
}

/** An environment setting every variable the fixture's files reference to its canary. */
function envFor(name: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const file of fixtureFiles(name)) {
    for (const match of readFileSync(file, 'utf8').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) {
      const variable = match[1];
      if (variable !== undefined) env[variable] = canary(variable);
    }
  }
  return env;
}

/** The top-level keys written in the fixture's files. */
function topLevelKeys(name: string): Set<string> {
  const keys = new Set<string>();
  for (const file of fixtureFiles(name)) {
    const document: unknown = parse(readFileSync(file, 'utf8'), { version: '1.1' });
    if (document && typeof document === 'object') {
      for (const key of Object.keys(document)) keys.add(key);
    }
  }
  return keys;
}

const display = (file: string): string => relative(FIXTURES, file);
const describeIssues = (issues: readonly ConfigIssue[]): string =>
  issues.map((issue) => `  [${issue.severity}] ${formatIssue(issue, display)}`).join('\n');

let homeDir: string;
beforeAll(() => {
  homeDir = mkdtempSync(join(tmpdir(), 'mcp-agent-ts-fixtures-home-'));
});
afterAll(() => {
  rmSync(homeDir, { recursive: true, force: true });
});

/** Load a fixture; a ConfigError becomes an error listing every issue, one per line. */
function load(name: string): LoadedSettings {
  const dir = join(FIXTURES, name);
  try {
    return loadSettings({
      configPath: join(dir, CONFIG),
      cwd: dir,
      env: envFor(name),
      homeDir,
      dotenv: false,
    });
  } catch (error) {
    if (error instanceof ConfigError) {
      throw new Error(`${name}/${CONFIG} failed to load:\n${describeIssues(error.issues)}`, {
        cause: error,
      });
    }
    throw error;
  }
}

/** A defined value (fails the test otherwise), for the optional parts of Settings. */
function defined<T>(value: T | null | undefined, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is not set`);
  return value;
}

function server(loaded: LoadedSettings, name: string) {
  return defined(loaded.settings.mcp.servers[name], `mcp.servers.${name}`);
}

/** Asserts `value` is a Secret holding `expected`, and that no serialization shows it. */
function expectSecret(loaded: LoadedSettings, value: unknown, expected: string): void {
  expect(value).toBeInstanceOf(Secret);
  const secret = value as Secret;
  expect(secret.reveal()).toBe(expected);
  expect(String(secret)).toBe(REDACTED);
  expect(`${secret}`).toBe(REDACTED);
  expect(JSON.stringify(secret)).toBe(JSON.stringify(REDACTED));
  expect(inspect(secret)).not.toContain(expected);
  expect(JSON.stringify(loaded.settings)).not.toContain(expected);
  expect(inspect(loaded.settings, { depth: null })).not.toContain(expected);
  expect(String(loaded.settings)).not.toContain(expected);
}

const EXPECTED_FIXTURES = [
  'docs-configuration-1',
  'docs-configuration-2',
  'docs-configuration-3',
  'docs-configuration-4',
  'docs-configuration-5',
  'docs-configuring-your-application-1',
  'docs-external-mcp-auth-1',
  'docs-external-mcp-auth-2',
  'docs-external-mcp-auth-3',
  'docs-external-mcp-auth-4',
  'docs-external-mcp-auth-5',
  'examples-interactive_tool',
  'examples-mcp_basic_azure_agent',
  'examples-mcp_basic_bedrock_agent',
  'examples-mcp_basic_google_agent',
  'examples-mcp_basic_ollama_agent',
  'examples-mcp_basic_slack_agent',
  'examples-mcp_github_to_slack_agent',
  'examples-mcp_realtor_agent',
  'examples-mcp_sse_with_headers',
  'examples-mcp_streamable_http',
  'examples-oauth_basic_agent',
  'examples-pre_authorize',
  'examples-protected_by_oauth',
  'examples-temporal',
  'seed-1-oauth',
  'seed-2-stdio-env',
  'seed-3-sse-headers',
  'seed-4-authorization',
];

/**
 * Documentation blocks that mcp-agent itself rejects, with the one error we report for each.
 * docs-configuration-5 enables `authorization` without `expected_audiences`, which mcp-agent's
 * `MCPAuthorizationServerSettings` refuses too: the documentation is wrong, not the loader.
 */
const REJECTED_BY_MCP_AGENT: Record<string, RegExp> = {
  'docs-configuration-5':
    /mcp_agent\.config\.yaml:14:1: authorization needs expected_audiences when enabled is true/,
};
const loadable = fixtureNames.filter((name) => !(name in REJECTED_BY_MCP_AGENT));

describe('mcp-agent fixtures', () => {
  test('the fixture set is complete and every fixture has a config file', () => {
    expect(fixtureNames).toEqual(EXPECTED_FIXTURES);
    for (const name of fixtureNames) expect(existsSync(join(FIXTURES, name, CONFIG))).toBe(true);
  });

  test.each(Object.entries(REJECTED_BY_MCP_AGENT))(
    '%s is rejected, as mcp-agent rejects it, with one precise error',
    (name, expected) => {
      let issues: readonly ConfigIssue[] = [];
      try {
        load(name);
      } catch (error) {
        issues = ((error as Error).cause as ConfigError).errors;
      }
      expect(issues).toHaveLength(1);
      expect(formatIssue(issues[0] as ConfigIssue, display)).toMatch(expected);
    },
  );

  test.each(loadable)('%s loads without errors', (name) => {
    const loaded = load(name);
    const dir = join(FIXTURES, name);
    expect(loaded.configFile).toBe(join(dir, CONFIG));
    // The secrets file is the one beside the config, never one found further up the tree.
    const secrets = join(dir, SECRETS);
    expect(loaded.secretsFile).toBe(existsSync(secrets) ? secrets : undefined);
    expect(loaded.preloaded).toBe(false);
    expect(loaded.warnings.filter((issue) => issue.severity === 'error')).toEqual([]);
  });

  test.each(
    loadable.filter((name) =>
      [...topLevelKeys(name)].some((key) => SECTIONS_NOT_USED.includes(key)),
    ),
  )('%s warns about each section mcp-agent-ts does not use', (name) => {
    const { warnings } = load(name);
    const unused = [...topLevelKeys(name)].filter((key) => SECTIONS_NOT_USED.includes(key));
    for (const section of unused) {
      const warning = warnings.find(
        (issue) =>
          issue.path?.length === 1 &&
          issue.path[0] === section &&
          issue.message.includes('does not use'),
      );
      expect(
        warning,
        `no "does not use" warning for ${section}; warnings:\n${describeIssues(warnings)}`,
      ).toBeDefined();
      expect(warning?.severity).toBe('warning');
    }
  });
});

describe('what the fixtures load to', () => {
  test('oauth_basic_agent: GitHub over streamable HTTP with OAuth, credentials from secrets', () => {
    const loaded = load('examples-oauth_basic_agent');
    const github = server(loaded, 'github');
    expect(github.transport).toBe('streamable_http');
    expect(github.url).toBe('https://api.githubcopilot.com/mcp/');
    const oauth = defined(github.auth?.oauth, 'github.auth.oauth');
    expect(oauth.enabled).toBe(true);
    expect(oauth.include_resource_parameter).toBe(false);
    expect(oauth.use_internal_callback).toBe(false);
    expect(oauth.scopes).toEqual(['read:org', 'public_repo', 'user:email']);
    expect(oauth.authorization_server).toBe('https://github.com/login/oauth');
    expect(oauth.client_id).toBe('github-client-id');
    expectSecret(loaded, oauth.client_secret, 'your-client-secret');
    const origin = loaded.origins.lookup([
      'mcp',
      'servers',
      'github',
      'auth',
      'oauth',
      'client_secret',
    ]);
    expect(origin).toMatchObject({ kind: 'file', role: 'secrets' });
    // The secrets file added to the github server; it did not replace the others.
    expect(server(loaded, 'fetch').command).toBe('uvx');
    expect(server(loaded, 'filesystem').command).toBe('npx');
    expect(loaded.settings.oauth.loopback_ports).toEqual([33418, 33419, 33420]);
    expectSecret(loaded, loaded.settings.openai?.api_key, 'sk-your-openai-key');
    expectSecret(loaded, loaded.settings.anthropic?.api_key, 'sk-your-anthropic-key');
  });

  test('pre_authorize: a pre-configured access token is a Secret', () => {
    const loaded = load('examples-pre_authorize');
    expect(loaded.settings.execution_engine).toBe('temporal');
    const oauth = defined(server(loaded, 'github').auth?.oauth, 'github.auth.oauth');
    expect(oauth.enabled).toBe(true);
    expect(oauth.client_id).toBe('your-github-client-id');
    expectSecret(loaded, oauth.access_token, 'your-github-access-token');
    expectSecret(loaded, oauth.client_secret, 'your-github-client-secret');
    expect(oauth.refresh_token).toBeUndefined();
  });

  test('interactive_tool (transcribed): callback URL, one loopback port, internal callback', () => {
    const loaded = load('examples-interactive_tool');
    expect(loaded.settings.oauth.callback_base_url).toBe('http://localhost:8000');
    expect(loaded.settings.oauth.loopback_ports).toEqual([33418]);
    expect(loaded.settings.oauth.flow_timeout_seconds).toBe(300);
    expect(loaded.settings.oauth.token_store.backend).toBe('memory');
    const oauth = defined(server(loaded, 'github').auth?.oauth, 'github.auth.oauth');
    expect(oauth.enabled).toBe(true);
    expect(oauth.use_internal_callback).toBe(true);
    expect(oauth.include_resource_parameter).toBe(false);
    expect(oauth.client_id).toBe(canary('GITHUB_CLIENT_ID'));
    expectSecret(loaded, oauth.client_secret, canary('GITHUB_CLIENT_SECRET'));
  });

  test('protected_by_oauth (transcribed): the agent as a protected resource', () => {
    const loaded = load('examples-protected_by_oauth');
    const authorization = defined(loaded.settings.authorization, 'authorization');
    expect(authorization.enabled).toBe(true);
    expect(authorization.issuer_url).toBe('https://auth.mcp-agent.com');
    expect(authorization.resource_server_url).toBe('http://localhost:8000');
    expect(authorization.required_scopes).toEqual(['mcp']);
    expect(authorization.expected_audiences).toEqual(['<client id from registration.py>']);
    expect(authorization.client_id).toBe('<client id from registration.py>');
    expectSecret(loaded, authorization.client_secret, '<client secret from registration.py>');
    expect(loaded.settings.oauth.callback_base_url).toBe('http://localhost:8000');
    expect(loaded.settings.oauth.token_store.refresh_leeway_seconds).toBe(60);
  });

  test('seed-1: Redis token store and a stdio server with OAuth client credentials', () => {
    const loaded = load('seed-1-oauth');
    const { token_store, flow_timeout_seconds, loopback_ports } = loaded.settings.oauth;
    expect(token_store.backend).toBe('redis');
    expect(token_store.redis_url?.reveal()).toBe('redis://localhost:6379/0');
    expect(token_store.redis_prefix).toBe('mcp_agent:oauth_tokens');
    expect(flow_timeout_seconds).toBe(300);
    expect(loopback_ports).toEqual([33418, 33419, 33420]);
    const notion = server(loaded, 'notion');
    expect(notion.transport).toBe('stdio');
    const oauth = defined(notion.auth?.oauth, 'notion.auth.oauth');
    expect(oauth.enabled).toBe(false);
    expect(oauth.authorization_server).toBe('https://auth.notion.example.com');
    expect(oauth.client_id).toBe(canary('NOTION_CLIENT_ID'));
    expectSecret(loaded, oauth.client_secret, canary('NOTION_CLIENT_SECRET'));
    expect(oauth.scopes).toEqual(['workspace.read', 'workspace.write']);
    expect(oauth.redirect_uri_options).toEqual(['http://localhost:33418/callback']);
  });

  test('seed-2: stdio server environment values are Secrets', () => {
    const loaded = load('seed-2-stdio-env');
    const env = defined(server(loaded, 'slack').env, 'slack.env');
    expectSecret(loaded, env.SLACK_BOT_TOKEN, canary('SLACK_BOT_TOKEN'));
    expectSecret(loaded, env.SLACK_TEAM_ID, canary('SLACK_TEAM_ID'));
  });

  test('seed-3: SSE headers are substituted and redacted', () => {
    const loaded = load('seed-3-sse-headers');
    const github = server(loaded, 'github');
    expect(github.transport).toBe('sse');
    const headers = defined(github.headers, 'github.headers');
    expect(headers.Authorization?.reveal()).toBe('Bearer canary-GITHUB_TOKEN-7f3a');
    expectSecret(loaded, headers.Authorization, `Bearer ${canary('GITHUB_TOKEN')}`);
    expectSecret(loaded, headers['X-Org-Id'], canary('ORG_ID'));
  });

  test('seed-4: authorization enabled with a JWKS URI', () => {
    const loaded = load('seed-4-authorization');
    const authorization = defined(loaded.settings.authorization, 'authorization');
    expect(authorization.enabled).toBe(true);
    expect(authorization.jwks_uri).toBe('https://auth.example.com/.well-known/jwks.json');
    expect(authorization.issuer_url).toBe('https://auth.example.com');
    expect(authorization.resource_server_url).toBe('https://agent.example.com');
    expect(authorization.service_documentation_url).toBe('https://agent.example.com/docs');
    expect(authorization.required_scopes).toEqual(['agent.read', 'agent.execute']);
    expect(authorization.expected_audiences).toEqual(['api://agent.example.com']);
    expect(authorization.token_cache_ttl_seconds).toBe(300);
  });

  test('mcp_realtor_agent: server env values in the config file are Secrets', () => {
    const loaded = load('examples-mcp_realtor_agent');
    expect(loaded.secretsFile).toBeUndefined();
    const env = defined(server(loaded, 'rentspider_api').env, 'rentspider_api.env');
    expectSecret(loaded, env.RENTSPIDER_API_KEY, 'YOUR_API_KEY');
    expect(Object.keys(loaded.settings.mcp.servers).sort()).toEqual([
      'fetch',
      'filesystem',
      'g-search',
      'rentspider_api',
    ]);
  });

  test('mcp_basic_slack_agent: the env from the secrets file is merged into the config server', () => {
    const loaded = load('examples-mcp_basic_slack_agent');
    const slack = server(loaded, 'slack');
    expect(slack.command).toBe('npx');
    expect(slack.args).toEqual(['-y', '@modelcontextprotocol/server-slack']);
    const env = defined(slack.env, 'slack.env');
    expectSecret(loaded, env.SLACK_BOT_TOKEN, 'xoxb-your-bot-token');
    expectSecret(loaded, env.SLACK_TEAM_ID, 'T01234567');
    expect(loaded.origins.lookup(['mcp', 'servers', 'slack', 'command'])).toMatchObject({
      kind: 'file',
      role: 'config',
    });
    expect(
      loaded.origins.lookup(['mcp', 'servers', 'slack', 'env', 'SLACK_BOT_TOKEN']),
    ).toMatchObject({ kind: 'file', role: 'secrets' });
  });

  test('mcp_github_to_slack_agent: secrets add to the env and headers the config has', () => {
    const loaded = load('examples-mcp_github_to_slack_agent');
    const slack = server(loaded, 'slack');
    const env = defined(slack.env, 'slack.env');
    expectSecret(loaded, env.SLACK_TEAM_ID, 'T0123213213');
    expectSecret(loaded, env.SLACK_MCP_XOXP_TOKEN, 'xoxp-oauth-token');
    expect(slack.allowed_tools).toEqual(['conversations_add_message']);
    const github = server(loaded, 'github');
    expect(github.transport).toBe('streamable_http');
    const headers = defined(github.headers, 'github.headers');
    expectSecret(loaded, headers['Content-Type'], 'application/json');
    expectSecret(loaded, headers.Authorization, 'Bearer ghp_xxxxxxxxxxx');
  });

  test('mcp_basic_bedrock_agent: empty (null) secrets load as unset', () => {
    const loaded = load('examples-mcp_basic_bedrock_agent');
    const bedrock = defined(loaded.settings.bedrock, 'bedrock');
    expect(bedrock.default_model).toBe('anthropic.claude-3-haiku-20240307-v1:0');
    expect(bedrock.aws_region).toBeUndefined();
    expect(bedrock.aws_access_key_id).toBeUndefined();
    expect(bedrock.aws_secret_access_key).toBeUndefined();
    expect(bedrock.aws_session_token).toBeUndefined();
  });

  test('mcp_basic_ollama_agent: the secrets api_key wins over the config one', () => {
    const loaded = load('examples-mcp_basic_ollama_agent');
    const openai = defined(loaded.settings.openai, 'openai');
    expect(openai.base_url).toBe('http://localhost:11434/v1');
    expectSecret(loaded, openai.api_key, 'openai_api_key');
  });

  test('mcp_sse_with_headers: the placeholder URL loads with a warning', () => {
    const loaded = load('examples-mcp_sse_with_headers');
    const slack = server(loaded, 'slack');
    expect(slack.transport).toBe('sse');
    expectSecret(loaded, slack.headers?.Authorization, 'Bearer <enter your oauth access token>');
    expect(
      loaded.warnings.some(
        (issue) =>
          issue.path?.join('.') === 'mcp.servers.slack.url' &&
          issue.message.includes('not a valid http(s) URL'),
      ),
    ).toBe(true);
  });

  test('docs-configuration-4: introspection credentials', () => {
    const loaded = load('docs-configuration-4');
    const authorization = defined(loaded.settings.authorization, 'authorization');
    expect(authorization.enabled).toBe(true);
    expect(authorization.introspection_endpoint).toBe('https://auth.example.com/oauth/introspect');
    expect(authorization.introspection_client_id).toBe(canary('INTROSPECTION_CLIENT_ID'));
    expectSecret(
      loaded,
      authorization.introspection_client_secret,
      canary('INTROSPECTION_CLIENT_SECRET'),
    );
  });

  test('docs-external-mcp-auth-5: auth.headers values are Secrets', () => {
    const loaded = load('docs-external-mcp-auth-5');
    const search = server(loaded, 'internal_search');
    const headers = defined(search.auth?.headers, 'internal_search.auth.headers');
    expectSecret(loaded, headers.Authorization, `Bearer ${canary('SEARCH_API_KEY')}`);
    expectSecret(loaded, headers['X-Org'], 'lastmile');
    expectSecret(loaded, search.env?.SEARCH_API_KEY, canary('SEARCH_API_KEY'));
  });

  test('docs-external-mcp-auth-4: a seeded access and refresh token', () => {
    const loaded = load('docs-external-mcp-auth-4');
    const oauth = defined(server(loaded, 'linear').auth?.oauth, 'linear.auth.oauth');
    expect(oauth.enabled).toBe(true);
    expect(oauth.expires_at).toBe(1740694445);
    expectSecret(loaded, oauth.access_token, canary('LINEAR_ACCESS_TOKEN'));
    expectSecret(loaded, oauth.refresh_token, canary('LINEAR_REFRESH_TOKEN'));
  });
});
