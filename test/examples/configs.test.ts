/**
 * The configuration of each ported example loads as a user leaves it after copying
 * `mcp_agent.secrets.yaml.example` to `mcp_agent.secrets.yaml`: no error, and the secrets land
 * where the example reads them.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';
import { loadSettings } from '../../src/config/load.js';
import type { Settings } from '../../src/config/schema/settings.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The example's settings, its secrets example copied beside its configuration. */
function settingsOf(folder: string): Settings {
  const dir = mkdtempSync(join(tmpdir(), 'example-config-'));
  try {
    for (const [from, to] of [
      ['mcp_agent.config.yaml', 'mcp_agent.config.yaml'],
      ['mcp_agent.secrets.yaml.example', 'mcp_agent.secrets.yaml'],
    ]) {
      copyFileSync(join(root, folder, from ?? ''), join(dir, to ?? ''));
    }
    return loadSettings({ configPath: join(dir, 'mcp_agent.config.yaml'), env: {}, homeDir: dir })
      .settings;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test.each(['examples/oauth/interactive_tool', 'examples/oauth/pre_authorize'])(
  '%s: the GitHub client of the secrets file, no resource parameter',
  (folder) => {
    const oauth = settingsOf(folder).mcp.servers.github?.auth?.oauth;
    expect(oauth?.client_id).toBe('your-github-client-id');
    expect(oauth?.client_secret?.reveal()).toBe('your-github-client-secret');
    expect(oauth?.include_resource_parameter).toBe(false);
    expect(oauth?.authorization_server).toBe('https://github.com/login/oauth');
  },
);

test('examples/oauth/protected_by_oauth: protected, with the app module and an OpenAI key', () => {
  const settings = settingsOf('examples/oauth/protected_by_oauth');
  expect(settings.authorization).toMatchObject({ enabled: true, required_scopes: ['mcp'] });
  expect(settings.app).toBe('./main.ts');
  expect(settings.openai?.api_key?.reveal()).toBe('openai_api_key');
});

test('examples/usecases/mcp_basic_slack_agent: the bot token and team ID reach the Slack server', () => {
  const slack = settingsOf('examples/usecases/mcp_basic_slack_agent').mcp.servers.slack;
  expect(Object.keys(slack?.env ?? {}).sort()).toEqual(['SLACK_BOT_TOKEN', 'SLACK_TEAM_ID']);
});
