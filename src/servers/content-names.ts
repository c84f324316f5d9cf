/**
 * How downstream prompts and resources are named when served, in one place: mcp-agent's
 * aggregator names a prompt `{server}_{prompt}` and a resource `{server}_{name}`, keeping its URI.
 * A mode fronting one server without renaming swaps in {@link unchangedNaming}.
 *
 * @module
 */
import type { ToolNames } from '../config/tool-names.js';

/** How prompts and resources of downstream servers are named when served. */
export interface ContentNaming {
  /** The served name of prompt `prompt` of `server`. */
  prompt(server: string, prompt: string): string;
  /** The server a served prompt name belongs to, if any (never a guess). */
  promptOwner(name: string): string | undefined;
  /** The `name` shown for resource (or template) `name` of `server` (its URI is kept). */
  resourceName(server: string, name: string): string;
}

/**
 * mcp-agent's naming: `SERVER_PROMPT` by the rule of tool names ({@link ToolNames}: exact,
 * hashed when needed, the owner found by the longest stem) and `SERVER_NAME` for resources.
 */
export function namespacedNaming(names: ToolNames): ContentNaming {
  return {
    prompt: (server, prompt) => names.name(server, prompt),
    promptOwner: (name) => names.ownerOf(name),
    resourceName: (server, name) => `${names.stem(server) ?? server}_${name}`,
  };
}

/** Names left as the one server gives them (a mode fronting exactly `server`). */
export function unchangedNaming(server: string): ContentNaming {
  return {
    prompt: (_server, prompt) => prompt,
    promptOwner: () => server,
    resourceName: (_server, name) => name,
  };
}
