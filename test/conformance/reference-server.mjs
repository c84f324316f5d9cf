// The reference server of the conformance SERVER run (scripts/conformance-server.mjs): a stdio MCP
// server on the v2 SDK (a low-level `Server` per connection, served by `serveStdio`) that
// implements what the MCP conformance suite's server scenarios call (tools `test_*`, resources
// `test://…`, prompts `test_*_prompt…`, completions), from the scenarios' descriptions. It speaks
// both eras on stdio: a connection that opens with `initialize` is served as 2025-11-25, one that
// opens with `server/discover` as 2026-07-28 (what serve's client does with `protocol: auto`).
// Tools that need input return `inputRequired(...)`; on 2025-11-25 the SDK turns that into
// server-to-client requests. Its requestState is signed (HMAC, a key drawn per process, which is
// enough: one process serves every round of a flow). `mcp-agent serve --front reference` serves
// it as it is, and the suite's scenarios run against serve. The suite package ships no server of
// its own. Plain JS: it runs without a build step. Also run directly by
// test/conformance/reference-server.test.ts.
//
// Modules: reference-tools.mjs (the tools), reference-input-required.mjs (the multi-round-trip
// tools and prompt).
import { randomBytes } from 'node:crypto';
import {
  createRequestStateCodec,
  ProtocolError,
  ResourceNotFoundError,
  Server,
} from '@modelcontextprotocol/server';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import {
  INPUT_REQUIRED_TOOL_LIST,
  INPUT_REQUIRED_TOOLS,
  inputRequiredPrompt,
} from './reference-input-required.mjs';
import { PNG, TOOL_HANDLERS, TOOLS } from './reference-tools.mjs';

const codec = createRequestStateCodec({ key: randomBytes(32) });
const noArguments = { type: 'object', properties: {} };

/**
 * server-stateless's list-changed checks: `test_trigger_tool_change` and
 * `test_trigger_prompt_change` add (or remove again) one tool or prompt and announce the change
 * to every live instance of this process (`notifications/tools/list_changed` or `…/prompts/list_changed`; on
 * 2026-07-28 the SDK delivers them on `subscriptions/listen` streams).
 */
const changed = { tool: false, prompt: false };
const live = new Set();
const TRIGGERS = [
  { name: 'test_trigger_tool_change', description: 'Adds or removes test_changed_tool.' },
  { name: 'test_trigger_prompt_change', description: 'Adds or removes test_changed_prompt.' },
].map((about) => ({ ...about, inputSchema: noArguments }));
const CHANGED_TOOL = {
  name: 'test_changed_tool',
  description: 'Listed after test_trigger_tool_change.',
  inputSchema: noArguments,
};
const CHANGED_PROMPT = {
  name: 'test_changed_prompt',
  description: 'Listed after test_trigger_prompt_change.',
};

async function trigger(kind) {
  changed[kind] = !changed[kind];
  await Promise.all(
    [...live].map((server) =>
      (kind === 'tool' ? server.sendToolListChanged() : server.sendPromptListChanged()).catch(
        () => {},
      ),
    ),
  );
  const name = kind === 'tool' ? CHANGED_TOOL.name : CHANGED_PROMPT.name;
  return { content: [{ type: 'text', text: `${name} ${changed[kind] ? 'added' : 'removed'}` }] };
}

const allTools = () => [
  ...TOOLS,
  ...INPUT_REQUIRED_TOOL_LIST,
  ...TRIGGERS,
  ...(changed.tool ? [CHANGED_TOOL] : []),
];

const RESOURCES = {
  'test://static-text': { name: 'static-text', mimeType: 'text/plain' },
  'test://static-binary': { name: 'static-binary', mimeType: 'image/png' },
  'test://watched-resource': { name: 'watched-resource', mimeType: 'text/plain' },
};
const TEMPLATE = /^test:\/\/template\/([^/]+)\/data$/;

function readResource(uri) {
  if (uri === 'test://static-binary') {
    return { contents: [{ uri, mimeType: 'image/png', blob: PNG }] };
  }
  if (uri === 'test://static-text' || uri === 'test://watched-resource') {
    return { contents: [{ uri, mimeType: 'text/plain', text: `The content of ${uri}.` }] };
  }
  const id = TEMPLATE.exec(uri)?.[1];
  if (id !== undefined) {
    const data = { id, templateTest: true, data: `Data for ID: ${id}` };
    return { contents: [{ uri, mimeType: 'application/json', text: JSON.stringify(data) }] };
  }
  throw new ResourceNotFoundError(uri);
}

