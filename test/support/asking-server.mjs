/**
 * A stdio MCP server with one tool, `ask`, that sends its client an `elicitation/create` (form)
 * or a `sampling/createMessage` whether or not the client declared the capability, and reports
 * what came back (the answer, or the error) as its text result: the tests of a client that
 * declared nothing see the protocol's refusal through it. `maxTokens` sets the sampling request's
 * (default 10). Plain ESM, run without a build.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CreateMessageResultSchema, ElicitResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';

const server = new McpServer({ name: 'asking-server', version: '1.0.0' });

const FORM = {
  method: 'elicitation/create',
  params: {
    message: 'Your name, please.',
    requestedSchema: { type: 'object', properties: { name: { type: 'string' } } },
  },
};
const SAMPLE = {
  method: 'sampling/createMessage',
  params: { messages: [{ role: 'user', content: { type: 'text', text: 'Hi' } }], maxTokens: 10 },
};

server.registerTool(
  'ask',
  {
    description: 'Ask the client (form or sample).',
    inputSchema: { what: z.enum(['form', 'sample']), maxTokens: z.number().int().optional() },
  },
  async ({ what, maxTokens }, extra) => {
    const sample = { ...SAMPLE, params: { ...SAMPLE.params, maxTokens: maxTokens ?? 10 } };
    const [request, schema] =
      what === 'form' ? [FORM, ElicitResultSchema] : [sample, CreateMessageResultSchema];
    try {
      const result = await extra.sendRequest(request, schema);
      return { content: [{ type: 'text', text: `answered: ${JSON.stringify(result)}` }] };
    } catch (error) {
      return { content: [{ type: 'text', text: `refused: ${error.message}` }] };
    }
  },
);

await server.connect(new StdioServerTransport());
