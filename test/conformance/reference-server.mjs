// The reference server of the conformance SERVER run (scripts/conformance-server.mjs): a stdio MCP
// server, written with the SDK's low-level `Server`, that implements what the MCP conformance
// suite's server scenarios call (tools `test_*`, resources `test://…`, prompts `test_*_prompt…`,
// completions), from the scenarios' descriptions. `mcp-agent serve --front reference` serves it
// as it is, and the suite's scenarios run against serve. The suite package ships no server of its
// own. Plain JS: it runs without a build step.
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import {
  CallToolRequestSchema,
  CompleteRequestSchema,
  CreateMessageResultSchema,
  ElicitResultSchema,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

/** A 1×1 PNG and a minimal WAV, base64: the image and audio content the scenarios look for. */
const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const server = new Server(
  { name: 'conformance-reference-server', version: '1.0.0' },
  {
    capabilities: {
      tools: {},
      resources: { subscribe: true },
      prompts: {},
      logging: {},
      completions: {},
    },
  },
);

const noArguments = { type: 'object', properties: {} };
const tool = (name, description, inputSchema = noArguments) => ({ name, description, inputSchema });
const TOOLS = [
  tool('test_simple_text', 'Answers one text block.'),
  tool('test_image_content', 'Answers one PNG image.'),
  tool('test_audio_content', 'Answers one WAV clip.'),
  tool('test_embedded_resource', 'Answers one embedded text resource.'),
  tool('test_multiple_content_types', 'Answers text, an image and an embedded resource.'),
  tool('test_tool_with_logging', 'Sends three info log messages while it runs.'),
  tool('test_tool_with_progress', 'Reports progress 0, 50 and 100 of 100.'),
  tool('test_error_handling', 'Always fails (an isError result).'),
  tool('test_sampling', 'Asks the client for a model completion of `prompt`.', {
    type: 'object',
    properties: { prompt: { type: 'string' } },
    required: ['prompt'],
  }),
  tool('test_elicitation', 'Asks the client for a `response` string.', {
    type: 'object',
    properties: { message: { type: 'string' } },
    required: ['message'],
  }),
  tool('test_elicitation_sep1034_defaults', 'Elicits a form whose fields have defaults.'),
  tool('test_elicitation_sep1330_enums', 'Elicits a form with every kind of enum field.'),
  tool('json_schema_2020_12_tool', 'Takes a JSON Schema 2020-12 input schema.', {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    $defs: {
      address: {
        type: 'object',
        properties: { street: { type: 'string' }, city: { type: 'string' } },
      },
    },
    properties: { name: { type: 'string' }, address: { $ref: '#/$defs/address' } },
    additionalProperties: false,
  }),
];

const text = (value) => ({ content: [{ type: 'text', text: value }] });
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

/** The form schemas of the elicitation tools. */
const FORMS = {
  test_elicitation_sep1034_defaults: {
    message: 'Check these fields (each has a default).',
    requestedSchema: {
      type: 'object',
      properties: {
        name: { type: 'string', description: 'Name', default: 'John Doe' },
        age: { type: 'integer', description: 'Age', default: 30 },
        score: { type: 'number', description: 'Score', default: 95.5 },
        status: {
          type: 'string',
          description: 'Status',
          enum: ['active', 'inactive', 'pending'],
          default: 'active',
        },
        verified: { type: 'boolean', description: 'Verified', default: true },
      },
      required: [],
    },
  },
  test_elicitation_sep1330_enums: {
    message: 'Pick from these enum fields.',
    requestedSchema: {
      type: 'object',
      properties: {
        untitledSingle: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        titledSingle: {
          type: 'string',
          oneOf: [
            { const: 'value1', title: 'First' },
            { const: 'value2', title: 'Second' },
            { const: 'value3', title: 'Third' },
          ],
        },
        legacyEnum: {
          type: 'string',
          enum: ['opt1', 'opt2', 'opt3'],
          enumNames: ['One', 'Two', 'Three'],
        },
        untitledMulti: {
          type: 'array',
          minItems: 1,
          maxItems: 3,
          items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        },
        titledMulti: {
          type: 'array',
          minItems: 1,
          maxItems: 3,
          items: {
            anyOf: [
              { const: 'value1', title: 'First' },
              { const: 'value2', title: 'Second' },
              { const: 'value3', title: 'Third' },
            ],
          },
        },
      },
      required: [],
    },
  },
};

async function elicit(params) {
  const answer = await server.request(
    { method: 'elicitation/create', params: { mode: 'form', ...params } },
    ElicitResultSchema,
  );
  return text(`action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
}

async function callTool(name, args, extra) {
  switch (name) {
    case 'test_simple_text':
      return text('This is a simple text response for testing.');
    case 'test_image_content':
      return { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] };
    case 'test_audio_content':
      return { content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] };
    case 'test_embedded_resource':
      return {
        content: [
          {
            type: 'resource',
            resource: {
              uri: 'test://embedded-resource',
              mimeType: 'text/plain',
              text: 'Embedded.',
            },
          },
        ],
      };
    case 'test_multiple_content_types':
      return {
        content: [
          { type: 'text', text: 'Three kinds of content:' },
          { type: 'image', data: PNG, mimeType: 'image/png' },
          {
            type: 'resource',
            resource: { uri: 'test://mixed', mimeType: 'application/json', text: '{"n":1}' },
          },
        ],
      };
    case 'test_tool_with_logging':
      for (const step of ['started', 'working', 'done']) {
        await extra.sendNotification({
          method: 'notifications/message',
          params: { level: 'info', logger: 'reference', data: `test_tool_with_logging ${step}` },
        });
        await pause();
      }
      return text('logged three messages');
    case 'test_tool_with_progress': {
      const progressToken = extra._meta?.progressToken;
      for (const progress of [0, 50, 100]) {
        if (progressToken !== undefined) {
          await extra.sendNotification({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100, message: `${progress} of 100` },
          });
        }
        await pause();
      }
      return text(String(progressToken));
    }
    case 'test_error_handling':
      return { isError: true, content: [{ type: 'text', text: 'This tool always fails.' }] };
    case 'test_sampling': {
      const answer = await server.request(
        {
          method: 'sampling/createMessage',
          params: {
            messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt) } }],
            maxTokens: 100,
          },
        },
        CreateMessageResultSchema,
      );
      return text(`LLM response: ${answer.content?.type === 'text' ? answer.content.text : ''}`);
    }
    case 'test_elicitation':
      return elicit({
        message: String(args.message),
        requestedSchema: {
          type: 'object',
          properties: { response: { type: 'string', description: 'Your answer' } },
          required: ['response'],
        },
      });
    case 'test_elicitation_sep1034_defaults':
    case 'test_elicitation_sep1330_enums':
      return elicit(FORMS[name]);
    case 'json_schema_2020_12_tool':
      return text(`called with ${JSON.stringify(args)}`);
    default:
      throw new McpError(-32602, `Unknown tool: ${name}`);
  }
}

server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS }));
server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
  callTool(request.params.name, request.params.arguments ?? {}, extra),
);

const RESOURCES = {
  'test://static-text': { name: 'static-text', mimeType: 'text/plain' },
  'test://static-binary': { name: 'static-binary', mimeType: 'image/png' },
  'test://watched-resource': { name: 'watched-resource', mimeType: 'text/plain' },
};
const TEMPLATE = /^test:\/\/template\/([^/]+)\/data$/;

server.setRequestHandler(ListResourcesRequestSchema, () => ({
  resources: Object.entries(RESOURCES).map(([uri, about]) => ({ uri, ...about })),
}));
server.setRequestHandler(ListResourceTemplatesRequestSchema, () => ({
  resourceTemplates: [
    { uriTemplate: 'test://template/{id}/data', name: 'template', mimeType: 'application/json' },
  ],
}));
server.setRequestHandler(ReadResourceRequestSchema, (request) => {
  const { uri } = request.params;
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
  throw new McpError(-32002, 'Resource not found', { uri });
});
server.setRequestHandler(SubscribeRequestSchema, () => ({}));
server.setRequestHandler(UnsubscribeRequestSchema, () => ({}));

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
];
const user = (content) => ({ role: 'user', content });

server.setRequestHandler(ListPromptsRequestSchema, () => ({ prompts: PROMPTS }));
server.setRequestHandler(GetPromptRequestSchema, (request) => {
  const args = request.params.arguments ?? {};
  switch (request.params.name) {
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
    default:
      throw new McpError(-32602, `Unknown prompt: ${request.params.name}`);
  }
});
server.setRequestHandler(CompleteRequestSchema, (request) => {
  const prefix = String(request.params.argument?.value ?? '');
  const values = ['test', 'testing', 'tested'].filter((value) => value.startsWith(prefix));
  return { completion: { values, total: values.length, hasMore: false } };
});
server.setRequestHandler(SetLevelRequestSchema, () => ({}));

await server.connect(new StdioServerTransport());
