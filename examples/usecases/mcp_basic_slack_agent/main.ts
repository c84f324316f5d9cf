// mcp-agent's examples/usecases/mcp_basic_slack_agent: the `slack_finder` agent, with the Slack
// and filesystem servers, asks a model for the latest message of the #bot-commits channel, then,
// in the same conversation, for a summary of it. Run: `npx tsx main.ts` in this folder.
import { Agent } from 'mcp-agent-ts/agent';
import { createAgentAuth } from 'mcp-agent-ts/client';
import { type ExampleOptions, isMain } from '../../model_providers/finder.js';

/** The agent's instruction. */
export const INSTRUCTION = `You can read and write files, and look up Slack conversations.
Find what best matches the user's request, call the tools it takes, and answer with the results.`;

/** The two questions, asked one after the other (the second relies on the first's answer). */
export const QUESTIONS = [
  'What was the latest message in the bot-commits channel?',
  'Can you summarize what that commit was about?',
] as const;

/**
 * mcp-agent's `fetch_latest_slack_message`: the agent's tools printed, then both answers; returns
 * them as one text ("Latest message: …\n\nSummary: …").
 */
export async function fetchLatestSlackMessage(options: ExampleOptions = {}): Promise<string> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const auth = createAgentAuth(options.auth);
  try {
    const slackFinder = new Agent(
      { name: 'slack_finder', instruction: INSTRUCTION, serverNames: ['filesystem', 'slack'] },
      { auth },
    );
    const tools = await slackFinder.listTools();
    print(`Tools available: ${tools.map((tool) => tool.name).join(', ')}`);
    const llm = await slackFinder.attachLlm('openai', options.llm);
    const latest = await llm.generateStr(QUESTIONS[0]);
    print(`Result: ${latest}`);
    const summary = await llm.generateStr(QUESTIONS[1]);
    print(`Result: ${summary}`);
    return `Latest message: ${latest}\n\nSummary: ${summary}`;
  } finally {
    await auth.close();
  }
}

if (isMain(import.meta.url)) {
  const start = performance.now();
  await fetchLatestSlackMessage();
  process.stdout.write(`Total run time: ${((performance.now() - start) / 1000).toFixed(2)}s\n`);
}
