/**
 * mcp-agent's Slack agent (`examples/usecases/mcp_basic_slack_agent/main.ts`), run with its
 * configuration's layout (the bot token and team ID in `mcp_agent.secrets.yaml` under
 * `mcp.servers.slack.env`) against a local stand-in of the Slack server (`slack-server.mjs`,
 * which refuses any other token) and a scripted stand-in of OpenAI's chat completions: the model
 * lists the channels, reads #bot-commits, answers; then summarizes in the same conversation.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, expect, test } from 'vitest';
import {
  fetchLatestSlackMessage,
  QUESTIONS,
} from '../../examples/usecases/mcp_basic_slack_agent/main.js';
import {
  type ChatRequest,
  type Reply,
  type ScriptedChat,
  startScriptedChat,
} from './scripted-chat.js';

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const BOT_TOKEN = 'xoxb-canary-slack-bot-token';
const OPENAI_KEY = 'sk-canary-openai';
const LATEST = 'feat(agent): stream tool calls (a1b2c3d)';

let dir: string;
let chat: ScriptedChat;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'slack-agent-'));
  chat = await startScriptedChat();
});
afterEach(async () => {
  await chat.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The messages of `request` since its last user message, and that message's text. */
function turnOf(request: ChatRequest): { asked: string; results: string[] } {
  const messages = request.body.messages;
  const start = messages.findLastIndex((message) => message.role === 'user');
  const results = messages
    .slice(start)
    .filter((message) => message.role === 'tool')
    .map((message) => String(message.content));
  return { asked: JSON.stringify(messages[start]?.content), results };
}

/** A model that finds #bot-commits, reads its last message, then summarizes what it said. */
function slackModel(request: ChatRequest): Reply {
  const { asked, results } = turnOf(request);
  if (asked.includes('summarize')) {
    const earlier = JSON.stringify(request.body.messages);
    return { text: earlier.includes(LATEST) ? 'It adds streaming of tool calls.' : 'No idea.' };
  }
  if (results.length === 0) return { tool: 'slack_slack_list_channels', args: {} };
  if (results.length === 1) {
    const { channels } = JSON.parse(results[0] ?? '{}') as { channels?: { id: string }[] };
    const channel = channels?.find(({ id }) => id.includes('BOT'))?.id ?? 'none';
    return { tool: 'slack_slack_get_channel_history', args: { channel_id: channel, limit: 1 } };
  }
  const history = JSON.parse(results[1] ?? '{}') as { messages?: { text: string }[] };
  return { text: `The latest message: ${history.messages?.[0]?.text ?? JSON.stringify(history)}` };
}

/** The example's folder as a user fills it in: config, secrets, with the stand-ins' commands. */
function writeConfig(token: string): string {
  const node = JSON.stringify(process.execPath);
  const hash = createHash('sha256').update(BOT_TOKEN).digest('hex');
  writeFileSync(
    join(dir, 'mcp_agent.config.yaml'),
    `mcp:
  servers:
    slack:
      command: ${node}
      args: [${JSON.stringify(here('./slack-server.mjs'))}, "${hash}"]
    filesystem:
      command: ${node}
      args: [${JSON.stringify(here('./page-server.mjs'))}, read_file]
openai:
  base_url: ${chat.url}/v1
  default_model: gpt-4o
`,
  );
  writeFileSync(
    join(dir, 'mcp_agent.secrets.yaml'),
    `openai:\n  api_key: ${OPENAI_KEY}\nmcp:\n  servers:\n    slack:\n      env:\n        SLACK_BOT_TOKEN: "${token}"\n        SLACK_TEAM_ID: "T0CANARY"\n`,
    { mode: 0o600 },
  );
  return join(dir, 'mcp_agent.config.yaml');
}

async function run(token: string): Promise<{ lines: string[]; answer: string }> {
  chat.script = slackModel;
  const lines: string[] = [];
  const answer = await fetchLatestSlackMessage({
    auth: { configPath: writeConfig(token), env: { HOME: dir }, homeDir: dir },
    print: (line) => lines.push(line),
  });
  return { lines, answer };
}

test('slack agent: lists channels, reads #bot-commits with the configured bot token, summarizes', async () => {
  const { lines, answer } = await run(BOT_TOKEN);
  expect(lines).toEqual([
    'Tools available: filesystem_read_file, slack_slack_list_channels, slack_slack_get_channel_history, slack_slack_post_message',
    `Result: The latest message: ${LATEST}`,
    'Result: It adds streaming of tool calls.',
  ]);
  expect(answer).toBe(
    `Latest message: The latest message: ${LATEST}\n\nSummary: It adds streaming of tool calls.`,
  );
  // Three model calls for the first question (two tool calls, then the text), one for the second.
  expect(chat.received).toHaveLength(4);
  expect(chat.received.map((request) => request.authorization)).toEqual(
    Array(4).fill(`Bearer ${OPENAI_KEY}`),
  );
  const firstPrompt = JSON.stringify(chat.received[0]?.body.messages);
  expect(firstPrompt).toContain(QUESTIONS[0]);
  const sent = JSON.stringify(chat.received.map((request) => request.body));
  expect(sent).not.toContain(BOT_TOKEN);
  expect(lines.join('\n') + answer).not.toMatch(/canary/i);
});

test('slack agent: another bot token is refused by Slack, and the model is told so', async () => {
  const { lines } = await run('xoxb-canary-wrong-token');
  const history = chat.received[2]?.body.messages.at(-1);
  expect(JSON.stringify(history)).toContain('invalid_auth');
  expect(lines.join('\n')).not.toMatch(/canary/i);
});
