// mcp-agent's examples/model_providers/ollama: the finder agent lists its tools (fetch and
// filesystem), attaches a model of Ollama's OpenAI-compatible API (the `openai:` section) and
// asks it for the first two paragraphs of a page. Run: `npx tsx main.ts` in this folder.
import { type ExampleOptions, isMain, runFinder } from '../finder.js';

const INSTRUCTION = `You are an agent with access to the filesystem, as well as the ability to
fetch URLs. Your job is to identify the closest match to a user's request, make the appropriate
tool calls, and return the URI and CONTENTS of the closest match.`;

/** The example: the finder's tools, then the model's answer. */
export async function main(options: ExampleOptions = {}): Promise<void> {
  const serverNames = ['fetch', 'filesystem'];
  await runFinder(options, { provider: 'openai', instruction: INSTRUCTION, serverNames });
}

if (isMain(import.meta.url)) await main();
