// A local stand-in of `@modelcontextprotocol/server-slack` over stdio, for the Slack agent's test:
// the tools it needs under the real server's names, answering as Slack's Web API does. It takes
// the bot token and team ID from its environment, as the real one does, and answers
// `invalid_auth` unless the token's SHA-256 is the first argument (so the test proves the token of
// the secrets file arrived without writing it anywhere).
import { createHash } from 'node:crypto';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import * as z from 'zod';

const expected = process.argv[2];
const token = process.env.SLACK_BOT_TOKEN ?? '';
const team = process.env.SLACK_TEAM_ID;
const authorized = createHash('sha256').update(token).digest('hex') === expected;

const CHANNELS = [
  { id: 'C0GENERAL', name: 'general' },
  { id: 'C0BOTCOMMITS', name: 'bot-commits' },
];
const HISTORY = {
  C0BOTCOMMITS: [
    { user: 'U0BOT', ts: '1700000200.000100', text: 'feat(agent): stream tool calls (a1b2c3d)' },
    { user: 'U0BOT', ts: '1700000100.000100', text: 'fix(config): quote env values (9f8e7d6)' },
  ],
};
const posted = [];

/** Slack's answer: `body` when the token is the expected one, else `invalid_auth`. */
function answer(body) {
  const payload = authorized ? { ok: true, ...body } : { ok: false, error: 'invalid_auth' };
  return { content: [{ type: 'text', text: JSON.stringify(payload) }] };
}

const server = new McpServer({ name: 'slack-stand-in', version: '1.0.0' });
server.registerTool(
  'slack_list_channels',
  {
    description: 'List public channels in the workspace.',
    inputSchema: { limit: z.number().optional(), cursor: z.string().optional() },
  },
  async () => answer({ team_id: team, channels: CHANNELS }),
);
server.registerTool(
  'slack_get_channel_history',
  {
    description: 'Get recent messages from a channel, newest first.',
    inputSchema: { channel_id: z.string(), limit: z.number().optional() },
  },
  async ({ channel_id, limit }) =>
    answer({ messages: (HISTORY[channel_id] ?? []).slice(0, limit ?? 10) }),
);
server.registerTool(
  'slack_post_message',
  {
    description: 'Post a new message to a channel.',
    inputSchema: { channel_id: z.string(), text: z.string() },
  },
  async ({ channel_id, text }) => {
    posted.push({ channel_id, text });
    return answer({ channel: channel_id, ts: `1700000300.00010${posted.length}` });
  },
);
await server.connect(new StdioServerTransport());