const PROMPTS = [
  { name: 'test_simple_prompt', description: 'No arguments.' },
  {
    name: 'test_prompt_with_arguments',
    description: 'Two required arguments.',
    arguments: [
      { name: 'arg1', description: 'First', required: true },
      { name: 'arg2', description: 'Second', required: true },
    ],
  },
  {
    name: 'test_prompt_with_embedded_resource',
    description: 'Embeds the resource it is given.',
    arguments: [{ name: 'resourceUri', description: 'The URI to embed', required: true }],
  },
  { name: 'test_prompt_with_image', description: 'An image and a question.' },
  { name: 'test_input_required_result_prompt', description: 'Asks for a context first.' },
];
const allPrompts = () => [...PROMPTS, ...(changed.prompt ? [CHANGED_PROMPT] : [])];
const user = (content) => ({ role: 'user', content });

function getPrompt(name, args, ctx) {
  switch (name) {
    case 'test_simple_prompt':
      return { messages: [user({ type: 'text', text: 'This is a simple prompt for testing.' })] };
    case 'test_prompt_with_arguments':
      return {
        messages: [user({ type: 'text', text: `arg1='${args.arg1}', arg2='${args.arg2}'` })],
      };
    case 'test_prompt_with_embedded_resource':
      return {
        messages: [
          user({
            type: 'resource',
            resource: { uri: args.resourceUri, mimeType: 'text/plain', text: 'Embedded text.' },
          }),
          user({ type: 'text', text: 'Read the resource above.' }),
        ],
      };
    case 'test_prompt_with_image':
      return {
        messages: [
          user({ type: 'image', data: PNG, mimeType: 'image/png' }),
          user({ type: 'text', text: 'Describe the image above.' }),
        ],
      };
    case 'test_input_required_result_prompt':
      return inputRequiredPrompt(ctx);
    case 'test_changed_prompt':
      if (changed.prompt) return { messages: [user({ type: 'text', text: 'Changed.' })] };
      throw new ProtocolError(-32602, `Unknown prompt: ${name}`);
    default:
      throw new ProtocolError(-32602, `Unknown prompt: ${name}`);
  }
}

/** One `Server` for one connection (or one discarded `server/discover` probe), of either era. */
function createReferenceServer({ era }) {
  const server = new Server(
    { name: 'conformance-reference-server', version: '2.0.0' },
    {
      capabilities: {
        tools: { listChanged: true },
        // Subscriptions on both eras: resources/subscribe on 2025-11-25, the resourceSubscriptions
        // of a subscriptions/listen filter on 2026-07-28 (the SDK's listen router honours them).
        resources: { subscribe: true },
        prompts: { listChanged: true },
        logging: {},
        completions: {},
      },
      requestState: { verify: (state, ctx) => codec.verify(state, ctx) },
    },
  );
  const helpers = { server, codec };
  live.add(server);
  server.onclose = () => live.delete(server);
  server.setRequestHandler('tools/list', () => ({ tools: allTools() }));
  server.setRequestHandler('tools/call', async (request, ctx) => {
    const { name, arguments: args = {} } = request.params;
    if (name === 'test_trigger_tool_change') return trigger('tool');
    if (name === 'test_trigger_prompt_change') return trigger('prompt');
    if (name === CHANGED_TOOL.name && changed.tool) return { content: [] };
    const handler = TOOL_HANDLERS[name] ?? INPUT_REQUIRED_TOOLS[name];
    if (!handler) throw new ProtocolError(-32602, `Unknown tool: ${name}`);
    return handler(args, ctx, helpers);
  });
  server.setRequestHandler('resources/list', () => ({
    resources: Object.entries(RESOURCES).map(([uri, about]) => ({ uri, ...about })),
  }));
  server.setRequestHandler('resources/templates/list', () => ({
    resourceTemplates: [
      { uriTemplate: 'test://template/{id}/data', name: 'template', mimeType: 'application/json' },
    ],
  }));
  server.setRequestHandler('resources/read', (request) => readResource(request.params.uri));
  if (era === 'legacy') {
    server.setRequestHandler('resources/subscribe', () => ({}));
    server.setRequestHandler('resources/unsubscribe', () => ({}));
    server.setRequestHandler('logging/setLevel', () => ({}));
  }
  server.setRequestHandler('prompts/list', () => ({ prompts: allPrompts() }));
  server.setRequestHandler('prompts/get', (request, ctx) =>
    getPrompt(request.params.name, request.params.arguments ?? {}, ctx),
  );
  server.setRequestHandler('completion/complete', (request) => {
    const prefix = String(request.params.argument?.value ?? '');
    const values = ['test', 'testing', 'tested'].filter((value) => value.startsWith(prefix));
    return { completion: { values, total: values.length, hasMore: false } };
  });
  return server;
}

serveStdio(createReferenceServer, {
  onerror: (error) => process.stderr.write(`reference server: ${error.message}\n`),
});
