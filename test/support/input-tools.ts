/**
 * Tools, a prompt and a resource of a 2026-07-28 server that ask their client for input with an
 * `InputRequiredResult` (ADR 0004, point 5: what `serve` relays): `survey` asks three things at
 * once (a form elicitation, a sampling request, the roots), `steps` asks in two rounds and keeps
 * its own `requestState` between them, `poem` (a prompt) and `input://note` (a resource) ask for
 * a form each. The server's own state is a plain string starting with {@link DOWNSTREAM_STATE}, so
 * a test can check that it never reaches the client in clear.
 */
import {
  acceptedContent,
  inputRequired,
  inputResponse,
  type McpServer,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/** The start of every `requestState` the downstream server hands out. */
export const DOWNSTREAM_STATE = 'downstream-secret-state';

const colourSchema = z.object({ colour: z.string() });
const nameSchema = z.object({ name: z.string() });
const confirmSchema = z.object({ sure: z.boolean() });

function text(value: string) {
  return { content: [{ type: 'text' as const, text: value }] };
}

/** `survey`: a form, a sampling request and the roots in one round. */
function registerSurvey(server: McpServer): void {
  server.registerTool('survey', { description: 'Asks three things at once' }, async (ctx) => {
    const responses = ctx.mcpReq.inputResponses;
    const colour = acceptedContent(responses, 'colour', colourSchema);
    const sample = inputResponse(responses, 'summary');
    const roots = inputResponse(responses, 'roots');
    if (!colour || sample.kind !== 'sampling' || roots.kind !== 'roots') {
      return inputRequired({
        inputRequests: {
          colour: inputRequired.elicit({ message: 'Which colour?', requestedSchema: colourSchema }),
          summary: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'Summarise' } }],
            maxTokens: 10,
          }),
          roots: inputRequired.listRoots(),
        },
      });
    }
    const sampled = sample.result.content;
    const said = !Array.isArray(sampled) && sampled.type === 'text' ? sampled.text : '?';
    const where = roots.roots.map((root) => root.uri).join(',');
    return text(`survey: ${colour.colour}; ${said}; ${where}`);
  });
}

/** `steps`: a name, then (with its own state) a confirmation. */
function registerSteps(server: McpServer): void {
  server.registerTool('steps', { description: 'Asks in two rounds' }, async (ctx) => {
    const responses = ctx.mcpReq.inputResponses;
    const state = ctx.mcpReq.requestState<string>();
    if (typeof state === 'string' && state.startsWith(`${DOWNSTREAM_STATE}:`)) {
      const name = state.slice(DOWNSTREAM_STATE.length + 1);
      const confirm = acceptedContent(responses, 'confirm', confirmSchema);
      if (confirm) return text(`steps: ${name} ${confirm.sure ? 'confirmed' : 'withdrawn'}`);
    }
    const named = acceptedContent(responses, 'name', nameSchema);
    if (named) {
      return inputRequired({
        inputRequests: {
          confirm: inputRequired.elicit({ message: 'Sure?', requestedSchema: confirmSchema }),
        },
        requestState: `${DOWNSTREAM_STATE}:${named.name}`,
      });
    }
    return inputRequired({
      inputRequests: {
        name: inputRequired.elicit({ message: 'Your name?', requestedSchema: nameSchema }),
      },
    });
  });
}

/** `poem` (a prompt) and `input://note` (a resource): a form each. */
function registerContent(server: McpServer): void {
  server.registerPrompt('poem', { description: 'A poem on a colour' }, async (ctx) => {
    const colour = acceptedContent(ctx.mcpReq.inputResponses, 'colour', colourSchema);
    if (!colour) {
      return inputRequired({
        inputRequests: {
          colour: inputRequired.elicit({ message: 'Which colour?', requestedSchema: colourSchema }),
        },
      });
    }
    return {
      messages: [{ role: 'user', content: { type: 'text', text: `a poem on ${colour.colour}` } }],
    };
  });
  server.registerResource('note', 'input://note', {}, async (uri, ctx) => {
    const named = acceptedContent(ctx.mcpReq.inputResponses, 'name', nameSchema);
    if (!named) {
      return inputRequired({
        inputRequests: {
          name: inputRequired.elicit({ message: 'Your name?', requestedSchema: nameSchema }),
        },
      });
    }
    return { contents: [{ uri: uri.href, text: `a note for ${named.name}` }] };
  });
}

/**
 * `note` (a tool) and `noted` (a prompt): each sends one `info` log message, then answers. A 2026-07-28 server sends it only when the
 * request's envelope names a level (there is no `logging/setLevel`).
 */
function registerNote(server: McpServer): void {
  server.server.registerCapabilities({ logging: {} });
  server.registerTool('note', { description: 'Logs one line' }, async (ctx) => {
    await ctx.mcpReq.log('info', 'noted');
    return text('note: done');
  });
  server.registerPrompt('noted', { description: 'Logs one line' }, async (ctx) => {
    await ctx.mcpReq.log('info', 'prompted');
    return { messages: [{ role: 'user', content: { type: 'text', text: 'noted' } }] };
  });
}

/** Register `survey`, `steps`, `note`, `noted`, `poem` and `input://note` on a 2026-07-28 server. */
export function registerInputTools(server: McpServer): void {
  registerSurvey(server);
  registerSteps(server);
  registerNote(server);
  registerContent(server);
}
