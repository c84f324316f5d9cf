/**
 * `workflows-store-credentials` (mcp-agent's name): an authenticated caller deposits tokens it
 * obtained elsewhere for downstream servers, stored under that caller's identity only — never
 * the app's, never another caller's. Each token's authorization server, when named, must be the
 * one the server's metadata names. Per-token errors are reported; partial success is explicit;
 * nothing stored is an error. Token values never appear in the answer or the log.
 *
 * @module
 */
import * as z from 'zod';
import type { CallerScopes } from '../client/caller-scopes.js';
import { Secret } from '../config/secret.js';
import { usesOAuth } from '../oauth/token-manager.js';
import type { ServedTool } from '../server/mcp-server.js';

const tokenSchema = z.object({
  server_name: z.string().min(1),
  access_token: z.string().min(1).max(16_384),
  refresh_token: z.string().min(1).max(16_384).optional(),
  /** Epoch seconds. */
  expires_at: z.number().positive().optional(),
  scopes: z.union([z.array(z.string()), z.string()]).optional(),
  authorization_server: z.string().optional(),
  token_type: z.string().optional(),
});

const argumentsSchema = z.object({
  workflow_name: z.string().optional(),
  tokens: z.array(tokenSchema).min(1).max(50),
});

function result(value: unknown, isError = false) {
  return {
    ...(isError ? { isError: true } : {}),
    content: [{ type: 'text' as const, text: JSON.stringify(value) }],
  };
}

/** The tool, over `scopes`; `workflows` are the workflow names `workflow_name` may give. */
export function storeCredentialsTool(
  scopes: CallerScopes,
  workflows: readonly string[],
): ServedTool {
  return {
    definition: {
      name: 'workflows-store-credentials',
      description:
        'Store OAuth tokens you already hold for downstream servers, for your own use by this agent.',
      inputSchema: z.toJSONSchema(argumentsSchema, {
        io: 'input',
      }) as ServedTool['definition']['inputSchema'],
    },
    scopes: [],
    call: async (args, context) => {
      const parsed = argumentsSchema.safeParse(args);
      if (!parsed.success) {
        return result(
          { success: false, error: 'tokens: a list of {server_name, access_token, …} is required' },
          true,
        );
      }
      const { workflow_name: workflow, tokens } = parsed.data;
      if (workflow !== undefined && !workflows.includes(workflow)) {
        return result({ success: false, error: `Workflow '${workflow}' not found.` }, true);
      }
      // Without a verified caller the tokens would become the app's own, for everyone.
      if (!context.caller) {
        return result(
          {
            success: false,
            error: 'Storing credentials needs an authenticated caller (authorization is off).',
          },
          true,
        );
      }
      const scope = scopes.scopeFor(context.caller);
      const errors: { index: number; server_name: string; error: string }[] = [];
      let stored = 0;
      for (const [index, token] of tokens.entries()) {
        const server = token.server_name;
        try {
          const settings = scope.registry.names().includes(server)
            ? scope.registry.settings(server)
            : undefined;
          const auth =
            settings && usesOAuth(settings) ? scope.tokens.forServer(server, settings) : undefined;
          if (!auth) throw new Error(`"${server}" is not a server of this agent that uses OAuth`);
          const scopesGranted =
            typeof token.scopes === 'string'
              ? token.scopes.split(' ').filter((item) => item !== '')
              : token.scopes;
          await auth.adoptToken({
            accessToken: new Secret(token.access_token),
            ...(token.refresh_token ? { refreshToken: new Secret(token.refresh_token) } : {}),
            ...(token.expires_at !== undefined ? { expiresAt: token.expires_at * 1000 } : {}),
            ...(scopesGranted ? { scopes: scopesGranted } : {}),
            tokenType: token.token_type,
            authorizationServer: token.authorization_server,
          });
          stored += 1;
        } catch (error) {
          errors.push({
            index,
            server_name: server,
            error: error instanceof Error ? error.message : 'not stored',
          });
        }
      }
      const answer = {
        success: stored > 0,
        ...(workflow !== undefined ? { workflow_name: workflow } : {}),
        stored_tokens: stored,
        total_tokens: tokens.length,
        ...(errors.length > 0 ? { errors } : {}),
        ...(stored > 0 && errors.length > 0 ? { partial_success: true } : {}),
      };
      return result(answer, stored === 0);
    },
  };
}
