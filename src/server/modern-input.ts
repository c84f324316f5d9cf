/**
 * Input from the user on a 2026-07-28 request (ADR 0004, points 4 and 5): a `tools/call`,
 * `prompts/get` or `resources/read` cannot ask its client mid-request, so it ends with an
 * `InputRequiredResult` (the input requests and a signed `requestState`), and the client retries
 * it with the answers and the state. A retry's state is verified against the caller, the method,
 * the tool or prompt name or resource URI, and the arguments, then consumed (its single-use marker
 * written) before the request runs: another caller's, an altered, an expired or a replayed state
 * is -32602, as the SDK answers a refused state.
 *
 * Two kinds of input end a request that way:
 *
 * - **our own**: the URL input {@link URL_INPUT_KEY} (a downstream sign-in page to open);
 * - **a downstream server's, relayed**: a 2026-07-28 server answered the forwarded request with an
 *   `InputRequiredResult`. Its input requests go to the client under the server's own keys (a
 *   round is one server's: our state says whose, so a key of the server's never meets
 *   {@link URL_INPUT_KEY} or another server's), and its own `requestState` rides inside ours,
 *   encrypted ({@link RequestStates.conceal}): the client can neither read nor change it. On the
 *   retry the client's answers to those keys (and only those) go back to the server, with its
 *   state ({@link ModernInput.downstream}).
 *
 * @module
 */
