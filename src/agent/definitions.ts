/**
 * mcp-agent's `agents:` section: the agent definitions of the configuration file
 * (`agents.definitions`, each `{ name, instruction, server_names }`), made into {@link Agent}s.
 *
 * @module
 */
import * as z from 'zod';
import type { AgentAuth } from '../client/agent-auth.js';
import type { Settings } from '../config/schema/settings.js';
import { McpAgentError } from '../errors.js';
import { Agent, type AgentSpec } from './agent.js';

/** One definition, as mcp-agent's `AgentSpec` has it; its other keys are not used. */
const definitionSchema = z.looseObject({
  name: z.string().min(1),
  instruction: z.string().optional(),
  server_names: z.array(z.string()).default([]),
});

function specOf(definition: unknown, index: number): AgentSpec {
  const parsed = definitionSchema.safeParse(definition);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || 'the definition'}: ${issue.message}`)
      .join('; ');
    throw new McpAgentError(
      'CONFIG_INVALID',
      `agents.definitions[${index}] is not an agent definition (${problems}); each needs a name, and may have an instruction and server_names.`,
    );
  }
  const { name, instruction, server_names } = parsed.data;
  return { name, instruction, serverNames: server_names };
}

/**
 * The agents `agents.definitions` defines (none when `agents.enabled` is `false`). Throws
 * `CONFIG_INVALID` for a definition without a name, or two with the same name.
 */
export function agentSpecsOf(settings: Pick<Settings, 'agents'>): AgentSpec[] {
  if (settings.agents?.enabled === false) return [];
  const specs = (settings.agents?.definitions ?? []).map(specOf);
  const names = specs.map((spec) => spec.name);
  const twice = names.find((name, index) => names.indexOf(name) !== index);
  if (twice !== undefined) {
    throw new McpAgentError(
      'CONFIG_INVALID',
      `agents.definitions defines the agent "${twice}" more than once; give each agent its own name.`,
    );
  }
  return specs;
}

/**
 * The agents of `auth.settings`' `agents:` section, by name, on `auth`'s connections (an end
 * user's with `user`). An unknown server in `server_names` is a `SERVER_UNKNOWN` error.
 */
export function loadAgents(auth: AgentAuth, user?: string): Map<string, Agent> {
  const context = user === undefined ? { auth } : { auth, user };
  return new Map(agentSpecsOf(auth.settings).map((spec) => [spec.name, new Agent(spec, context)]));
}
