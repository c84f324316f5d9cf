// The tools of the conformance reference server (test/conformance/reference-server.mjs) that the
// suite's `tools-*`, `elicitation-*`, `json-schema-2020-12`, `server-stateless` and
// `http-custom-header-server-validation` scenarios call. The multi-round-trip ones are in
// reference-input-required.mjs. Tools that ask the client something (test_sampling,
// test_elicitation, the elicitation forms) return `inputRequired(...)`: on 2026-07-28 that is the
// answer, on 2025-11-25 the SDK's legacy shim sends the request to the client and calls the tool
// again with the answer.
import { inputRequired, inputResponse } from '@modelcontextprotocol/server';

/** A 1×1 PNG and a minimal WAV, base64: the image and audio content the scenarios look for. */
export const PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

const noArguments = { type: 'object', properties: {} };
const tool = (name, description, inputSchema = noArguments) => ({ name, description, inputSchema });

/** The JSON Schema 2020-12 input schema `json-schema-2020-12` expects verbatim (SEP-1613, SEP-2106). */
const SCHEMA_2020_12 = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  type: 'object',
  $defs: {
    address: {
      $anchor: 'addressDef',
      type: 'object',
      properties: { street: { type: 'string' }, city: { type: 'string' } },
    },
  },
  properties: {
    name: { type: 'string' },
    address: { $ref: '#/$defs/address' },
    contactMethod: { type: 'string', enum: ['phone', 'email'] },
    phone: { type: 'string' },
    email: { type: 'string' },
  },
  allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
  if: { properties: { contactMethod: { const: 'phone' } }, required: ['contactMethod'] },
  // biome-ignore lint/suspicious/noThenProperty: the JSON Schema keyword; this object is never awaited.
  then: { required: ['phone'] },
  else: { required: ['email'] },
  additionalProperties: false,
};

/** The tool definitions (the multi-round-trip ones are added by the server). */
export const TOOLS = [
  tool('test_simple_text', 'Answers one text block.'),
  tool('test_image_content', 'Answers one PNG image.'),
  tool('test_audio_content', 'Answers one WAV clip.'),
  tool('test_embedded_resource', 'Answers one embedded text resource.'),
  tool('test_multiple_content_types', 'Answers text, an image and an embedded resource.'),
  tool('test_tool_with_logging', 'Sends three info log messages while it runs.'),
  tool('test_logging_tool', 'Sends one info log message (none unless a log level is set).'),
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
  tool('json_schema_2020_12_tool', 'Takes a JSON Schema 2020-12 input schema.', SCHEMA_2020_12),
  // SEP-2243: parameters mirrored into `Mcp-Param-*` headers by 2026-07-28 clients.
  tool('test_custom_headers', 'Echoes `region` (sent as header Mcp-Param-Region too).', {
    type: 'object',
    properties: {
      region: { type: 'string', description: 'A region name', 'x-mcp-header': 'Region' },
      verbose: { type: 'boolean', description: 'More detail', 'x-mcp-header': 'Verbose' },
    },
    required: ['region'],
  }),
];

const text = (value) => ({ content: [{ type: 'text', text: value }] });
const pause = () => new Promise((resolve) => setTimeout(resolve, 20));

const TITLED = [
  { const: 'value1', title: 'First' },
  { const: 'value2', title: 'Second' },
  { const: 'value3', title: 'Third' },
];

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
        titledSingle: { type: 'string', oneOf: TITLED },
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
          items: { anyOf: TITLED },
        },
      },
      required: [],
    },
  },
};

/** One form elicitation, `key` in the input requests; the answer as text once it is there. */
function elicit(ctx, key, form) {
  const answer = inputResponse(ctx.mcpReq.inputResponses, key);
  if (answer.kind !== 'elicit') {
    return inputRequired({ inputRequests: { [key]: inputRequired.elicit(form) } });
  }
  return text(`action=${answer.action}, content=${JSON.stringify(answer.content ?? {})}`);
}

function sample(args, ctx) {
  const answer = inputResponse(ctx.mcpReq.inputResponses, 'completion');
  if (answer.kind !== 'sampling') {
    const request = inputRequired.createMessage({
      messages: [{ role: 'user', content: { type: 'text', text: String(args.prompt) } }],
      maxTokens: 100,
    });
    return inputRequired({ inputRequests: { completion: request } });
  }
  const content = answer.result.content;
  const block = Array.isArray(content) ? content[0] : content;
  return text(`LLM response: ${block?.type === 'text' ? block.text : ''}`);
}

async function logThree(ctx) {
  for (const step of ['started', 'working', 'done']) {
    await ctx.mcpReq.log('info', `test_tool_with_logging ${step}`, 'reference');
    await pause();
  }
  return text('logged three messages');
}

async function progress(ctx) {
  const progressToken = ctx.mcpReq._meta?.progressToken;
  for (const done of [0, 50, 100]) {
    if (progressToken !== undefined) {
      await ctx.mcpReq.notify({
        method: 'notifications/progress',
        params: { progressToken, progress: done, total: 100, message: `${done} of 100` },
      });
    }
    await pause();
  }
  return text(String(progressToken));
}

const CONTENT = {
  test_simple_text: text('This is a simple text response for testing.'),
  test_image_content: { content: [{ type: 'image', data: PNG, mimeType: 'image/png' }] },
  test_audio_content: { content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }] },
  test_embedded_resource: {
    content: [
      {
        type: 'resource',
        resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'Embedded.' },
      },
    ],
  },
  test_multiple_content_types: {
    content: [
      { type: 'text', text: 'Three kinds of content:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      {
        type: 'resource',
        resource: { uri: 'test://mixed', mimeType: 'application/json', text: '{"n":1}' },
      },
    ],
  },
  test_error_handling: {
    isError: true,
    content: [{ type: 'text', text: 'This tool always fails.' }],
  },
};

/** The handlers of {@link TOOLS}, by name: `(args, ctx) => result`. */
export const TOOL_HANDLERS = {
  ...Object.fromEntries(Object.entries(CONTENT).map(([name, result]) => [name, () => result])),
  test_tool_with_logging: (_args, ctx) => logThree(ctx),
  test_logging_tool: async (_args, ctx) => {
    await ctx.mcpReq.log('info', 'test_logging_tool ran', 'reference');
    return text('logged one message');
  },
  test_tool_with_progress: (_args, ctx) => progress(ctx),
  test_sampling: (args, ctx) => sample(args, ctx),
  test_elicitation: (args, ctx) =>
    elicit(ctx, 'response', {
      message: String(args.message),
      requestedSchema: {
        type: 'object',
        properties: { response: { type: 'string', description: 'Your answer' } },
        required: ['response'],
      },
    }),
  test_elicitation_sep1034_defaults: (_args, ctx) =>
    elicit(ctx, 'form', FORMS.test_elicitation_sep1034_defaults),
  test_elicitation_sep1330_enums: (_args, ctx) =>
    elicit(ctx, 'form', FORMS.test_elicitation_sep1330_enums),
  json_schema_2020_12_tool: (args) => text(`called with ${JSON.stringify(args)}`),
  test_custom_headers: (args) => text(`region=${args.region}`),
};
