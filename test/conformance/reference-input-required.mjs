// The multi-round-trip fixtures of the conformance reference server (test/conformance/
// reference-server.mjs): the tools and the prompt the suite's `input-required-result-*` scenarios
// (SEP-2322) and `server-stateless` (SEP-2575) call, from the scenarios' "Server Implementation
// Requirements". Each handler is written once, in the 2026-07-28 style: it returns
// `inputRequired(...)` until the retry carries the answers it needs. On a 2025-11-25 connection
// the SDK's legacy shim turns that return into real server-to-client requests and re-enters the
// handler with the answers, so the same code serves both eras.
import {
  CLIENT_CAPABILITIES_META_KEY,
  inputRequired,
  inputResponse,
} from '@modelcontextprotocol/server';

const text = (value) => ({ content: [{ type: 'text', text: value }] });
const stringForm = (message, field) => ({
  message,
  requestedSchema: {
    type: 'object',
    properties: { [field]: { type: 'string' } },
    required: [field],
  },
});

const ASK_NAME = inputRequired.elicit(stringForm('What is your name?', 'name'));
const ASK_CAPITAL = inputRequired.createMessage({
  messages: [{ role: 'user', content: { type: 'text', text: 'What is the capital of France?' } }],
  maxTokens: 100,
});
const ASK_GREETING = inputRequired.createMessage({
  messages: [{ role: 'user', content: { type: 'text', text: 'Generate a greeting' } }],
  maxTokens: 50,
});
const ASK_CONFIRM = inputRequired.elicit({
  message: 'Please confirm',
  requestedSchema: {
    type: 'object',
    properties: { ok: { type: 'boolean' } },
    required: ['ok'],
  },
});

/** The text of a sampling answer, or `undefined` when `key` holds none. */
function sampledText(responses, key) {
  const view = inputResponse(responses, key);
  if (view.kind !== 'sampling') return undefined;
  const content = view.result.content;
  const block = Array.isArray(content) ? content[0] : content;
  return block?.type === 'text' ? block.text : `(${block?.type ?? 'no'} content)`;
}

/** How an elicitation answer reads in a result: the field's value when accepted, else the action. */
function elicited(responses, key, field) {
  const view = inputResponse(responses, key);
  if (view.kind !== 'elicit') return undefined;
  return view.action === 'accept' ? String(view.content?.[field] ?? '') : `(${view.action})`;
}

/** The roots of a `roots/list` answer, or `undefined`. */
function rootsOf(responses, key) {
  const view = inputResponse(responses, key);
  return view.kind === 'roots' ? view.roots : undefined;
}

/**
 * The capabilities the caller declared: the request's envelope on 2026-07-28, the `initialize`
 * ones on 2025-11-25.
 */
function declared(ctx, server) {
  return (
    ctx.mcpReq.envelope?.[CLIENT_CAPABILITIES_META_KEY] ?? server.getClientCapabilities() ?? {}
  );
}

/**
 * The multi-round-trip tools, by name: `(args, ctx, helpers) => result`, `helpers` holding the
 * `Server` instance and the request-state codec (`mint(payload, ctx)`; the server verifies every
 * echoed state with it before a handler runs, so `ctx.mcpReq.requestState()` is the payload).
 */
