/**
 * What the peer tests share: the config a user writes for one OAuth-protected server (plus the
 * test's own loopback port and token file), and the CLI's login → list → call → refresh round.
 */
import { join } from 'node:path';
import { expect } from 'vitest';
import { runCli, tempTree } from '../../helpers/cli.js';
import { makeDue } from '../../oauth/harness.js';
import { type LoadedConfig, loadConfig } from '../../support/config.js';
import { freePort } from '../../support/net.js';

/**
 * `transport: streamable_http`, `url`, `auth.oauth.enabled: true` and nothing else for server
 * `name`; a file token store and a free loopback port for the test.
 */
export function peerConfigYaml(name: string, url: string, port: number): string {
  return `
mcp:
  servers:
    ${name}:
      transport: streamable_http
      url: ${url}
      auth:
        oauth:
          enabled: true
oauth:
  loopback_ports: [${port}]
  token_store:
    backend: file
    path: ./tokens.json
`;
}

/** {@link peerConfigYaml} loaded as the CLI loads it; cleaned up through `cleanups`. */
export async function loadPeerConfig(
  name: string,
  url: string,
  cleanups: (() => unknown)[],
): Promise<LoadedConfig> {
  const loaded = loadConfig(peerConfigYaml(name, url, await freePort()));
  cleanups.push(loaded.cleanup);
  return loaded;
}

/** Options of {@link cliRound}. */
export interface CliRoundOptions {
  /** The user's half of the login: walk the authorization URL to the redirect URI. */
  readonly approve: (url: URL) => Promise<unknown>;
  /** How many refresh grants the peer has seen so far (read before and after the refresh). */
  readonly refreshes: () => number;
  readonly cleanups: (() => unknown)[];
}

/**
 * Through the CLI, as a user would: `auth login NAME`, `tools list NAME` (must show `whoami` and
 * `echo`), `tools call NAME whoami` (must show `"sub":"alice"`), then, with the stored token made
 * due, `tools call NAME echo` (must refresh once and answer). Output is read from stdout and
 * stderr together. Returns the `whoami` output.
 */
export async function cliRound(name: string, url: string, options: CliRoundOptions) {
  const tree = tempTree({ 'mcp_agent.config.yaml': peerConfigYaml(name, url, await freePort()) });
  options.cleanups.push(tree.cleanup);
  const cli = (argv: string[], openBrowser?: (url: URL) => Promise<boolean>) =>
    runCli(argv, { cwd: tree.dir, ...(openBrowser ? { openBrowser } : {}) }).then((result) => ({
      ...result,
      output: `${result.stdout}${result.stderr}`,
    }));

  const login = await cli(['auth', 'login', name], async (authorizationUrl) => {
    await options.approve(authorizationUrl);
    return true;
  });
  expect(login.output).toContain(`Logged in to "${name}"`);
  expect(login.code).toBe(0);

  const list = await cli(['tools', 'list', name]);
  expect(list.output).toMatch(/whoami/);
  expect(list.output).toMatch(/echo/);
  expect(list.code).toBe(0);

  const whoami = await cli(['tools', 'call', name, 'whoami']);
  expect(whoami.output).toContain('"sub":"alice"');
  expect(whoami.code).toBe(0);

  const before = options.refreshes();
  makeDue(join(tree.dir, 'tokens.json'));
  const echo = await cli(['tools', 'call', name, 'echo', '{"text":"after a refresh"}']);
  expect(echo.output).toContain('after a refresh');
  expect(echo.code).toBe(0);
  expect(options.refreshes()).toBe(before + 1);
  return whoami.output;
}
