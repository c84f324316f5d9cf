// mcp-agent's examples/model_providers/ollama: the finder agent lists its tools (fetch and
// filesystem), attaches a model of Ollama's OpenAI-compatible API (the `openai:` section) and
// asks it for the first two paragraphs of a page. Run: `npx tsx main.ts` in this folder.
import { pathToFileURL } from 'node:url';
import { Agent, type LlmOptions } from 'mcp-agent-ts/agent';
import { type CreateAgentAuthOptions, createAgentAuth } from 'mcp-agent-ts/client';

/** What the example runs with: where its settings come from, the model's fetch, its output. */
export interface ExampleOptions {
  readonly auth?: CreateAgentAuthOptions;
  readonly llm?: LlmOptions;
  readonly print?: (line: string) => void;
}

export const INSTRUCTION = `You are an agent with access to the filesystem, as well as the ability to
fetch URLs. Your job is to identify the closest match to a user's request, make the appropriate
tool calls, and return the URI and CONTENTS of the closest match.`;

/** The example: the finder's tools, then the model's answer. */
export async function main(options: ExampleOptions = {}): Promise<void> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const auth = createAgentAuth(options.auth);
  try {
    const finder = new Agent(
      { name: 'finder', instruction: INSTRUCTION, serverNames: ['fetch', 'filesystem'] },
      { auth },
    );
    const tools = await finder.listTools();
    print(`Tools available: ${tools.map((tool) => tool.name).join(', ')}`);
    const llm = await finder.attachLlm('openai', options.llm);
    const result = await llm.generateStr(
      'Print the first 2 paragraphs of https://modelcontextprotocol.io/introduction',
    );
    print(`Paragraphs: ${result}`);
  } finally {
    await auth.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
