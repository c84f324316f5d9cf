/**
 * Bedrock's Converse response, as the stand-ins answer it (`stand-in.ts`, `scripted-api.ts`,
 * `cloud-stand-ins.ts`): the assistant's message with a text or a `toolUse` block, its stop
 * reason, and the usage.
 */

/** A model's turn: a text, or a call of a tool. */
export type ConverseTurn =
  | { readonly text: string }
  | { readonly tool: string; readonly args: unknown };

/** `turn` as Converse's JSON response. */
export function converseJson(turn: ConverseTurn): unknown {
  return {
    output: {
      message: {
        role: 'assistant',
        content: [
          'text' in turn
            ? { text: turn.text }
            : { toolUse: { toolUseId: 'tooluse_1', name: turn.tool, input: turn.args } },
        ],
      },
    },
    stopReason: 'text' in turn ? 'end_turn' : 'tool_use',
    usage: { inputTokens: 3, outputTokens: 5, totalTokens: 8 },
  };
}
