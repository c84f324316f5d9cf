// mcp-agent's examples/model_providers/google: the finder agent lists its tools (fetch), attaches
// a Gemini model (the `google:` section), asks it for the first two paragraphs of a page, then
// for a structured answer (generateStructured). Run: `npx tsx main.ts` in this folder.
import * as z from 'zod';
import { type ExampleOptions, FETCH_INSTRUCTION, isMain, runFinder } from '../finder.js';

/** The structured answer asked for: an essay. */
export const essaySchema = z.object({
  title: z.string(),
  body: z.string(),
  conclusion: z.string(),
});

/** The example: the finder's tools, the model's answer, then its essay. */
export async function main(options: ExampleOptions = {}): Promise<void> {
  const spec = { provider: 'google', instruction: FETCH_INSTRUCTION, serverNames: ['fetch'] };
  await runFinder(options, spec, async (llm, print) => {
    const prompt = 'Create a short essay using the first 2 paragraphs.';
    print(`Essay: ${JSON.stringify(await llm.generateStructured(prompt, essaySchema))}`);
  });
}

if (isMain(import.meta.url)) await main();
