/**
 * A v2 MCP server on one URL serving both eras as ADR 0004 describes: `isLegacyRequest` in front
 * of `createMcpHandler(…, { legacy: 'reject' })` (2026-07-28), the rest going to a sessionful
 * 2025-11-25 Streamable HTTP handler. Tools: `echo`, and `ask` (a form elicitation: on 2026-07-28
 * an `InputRequiredResult`, on 2025-11-25 an `elicitation/create` request). Every POST is
 * recorded with the era that answered it and its method. `modern: false` makes it a
 * 2025-11-25-only server (every request goes to the legacy leg), which can be switched at any
 * time: a server that answered `server/discover` and then only speaks 2025-11-25. With
 * `inputTools`, the 2026-07-28 leg also has the tools, prompt and resource of `input-tools.ts`
 * (input asked in rounds). With `watched`, the 2026-07-28 leg has a text resource at each of
 * those URIs and declares `resources.subscribe`; `notify.resourceUpdated(uri)` announces an update
 * on the `subscriptions/listen` streams that name the URI.
 */
import { randomUUID } from 'node:crypto';
import {
  acceptedContent,
  createMcpHandler,
  inputRequired,
  isLegacyRequest,
  type McpHttpHandler,
  McpServer,
  WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import { z } from 'zod';
import { serveWeb } from '../peers/support/web-server.js';
import { registerInputTools } from './input-tools.js';

/** One POST the server answered. */
export interface DualEraRequest {
  readonly era: 'modern' | 'legacy';
  readonly method: string;
}

/** A running {@link startDualEraServer}. */
export interface DualEraServer {
  /** `http://127.0.0.1:<port>/mcp` */
  readonly url: string;
  readonly requests: DualEraRequest[];
  /** Announces list changes on the 2026-07-28 leg's `subscriptions/listen` streams. */
  readonly notify: McpHttpHandler['notify'];
  /**
   * Closes the 2026-07-28 leg (its open `subscriptions/listen` streams end) and serves that era
   * with a new one from then on.
   */
  restartModern(): Promise<void>;
  /** Whether 2026-07-28 requests are answered on their leg (else by the 2025-11-25 one). */
  modern: boolean;
  /**
   * Whether the 2025-11-25 leg answers a request outside a session as a stateless 2025-11-25
   * server would (a plain result, no `resultType`), instead of refusing it (HTTP 400).
   */
  stateless: boolean;
  close(): Promise<void>;
}

const askSchema = z.object({ colour: z.string() });

/** Options of {@link startDualEraServer}. */
export interface DualEraOptions {
  readonly modern?: boolean;
  readonly inputTools?: boolean;
  /** URIs of resources the 2026-07-28 leg serves and lets clients subscribe to. */
  readonly watched?: readonly string[];
}

/**
 * The tools of either era's server (`inputTools`: and those of `input-tools.ts` on 2026-07-28;
 * `watched`: the resources on 2026-07-28).
 */
function mcpServer(era: 'modern' | 'legacy', options: DualEraOptions = {}): McpServer {
  const watched = era === 'modern' ? (options.watched ?? []) : [];
  const server = new McpServer(
    { name: `dual-${era}`, version: '1.0.0' },
    watched.length > 0 ? { capabilities: { resources: { subscribe: true } } } : {},
  );
  for (const [index, uri] of watched.entries()) {
    server.registerResource(`watched-${index}`, uri, { mimeType: 'text/plain' }, () => ({
      contents: [{ uri, mimeType: 'text/plain', text: `watched ${uri}` }],
    }));
  }
  server.registerTool(
    'echo',
    { description: 'Echo the text', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text', text: `${era}: ${text}` }] }),
  );
  server.registerTool(
    'ask',
    { description: 'Ask for a colour', inputSchema: z.object({}) },
    async (_args, ctx) => {
      if (era === 'legacy') {
        const answer = await ctx.mcpReq.elicitInput({
          mode: 'form',
          message: 'Which colour?',
          requestedSchema: {
            type: 'object',
            properties: { colour: { type: 'string' } },
            required: ['colour'],
          },
        });
        const colour = answer.action === 'accept' ? String(answer.content?.colour) : answer.action;
        return { content: [{ type: 'text', text: `legacy colour: ${colour}` }] };
      }
      const answer = acceptedContent(ctx.mcpReq.inputResponses, 'colour', askSchema);
      if (!answer) {
        return inputRequired({
          inputRequests: {
            colour: inputRequired.elicit({ message: 'Which colour?', requestedSchema: askSchema }),
          },
        });
      }
      return { content: [{ type: 'text', text: `modern colour: ${answer.colour}` }] };
    },
  );
  if (era === 'modern' && options.inputTools) registerInputTools(server);
  return server;
}

/** Start a {@link DualEraServer}. */
export async function startDualEraServer(options: DualEraOptions = {}): Promise<DualEraServer> {
  const requests: DualEraRequest[] = [];
  const modernLeg = () =>
    createMcpHandler(() => mcpServer('modern', options), { legacy: 'reject' });
  let modern = modernLeg();
  const sessions = new Map<string, WebStandardStreamableHTTPServerTransport>();
  const legacy = async (request: Request, body: unknown): Promise<Response> => {
    const id = request.headers.get('mcp-session-id');
    const known = id ? sessions.get(id) : undefined;
    if (known) return known.handleRequest(request, { parsedBody: body });
    const message = body as { id?: unknown; method?: unknown } | undefined;
    if (message?.method !== 'initialize' && state.stateless) {
      const result = { content: [{ type: 'text', text: 'stateless' }] };
      return Response.json({ jsonrpc: '2.0', id: message?.id, result });
    }
    if (message?.method !== 'initialize') {
      return Response.json(
        {
          jsonrpc: '2.0',
          error: { code: -32000, message: 'Bad Request: No valid session ID provided' },
          id: null,
        },
        { status: 400 },
      );
    }
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: true,
      onsessioninitialized: (sessionId) => {
        sessions.set(sessionId, transport);
      },
    });
    await mcpServer('legacy').connect(transport);
    return transport.handleRequest(request, { parsedBody: body });
  };
  const state = { modern: options.modern ?? true, stateless: false };
  const web = await serveWeb(async (request) => {
    if (new URL(request.url).pathname !== '/mcp') return new Response('not found', { status: 404 });
    const body = request.method === 'POST' ? await request.clone().json() : undefined;
    const method = String((body as { method?: unknown } | undefined)?.method ?? request.method);
    const toLegacy = !state.modern || (await isLegacyRequest(request, body));
    if (request.method === 'POST') requests.push({ era: toLegacy ? 'legacy' : 'modern', method });
    return toLegacy ? legacy(request, body) : modern.fetch(request, { parsedBody: body });
  });
  return {
    url: `${web.origin}/mcp`,
    requests,
    get notify() {
      return modern.notify;
    },
    async restartModern() {
      const old = modern;
      modern = modernLeg();
      await old.close();
    },
    get modern() {
      return state.modern;
    },
    set modern(value: boolean) {
      state.modern = value;
    },
    get stateless() {
      return state.stateless;
    },
    set stateless(value: boolean) {
      state.stateless = value;
    },
    async close() {
      await modern.close();
      await Promise.all([...sessions.values()].map((transport) => transport.close()));
      await web.close();
    },
  };
}
