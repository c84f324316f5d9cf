/**
 * The agent of the cloud tests' last part (`cloud-*.test.ts`): `finder`, on the OAuth-protected
 * MCP server of `protectedWorld()`, asked who its user is; its model calls `served_whoami` and
 * answers with the subject the tool returned, streamed or not.
 */
import { Agent } from '../../src/agent/agent.js';
import type { AugmentedLlm } from '../../src/agent/llm.js';
import { protectedWorld, SERVER } from '../frameworks/protected-server.js';
import { toolThenText } from './cloud-stand-ins.js';

/**
 * Start a `protectedWorld()` for the enclosing `describe`, and give the `finder` agent on its
 * server (the user's auth of that world).
 */
export function protectedFinder(): () => Agent {
  const world = protectedWorld();
  return () =>
    new Agent(
      { name: 'finder', instruction: 'You find things.', serverNames: [SERVER] },
      { auth: world().auth },
    );
}

/** A cloud stand-in's script: `served_whoami` first, then "You are SUBJECT." from its result. */
export const whoamiThenSubject = toolThenText('served_whoami', {}, (result) => {
  const subject = /subject\\?":\\?"(\w+)/.exec(result)?.[1];
  return `You are ${subject}.`;
});

/** The answer of `llm` to "Who am I?": its whole text, or (`how` not `not streamed`) its deltas. */
export async function whoAmI(llm: AugmentedLlm, how: string): Promise<string> {
  if (how === 'not streamed') return llm.generateStr('Who am I?');
  let answer = '';
  for await (const delta of llm.generateStream('Who am I?')) answer += delta;
  return answer;
}
