/**
 * Regression (found in review, fixed in a95f544): `auth status` failed as a whole when any
 * credential profile used grant_type: token_exchange.
 */
import { afterEach, expect, test } from 'vitest';
import { runCli, tempTree } from '../../helpers/cli.js';

const trees: { cleanup(): void }[] = [];
afterEach(() => {
  for (const t of trees.splice(0)) t.cleanup();
});

test('auth status lists a token_exchange profile (exchanged per caller) instead of failing', async () => {
  const tree = tempTree({
    'mcp_agent.config.yaml': `oauth:
  token_store:
    backend: file
    path: ./tokens.json
credentials:
  reports:
    type: oauth2
    grant_type: token_exchange
    authorization_server: https://auth.example.com
    client_id: the-agent
    scopes: [reports:read]
    hosts: [reports.example.com]
  weather:
    type: api_key
    api_key: x
    hosts: [api.weather.example]
`,
  });
  trees.push(tree);
  const status = await runCli(['auth', 'status'], { cwd: tree.dir });
  expect(status.code).toBe(0);
});
