/**
 * mcp-agent's `agents:` section (issue 17, item 2): its definitions become agents on the
 * connections of `createAgentAuth`; here over the example's stdio clock server.
 */
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { agentSpecsOf, loadAgents } from '../../src/agent/definitions.js';
import { createAgentAuth } from '../../src/client/agent-auth.js';
import { loadSettings } from '../../src/config/load.js';
import { tempTree } from '../helpers/cli.js';

const clockServer = fileURLToPath(
  new URL('../../examples/agent/clock-server.mjs', import.meta.url),
);

describe('agents.definitions', () => {
  const auth = createAgentAuth({
    settings: {
      mcp: { servers: { clock: { command: process.execPath, args: [clockServer] } } },
      agents: {
        definitions: [
          { name: 'finder', instruction: 'Tell the time.', server_names: ['clock'], model: 'x' },
          { name: 'idle' },
        ],
      },
    },
  });
  afterAll(() => auth.close());

  test('each definition is an Agent with its instruction and servers', async () => {
    const agents = loadAgents(auth);
    expect([...agents.keys()]).toEqual(['finder', 'idle']);
    const finder = agents.get('finder');
    expect(finder?.instruction).toBe('Tell the time.');
    expect((await finder?.listTools())?.map((tool) => tool.name)).toEqual(['clock_now']);
    expect(await agents.get('idle')?.listTools()).toEqual([]);
  });

  test('a definition without a name, or a name twice, is one CONFIG_INVALID error', () => {
    expect(() => agentSpecsOf({ agents: { definitions: [{ instruction: 'x' }] } })).toThrowError(
      /agents\.definitions\[0\] is not an agent definition \(name: /,
    );
    expect(() =>
      agentSpecsOf({ agents: { definitions: [{ name: 'a' }, { name: 'a' }] } }),
    ).toThrowError(/defines the agent "a" more than once/);
    expect(agentSpecsOf({ agents: { enabled: false, definitions: [{ name: 'a' }] } })).toEqual([]);
  });

  test('the agents: section is read from the configuration file, without a "does not use" warning', () => {
    const tree = tempTree({
      'mcp_agent.config.yaml':
        'agents:\n  definitions:\n    - name: finder\n      instruction: Find.\n      server_names: [fetch]\n',
    });
    try {
      const { settings, warnings } = loadSettings({ cwd: tree.dir, env: {} });
      expect(agentSpecsOf(settings)).toEqual([
        { name: 'finder', instruction: 'Find.', serverNames: ['fetch'] },
      ]);
      expect(warnings.filter((issue) => issue.path?.[0] === 'agents')).toEqual([]);
    } finally {
      tree.cleanup();
    }
  });
});
