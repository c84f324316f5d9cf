/**
 * Input from the user on a 2026-07-28 request (ADR 0004, points 4 and 5): the request cannot ask
 * its client mid-call, so it ends with an `InputRequiredResult` (the input requests and a signed
 * `requestState`), and the client retries it with the answers and the state. A retry's state is
 * verified against the caller, the method, the tool name and the arguments, then consumed (its
 * single-use marker written) before the call runs: another caller's, an altered, an expired or a
 * replayed state is -32602, as the SDK answers a refused state.
 *
 * @module
 */
import {
  type InputRequiredResult,
  inputRequired,
  inputResponse,
  ProtocolError,
  ProtocolErrorCode,
  type ServerContext,
} from '@modelcontextprotocol/server';
import { hashArguments, type RequestStateBinding, type RequestStates } from './request-state.js';

/** The key of the URL input (the sign-in page) in `inputRequests` and `inputResponses`. */
export const URL_INPUT_KEY = 'open_url';

/** What a retried call carried: its state's payload and the answer to the URL input. */
export interface ResumedCall {
  /** What the tool put in the state ({@link ModernCallInput.urlInput}'s `payload`). */
  readonly payload: unknown;
  /** The client's answer to the URL input; `undefined`: none given. */
  readonly answer: 'accept' | 'decline' | 'cancel' | undefined;
}

/** What a tool call on a 2026-07-28 request has instead of asking its client mid-call. */
export interface ModernCallInput {
  /** The call this request resumes (its state already consumed); `undefined` on a first call. */
  readonly resumed: ResumedCall | undefined;
  /**
   * The result that asks the client to open `url` and retry, with a fresh state carrying
   * `payload` (ids only: the client can read it). End the call with it through
   * {@link InputRequiredSignal}.
   */
  urlInput(
    request: { url: string; message: string },
    payload: unknown,
  ): Promise<InputRequiredResult>;
}

/** Thrown from deep within a tool call to end its request with an input-required result. */
export class InputRequiredSignal extends Error {
  /** The result to answer the request with. */
  readonly result: InputRequiredResult;

  constructor(result: InputRequiredResult) {
    super('input required');
    this.name = 'InputRequiredSignal';
    this.result = result;
  }
}

/** The sealed payload: a hash of the call's arguments and the tool's own data. */
interface CallPayload {
  readonly a: string;
  readonly d: unknown;
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
): Promise<unknown> {
  if (typeof state !== 'string') throw invalidState();
  const check = await states.verify(state, binding);
  if (!check.ok) throw invalidState();
  const payload = check.state.payload as Partial<CallPayload> | undefined;
  if (payload?.a !== hashArguments(args)) throw invalidState();
  // Consumed before the call runs: of two retries with the same state, one goes on.
  if (!(await states.consume(check.state)).ok) throw invalidState();
  return payload.d;
}

/**
 * The {@link ModernCallInput} of one 2026-07-28 `tools/call` by `binding`'s caller with `args`:
 * a state it carries is verified and consumed here (or the request fails with -32602).
 */
export async function modernCallInput(
  states: RequestStates,
  binding: RequestStateBinding,
  args: unknown,
  ctx: ServerContext,
): Promise<ModernCallInput> {
  const state = ctx.mcpReq.requestState<unknown>();
  let resumed: ResumedCall | undefined;
  if (state !== undefined) {
    const payload = await resume(states, binding, args, state);
    const view = inputResponse(ctx.mcpReq.inputResponses, URL_INPUT_KEY);
    resumed = { payload, answer: view.kind === 'elicit' ? view.action : undefined };
  }
  return {
    resumed,
    async urlInput(request, payload) {
      const sealed: CallPayload = { a: hashArguments(args), d: payload };
      return inputRequired({
        inputRequests: { [URL_INPUT_KEY]: inputRequired.elicitUrl(request) },
        requestState: await states.mint({ ...binding, payload: sealed }),
      });
    },
  };
}
