// `npm start`: check and show the bundled example configuration with the built command.
// Git does not keep file modes, so the example secrets file is made private (0600) first, as
// `mcp-agent init` would have made it.
import { spawnSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const config = 'examples/basic/mcp_agent.config.yaml';
try {
  chmodSync(new URL('../examples/basic/mcp_agent.secrets.yaml', import.meta.url), 0o600);
} catch {
  // Not fatal: config check then warns about the file's mode.
}
for (const args of [
  ['--config', config, 'config', 'check'],
  ['--config', config, 'config', 'show', '--verbose'],
]) {
  const result = spawnSync(process.execPath, ['bin/mcp-agent.js', ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
