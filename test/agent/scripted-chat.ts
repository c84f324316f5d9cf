/**
 * A scripted stand-in of OpenAI's chat completions, for the agent's tests: the generic scripted
 * stand-in (`apis/scripted.ts`) speaking {@link OPENAI_CHAT}, so the real `@ai-sdk/openai`
 * provider and the AI SDK's tool loop run against it, streamed or not.
 */
import { type ChatBody, OPENAI_CHAT } from './apis/openai-chat.js';
import {
  type Recorded,
  type Reply,
  type ScriptedApi,
  toolThenText as scriptedToolThenText,
  startScriptedApi,
} from './apis/scripted.js';

export type { Reply } from './apis/scripted.js';

/** A chat-completions request as the stand-in received it. */
export type ChatRequest = Recorded<ChatBody>;

/** A running stand-in: its origin, what it received, the script to follow, `close()`. */
export type ScriptedChat = ScriptedApi<ChatBody>;

/** Start the stand-in on a free loopback port; its script answers "nothing scripted". */
export function startScriptedChat(): Promise<ScriptedChat> {
  return startScriptedApi(OPENAI_CHAT);
}

/** The tool results the model was sent in `request` (OpenAI's `role: tool` messages). */
export function toolResultsIn(request: ChatRequest | undefined): string[] {
  return OPENAI_CHAT.toolResults(request?.body).results;
}

/** A script: a call of `tool` first; when the request ends with its result, the final text. */
export function toolThenText(
  tool: string,
  args: unknown,
  text: (result: string) => string,
): (request: ChatRequest) => Reply {
  return scriptedToolThenText(OPENAI_CHAT, tool, args, text);
}