export const INPUT_REQUIRED_TOOLS = {
  /** A1 (basic-elicitation; also missing-input-response, result-type, validate-input, extra params). */
  test_input_required_result_elicitation: (_args, ctx) => {
    const name = elicited(ctx.mcpReq.inputResponses, 'user_name', 'name');
    if (name === undefined) return inputRequired({ inputRequests: { user_name: ASK_NAME } });
    return text(`Hello, ${name}!`);
  },
  test_input_required_result_sampling: (_args, ctx) => {
    const answer = sampledText(ctx.mcpReq.inputResponses, 'capital_question');
    if (answer === undefined) {
      return inputRequired({ inputRequests: { capital_question: ASK_CAPITAL } });
    }
    return text(`The model answered: ${answer}`);
  },
  test_input_required_result_list_roots: (_args, ctx) => {
    const roots = rootsOf(ctx.mcpReq.inputResponses, 'client_roots');
    if (roots === undefined) {
      return inputRequired({ inputRequests: { client_roots: inputRequired.listRoots() } });
    }
    return text(`Roots: ${roots.map((root) => root.uri).join(', ') || '(none)'}`);
  },
  test_input_required_result_request_state: async (_args, ctx, { codec }) => {
    const state = ctx.mcpReq.requestState();
    const confirmed = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
    if (state?.flow !== 'request-state' || confirmed.kind !== 'elicit') {
      return inputRequired({
        inputRequests: { confirm: ASK_CONFIRM },
        requestState: await codec.mint({ flow: 'request-state' }, ctx),
      });
    }
    return text(`state-ok: confirmed=${JSON.stringify(confirmed.content?.ok ?? confirmed.action)}`);
  },
  test_input_required_result_multiple_inputs: async (_args, ctx, { codec }) => {
    const responses = ctx.mcpReq.inputResponses;
    const name = elicited(responses, 'user_name', 'name');
    const greeting = sampledText(responses, 'greeting');
    const roots = rootsOf(responses, 'client_roots');
    const state = ctx.mcpReq.requestState();
    if (state?.flow !== 'multiple' || name === undefined || !greeting || !roots) {
      return inputRequired({
        inputRequests: {
          user_name: ASK_NAME,
          greeting: ASK_GREETING,
          client_roots: inputRequired.listRoots(),
        },
        requestState: await codec.mint({ flow: 'multiple' }, ctx),
      });
    }
    return text(`name=${name}; greeting=${greeting}; roots=${roots.length}`);
  },
  test_input_required_result_multi_round: async (_args, ctx, { codec }) => {
    const responses = ctx.mcpReq.inputResponses;
    const state = ctx.mcpReq.requestState();
    if (state?.flow === 'multi-round' && state.step === 2) {
      const color = elicited(responses, 'step2', 'color');
      if (color !== undefined) return text(`${state.name}'s favourite colour is ${color}.`);
    }
    const name = elicited(responses, 'step1', 'name');
    if (state?.flow === 'multi-round' && state.step === 1 && name !== undefined) {
      return inputRequired({
        inputRequests: {
          step2: inputRequired.elicit(stringForm('Step 2: What is your favorite color?', 'color')),
        },
        requestState: await codec.mint({ flow: 'multi-round', step: 2, name }, ctx),
      });
    }
    return inputRequired({
      inputRequests: {
        step1: inputRequired.elicit(stringForm('Step 1: What is your name?', 'name')),
      },
      requestState: await codec.mint({ flow: 'multi-round', step: 1 }, ctx),
    });
  },
  /** Its state is signed: a tampered one never reaches this handler (-32602 before it). */
  test_input_required_result_tampered_state: async (_args, ctx, { codec }) => {
    const state = ctx.mcpReq.requestState();
    const confirmed = inputResponse(ctx.mcpReq.inputResponses, 'confirm');
    if (state?.flow !== 'tampered-state' || confirmed.kind !== 'elicit') {
      return inputRequired({
        inputRequests: { confirm: ASK_CONFIRM },
        requestState: await codec.mint({ flow: 'tampered-state' }, ctx),
      });
    }
    return text('state verified');
  },
  /** Asks only for what the caller declared: sampling, elicitation, roots. */
  test_input_required_result_capabilities: (_args, ctx, { server }) => {
    const responses = ctx.mcpReq.inputResponses;
    const capabilities = declared(ctx, server);
    const wanted = {
      ...(capabilities.sampling ? { capital_question: ASK_CAPITAL } : {}),
      ...(capabilities.elicitation ? { user_name: ASK_NAME } : {}),
      ...(capabilities.roots ? { client_roots: inputRequired.listRoots() } : {}),
    };
    if (Object.keys(wanted).length === 0) return text('The client declared none of them.');
    const missing = Object.keys(wanted).filter(
      (key) => inputResponse(responses, key).kind === 'missing',
    );
    if (missing.length > 0) {
      return inputRequired({
        inputRequests: Object.fromEntries(missing.map((key) => [key, wanted[key]])),
      });
    }
    return text(`Answered: ${Object.keys(wanted).join(', ')}`);
  },
  /**
   * server-stateless: needs sampling; a caller that did not declare it gets -32021 from the SDK
   * (the input request is checked against the declared capabilities before it is sent).
   */
  test_missing_capability: (_args, ctx) => {
    const answer = sampledText(ctx.mcpReq.inputResponses, 'completion');
    if (answer === undefined) {
      return inputRequired({
        inputRequests: {
          completion: inputRequired.createMessage({
            messages: [{ role: 'user', content: { type: 'text', text: 'Say hello.' } }],
            maxTokens: 20,
          }),
        },
      });
    }
    return text(`sampled: ${answer}`);
  },
  /** server-stateless: an elicitation whose request must arrive as an InputRequiredResult. */
  test_streaming_elicitation: (_args, ctx) => {
    const answer = elicited(ctx.mcpReq.inputResponses, 'answer', 'answer');
    if (answer === undefined) {
      return inputRequired({
        inputRequests: { answer: inputRequired.elicit(stringForm('Anything to add?', 'answer')) },
      });
    }
    return text(`You said: ${answer}`);
  },
};

/** The tool definitions of {@link INPUT_REQUIRED_TOOLS}. */
export const INPUT_REQUIRED_TOOL_LIST = [
  ['test_input_required_result_elicitation', 'Asks for your name (one elicitation).'],
  ['test_input_required_result_sampling', 'Asks the model for the capital of France.'],
  ['test_input_required_result_list_roots', 'Asks for your roots.'],
  ['test_input_required_result_request_state', 'Asks for a confirmation, with a signed state.'],
  ['test_input_required_result_multiple_inputs', 'Asks for a name, a greeting and roots at once.'],
  ['test_input_required_result_multi_round', 'Asks for a name, then a colour (two rounds).'],
  ['test_input_required_result_tampered_state', 'Asks for a confirmation; refuses altered state.'],
  ['test_input_required_result_capabilities', 'Asks only for what the client declared.'],
  ['test_missing_capability', 'Needs sampling (-32021 without it).'],
  ['test_streaming_elicitation', 'Asks for an answer (one elicitation).'],
].map(([name, description]) => ({
  name,
  description,
  inputSchema: { type: 'object', properties: {} },
}));

/** prompts/get of `test_input_required_result_prompt` (input-required-result-non-tool-request). */
export function inputRequiredPrompt(ctx) {
  const context = elicited(ctx.mcpReq.inputResponses, 'user_context', 'context');
  if (context === undefined) {
    return inputRequired({
      inputRequests: {
        user_context: inputRequired.elicit(
          stringForm('What context should the prompt use?', 'context'),
        ),
      },
    });
  }
  return {
    messages: [{ role: 'user', content: { type: 'text', text: `Use this context: ${context}` } }],
  };
}
