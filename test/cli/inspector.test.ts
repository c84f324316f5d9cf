import { describe, expect, test } from 'vitest';
import { inspectorCommand, runsInspector2 } from '../../src/cli/inspector.js';

const URL = 'http://127.0.0.1:8000/mcp';

describe('the MCP Inspector command mcp-agent dev suggests', () => {
  test('Node ≥ 22.19 runs the Inspector 2.x itself', () => {
    for (const version of ['22.19.0', '22.23.3', '23.0.0', '24.11.1']) {
      expect(runsInspector2(version), version).toBe(true);
      expect(inspectorCommand(URL, version)).toBe(
        `npx -y @modelcontextprotocol/inspector@2 --server-url ${URL}`,
      );
    }
  });

  test('an older Node gets a Node 22 from npm for the Inspector alone, not the 0.15 npx would pick', () => {
    for (const version of ['20.18.1', '20.20.2', '22.18.0', '21.7.3', '18.20.0']) {
      expect(runsInspector2(version), version).toBe(false);
      expect(inspectorCommand(URL, version)).toBe(
        `npx -y -p node@22 -p @modelcontextprotocol/inspector@2 -- mcp-inspector --server-url ${URL}`,
      );
    }
  });
});
