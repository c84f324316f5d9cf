// mcp-agent's examples/oauth/interactive_tool, client side: connects to the example server, calls
// `github_org_search`, and when the server asks for a sign-in (an MCP URL-mode elicitation) opens
// the URL in the browser (or prints it) and accepts. Run: `npx tsx client.ts [org]`.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { openBrowser } from 'mcp-agent-ts/client';
import { isMain } from '../../model_providers/finder.js';

/** What the client runs with. */
export interface ClientOptions {
  /** Show `url` to the person (default: open the browser where one can be, and print it). */
  readonly browse?: (url: string) => Promise<unknown>;
  readonly print?: (line: string) => void;
}

/** Call `github_org_search` for `org` on the server at `url`; its answer's text. */
export async function runClient(
  url: string,
  org: string,
  options: ClientOptions = {},
): Promise<string> {
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const browse = options.browse ?? ((address: string) => openBrowser(new URL(address)));
  const client = new Client(
    { name: 'github_oauth_client', version: '1.0.0' },
    { capabilities: { elicitation: { url: {} } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async (request) => {
    if (request.params.mode !== 'url') return { action: 'decline' };
    print(`[client] ${request.params.message}`);
    print(`[client] Open: ${request.params.url}`);
    await browse(request.params.url);
    return { action: 'accept' };
  });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    print('[client] Invoking github_org_search...');
    const result = await client.callTool(
      { name: 'github_org_search', arguments: { query: org } },
      undefined,
      // A sign-in takes a person longer than the SDK's default request timeout.
      { timeout: 300_000, resetTimeoutOnProgress: true, onprogress: () => undefined },
    );
    const content = Array.isArray(result.content) ? result.content : [];
    const text = content.map((item) => (item.type === 'text' ? item.text : '')).join('\n');
    print('[client] Result:');
    print(text);
    return text;
  } finally {
    await client.close();
  }
}

if (isMain(import.meta.url)) {
  await runClient('http://127.0.0.1:8000/mcp', process.argv[2] ?? 'lastmile-ai');
}
