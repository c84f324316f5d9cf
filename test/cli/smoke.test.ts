import { afterEach, describe, expect, test } from 'vitest';
import { runCli, tempTree } from '../helpers/cli.js';

let tree: ReturnType<typeof tempTree>;
afterEach(() => tree?.cleanup());

describe('mcp-agent config check', () => {
  test('a valid config exits 0 and says so on stderr', async () => {
    tree = tempTree({ 'mcp_agent.config.yaml': 'mcp:\n  servers:\n    fs:\n      command: npx\n' });
    const result = await runCli(['config', 'check'], { cwd: tree.dir });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('Configuration OK');
  });
});
