// mcp-agent's examples/model_providers/bedrock: the finder agent lists its tools (fetch),
// attaches a model on Amazon Bedrock (the `bedrock:` section, the Converse API) and asks it for
// the first two paragraphs of a page. Run: `npx tsx main.ts` in this folder.
import { type ExampleOptions, FETCH_INSTRUCTION, isMain, runFinder } from '../finder.js';

/** The example: the finder's tools, then the model's answer. */
export async function main(options: ExampleOptions = {}): Promise<void> {
  const spec = { provider: 'bedrock', instruction: FETCH_INSTRUCTION, serverNames: ['fetch'] };
  await runFinder(options, spec);
}

if (isMain(import.meta.url)) await main();
