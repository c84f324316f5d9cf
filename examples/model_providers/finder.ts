// What the model-provider examples share: mcp-agent's `finder` agent, opened from the folder's
// mcp_agent.config.yaml, its tools printed, the connections closed after.
import { pathToFileURL } from 'node:url';
import { Agent, type AugmentedLlm, type LlmOptions } from 'mcp-agent-ts/agent';
import { type CreateAgentAuthOptions, createAgentAuth } from 'mcp-agent-ts/client';

/** What an example runs with: where its settings come from, the model's fetch, its output. */
export interface ExampleOptions {
  readonly auth?: CreateAgentAuthOptions;
  readonly llm?: LlmOptions;
  readonly print?: (line: string) => void;
}

/** The question every example asks (mcp-agent's). */
export const PAGE_PROMPT =
  'Print the first 2 paragraphs of https://modelcontextprotocol.io/introduction';

/** The fetch-only finder's instruction (mcp-agent's azure, google and bedrock examples). */
export const FETCH_INSTRUCTION = `You are an agent with the ability to fetch URLs. Your job is to
identify the closest match to a user's request, make the appropriate tool calls, and return the
URI and CONTENTS of the closest match.`;

/** The finder of an example: its model's provider section, its instruction and servers. */
export interface FinderSpec {
  readonly provider: string;
  readonly instruction: string;
  readonly serverNames: readonly string[];
}

/**
 * mcp-agent's finder: print its tools, attach a model of `provider`, print its answer to
 * {@link PAGE_PROMPT}, then run `more` (further questions) on the same conversation.
 */
export async function runFinder(
  options: ExampleOptions,
  { provider, ...spec }: FinderSpec,
  more?: (llm: AugmentedLlm, print: (line: string) => void) => Promise<void>,
): Promise<void> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const auth = createAgentAuth(options.auth);
  try {
    const finder = new Agent({ name: 'finder', ...spec }, { auth });
    const tools = await finder.listTools();
    print(`Tools available: ${tools.map((tool) => tool.name).join(', ')}`);
    const llm = await finder.attachLlm(provider, options.llm);
    print(`Paragraphs: ${await llm.generateStr(PAGE_PROMPT)}`);
    await more?.(llm, print);
  } finally {
    await auth.close();
  }
}

/** Whether the module at `url` is the one Node was asked to run. */
export function isMain(url: string): boolean {
  return url === pathToFileURL(process.argv[1] ?? '').href;
}