import {
  CLIENT_CAPABILITIES_META_KEY,
  type ClientCapabilities,
  type InputRequests,
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { callerFromAuthInfo, principalOf } from './identity.js';
import { hashArguments, type RequestStateBinding, type RequestStates } from './request-state.js';

/** The key of the URL input (the sign-in page) in `inputRequests` and `inputResponses`. */
export const URL_INPUT_KEY = 'open_url';

/** What a retried request carried: its state's payload and the answer to the URL input. */
export interface ResumedRequest {
  /** What the request put in the state ({@link ModernInput.urlInput}'s `payload`). */
  readonly payload: unknown;
  /** The client's answer to the URL input; `undefined`: none given. */
  readonly answer: 'accept' | 'decline' | 'cancel' | undefined;
}

/**
 * What a request forwarded to a downstream server on a 2026-07-28 request carries, so that the
 * server's input-required result is handed back (manual mode) instead of fulfilled by `serve`.
 */
export interface DownstreamInput {
  /** The client's capabilities the server may ask within (elicitation, sampling, roots). */
  readonly clientCapabilities: ClientCapabilities;
  /**
   * The client's answers: those to the keys the server asked, on the retry of a relayed round;
   * all of them, as sent, on a request that carries answers but no state.
   */
  readonly inputResponses?: Record<string, unknown>;
  /** The server's own state of the relayed round, as it handed it out. */
  readonly requestState?: string;
}

/** What a request on 2026-07-28 has instead of asking its client mid-request. */
export interface ModernInput {
  /** The request this one resumes (its state already consumed); `undefined` on a first one. */
  readonly resumed: ResumedRequest | undefined;
  /**
   * The result that asks the client to open `url` and retry, with a fresh state carrying
   * `payload` (ids only: the client can read it). End the request with it through
   * {@link InputRequiredSignal}.
   */
  urlInput(
    request: { url: string; message: string },
    payload: unknown,
  ): Promise<InputRequiredResult>;
  /**
   * What to send `server` with the request: the client's capabilities and, on the retry of a
   * round `server` asked for, the answers under its keys and its own state.
   */
  downstream(server: string): DownstreamInput;
  /**
   * Our input-required result for `server`'s: its input requests under its own keys, its state
   * encrypted within ours. End the request with it through {@link InputRequiredSignal}.
   */
  relay(server: string, result: InputRequiredResult): Promise<InputRequiredResult>;
}

/** Thrown from deep within a request to end it with an input-required result. */
export class InputRequiredSignal extends Error {
  /** The result to answer the request with. */
  readonly result: InputRequiredResult;

  constructor(result: InputRequiredResult) {
    super('input required');
    this.name = 'InputRequiredSignal';
    this.result = result;
  }
}

/** A relayed round: the server, the keys it asked, its state (encrypted). */
interface RelayPayload {
  readonly s: string;
  readonly k: readonly string[];
  readonly r?: string;
}

/** The signed payload: a hash of the arguments, the request's own data, or a relayed round. */
interface RequestPayload {
  readonly a: string;
  readonly d?: unknown;
  readonly r?: RelayPayload;
}

function invalidState(): ProtocolError {
  return new ProtocolError(ProtocolErrorCode.InvalidParams, 'Invalid or expired requestState', {
    reason: 'invalid_request_state',
  });
}

/** The state a retry carries, verified against `binding` and `args`, then consumed. */
async function resume(
  states: RequestStates,
  binding: RequestStateBinding,
  args: unknown,
  state: unknown,
): Promise<RequestPayload> {
  if (typeof state !== 'string') throw invalidState();
  const check = await states.verify(state, binding);
  if (!check.ok) throw invalidState();
  const payload = check.state.payload as Partial<RequestPayload> | undefined;
  if (payload?.a !== hashArguments(args)) throw invalidState();
  // Consumed before the request runs: of two retries with the same state, one goes on.
  if (!(await states.consume(check.state)).ok) throw invalidState();
  return payload as RequestPayload;
}

/** The capabilities of the request's envelope a downstream server may ask within. */
function askableCapabilities(ctx: ServerContext): ClientCapabilities {
  const envelope = ctx.mcpReq.envelope as Readonly<Record<string, unknown>> | undefined;
  const declared = (envelope?.[CLIENT_CAPABILITIES_META_KEY] ?? {}) as ClientCapabilities;
  return {
    ...(declared.elicitation ? { elicitation: declared.elicitation } : {}),
    ...(declared.sampling ? { sampling: declared.sampling } : {}),
    ...(declared.roots ? { roots: declared.roots } : {}),
  };
}

/** The relayed round's answers under `server`'s keys, and its state (revealed). */
function downstreamRetry(
  states: RequestStates,
  relay: RelayPayload,
  responses: Record<string, unknown> | undefined,
): Pick<DownstreamInput, 'inputResponses' | 'requestState'> {
  // Only the keys the server asked go back to it: anything else the client sent is ignored. Built
  // as own properties whatever the key (`__proto__` included: an assignment would drop it).
  const inputResponses: Record<string, unknown> = Object.fromEntries(
    relay.k.flatMap((key) => {
      const answer =
        responses !== undefined && Object.hasOwn(responses, key) ? responses[key] : undefined;
      return answer === undefined ? [] : [[key, answer]];
    }),
  );
  if (relay.r === undefined) return { inputResponses };
  const requestState = states.reveal(relay.r);
  // Our signature covered it: a state that does not open is a key that changed twice since.
  if (requestState === undefined) throw invalidState();
  return { inputResponses, requestState };
}

/**
 * The {@link ModernInput} of one 2026-07-28 request by `binding`'s caller with `args` (a tool's or
 * prompt's arguments; `{}` for a resource): a state it carries is verified and consumed here (or
 * the request fails with -32602).
 */
export async function modernInput(
  states: RequestStates,
  binding: RequestStateBinding,
  args: unknown,
  ctx: ServerContext,
): Promise<ModernInput> {
  const state = ctx.mcpReq.requestState<unknown>();
  const responses = ctx.mcpReq.inputResponses;
  let resumed: ResumedRequest | undefined;
  let relayed: RelayPayload | undefined;
  if (state !== undefined) {
    const payload = await resume(states, binding, args, state);
    relayed = payload.r;
    const view = inputResponse(responses, URL_INPUT_KEY);
    resumed = { payload: payload.d, answer: view.kind === 'elicit' ? view.action : undefined };
  }
  const clientCapabilities = askableCapabilities(ctx);
  const mint = (payload: Omit<RequestPayload, 'a'>) =>
    states.mint({ ...binding, payload: { a: hashArguments(args), ...payload } });
  return {
    resumed,
    async urlInput(request, payload) {
      return inputRequired({
        inputRequests: { [URL_INPUT_KEY]: inputRequired.elicitUrl(request) },
        requestState: await mint({ d: payload }),
      });
    },
    downstream(server) {
      if (relayed?.s === server) {
        return { clientCapabilities, ...downstreamRetry(states, relayed, responses) };
      }
      // Answers sent without any state (SEP-2322 lets a client answer before it is asked) go to
      // the one server the request reaches, which judges them as it would the client's own.
      if (state === undefined && responses !== undefined && Object.keys(responses).length > 0) {
        return { clientCapabilities, inputResponses: { ...responses } };
      }
      return { clientCapabilities };
    },
    async relay(server, result) {
      const inputRequests: InputRequests = { ...result.inputRequests };
      const keys = Object.keys(inputRequests);
      const concealed =
        result.requestState === undefined ? {} : { r: states.conceal(result.requestState) };
      return inputRequired({
        inputRequests,
        requestState: await mint({ r: { s: server, k: keys, ...concealed } }),
      });
    },
  };
}

/**
 * The input of the 2026-07-28 request `ctx` (a `tools/call` or `prompts/get` of `name` with
 * `args`, or a `resources/read` of the URI `name` with none) by the caller of its token, its state
 * verified and consumed; nothing without a `requestState` service.
 */
export async function modernInputOf(
  states: RequestStates | undefined,
  ctx: ServerContext,
  name: string,
  args: unknown,
): Promise<{ modern?: ModernInput }> {
  if (!states) return {};
  const caller = callerFromAuthInfo(ctx.http?.authInfo);
  const principal = caller ? principalOf(caller) : '';
  return {
    modern: await modernInput(states, { principal, method: ctx.mcpReq.method, name }, args, ctx),
  };
}
