/**
 * `modernInput`'s relay of a downstream server's round (modern-input.ts): the retry sends the
 * server the answers to the keys it asked, as own properties whatever the key (a key named
 * `__proto__` too), and only those.
 */
import { inputRequired, type ServerContext } from '@modelcontextprotocol/server';
import { expect, test } from 'vitest';
import { modernInput } from '../../src/server/modern-input.js';
import { createRequestStates, randomRequestStateKey } from '../../src/server/request-state.js';
import { MemoryKeyValueStore } from '../../src/stores/memory.js';

/** The part of a request's context `modernInput` reads: its state, answers and envelope. */
function contextOf(requestState: string | undefined, inputResponses: unknown): ServerContext {
  const mcpReq = { requestState: () => requestState, inputResponses, envelope: {} };
  return { mcpReq } as unknown as ServerContext;
}

test('a relayed round gives the server the answers to its keys, `__proto__` included', async () => {
  const states = createRequestStates({
    key: randomRequestStateKey(),
    store: new MemoryKeyValueStore(),
  });
  const binding = { principal: 'alice', method: 'tools/call', name: 'down_ask' };
  const ask = inputRequired.elicit({
    message: 'Odd key?',
    requestedSchema: { type: 'object', properties: {} },
  });
  // JSON gives own `__proto__` properties, as a server's result and a client's answers have.
  const requests = JSON.parse(
    `{"__proto__": ${JSON.stringify(ask)}, "plain": ${JSON.stringify(ask)}}`,
  );
  const first = await modernInput(states, binding, {}, contextOf(undefined, undefined));
  const ours = await first.relay('down', {
    resultType: 'input_required',
    inputRequests: requests,
    requestState: 'down-state',
  });
  const answers = JSON.parse(
    '{"__proto__": {"action": "accept", "content": {"odd": true}}, "plain": {"action": "decline"}, "unasked": {"action": "accept"}}',
  );
  const retry = await modernInput(
    states,
    binding,
    {},
    contextOf(String(ours.requestState), answers),
  );
  const sent = retry.downstream('down');
  expect(sent.requestState).toBe('down-state');
  expect(JSON.parse(JSON.stringify(sent.inputResponses))).toEqual(
    JSON.parse(
      '{"__proto__": {"action": "accept", "content": {"odd": true}}, "plain": {"action": "decline"}}',
    ),
  );
  expect(Object.getPrototypeOf(sent.inputResponses)).toBe(Object.prototype);
});
