/**
 * The relay of a downstream server's input on 2026-07-28 requests (ADR 0004, point 5): a
 * `tools/call`, `prompts/get` or `resources/read` of `serve`'s caller is forwarded in manual mode
 * ({@link RelayOptions}), and a server's `InputRequiredResult` ends the caller's request with ours
 * (`ModernInput.relay`: its input requests under its own keys, its state encrypted in our signed
 * state). The retry carries the caller's answers back to the server, with its state; a further
 * round is relayed the same way. On 2025-11-25 sessions nothing changes: the connection's peer
 * handlers answer the server mid-call.
 *
 * @module
 */
import { type InputRequiredResult, isInputRequiredResult } from '@modelcontextprotocol/server';
import { InputRequiredSignal, type ModernInput } from '../server/modern-input.js';
import type { RelayOptions } from '../servers/registry.js';

/**
 * Run `send` towards `server`: on a 2026-07-28 request (`modern`) with the relay options (the
 * caller's capabilities, and on a retry the answers and the server's state); an input-required
 * result of the server throws {@link InputRequiredSignal} with ours. Without `modern`, `send` gets
 * `undefined` and runs as before.
 */
export async function relayed<T extends object>(
  server: string,
  modern: ModernInput | undefined,
  send: (relay: RelayOptions | undefined) => Promise<T | InputRequiredResult>,
): Promise<T> {
  const result = await send(modern?.downstream(server));
  if (!isInputRequiredResult(result)) return result as T;
  if (!modern) throw new Error(`server "${server}" asked for input outside a 2026-07-28 request`);
  throw new InputRequiredSignal(await modern.relay(server, result));
}
