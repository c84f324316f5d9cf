/**
 * The first step of `createApp()`: its options resolved to their defaults, once, into the context
 * every later step reads (instead of each step applying the defaults again).
 *
 * @module
 */
import type { AuthorizationSettings } from '../config/schema/authorization.js';
import type { Settings } from '../config/schema/settings.js';
import type { FetchLike } from '../fetch.js';
import { type Logger, silentLogger } from '../logger.js';
import type { ServerInfo } from '../server/mcp-server.js';
import type { PeerConnectionLimits } from '../servers/peer-connections.js';
import type { CreateAppOptions, WorkflowRunTuning } from './create-app.js';
import { AppDefinition } from './define.js';

/** What every step of `createApp()` reads: the options with their defaults applied. */
export interface AppContext {
  readonly settings: Settings;
  /** The app module's tools and workflows (its setup already ran). */
  readonly definition: AppDefinition;
  /** The environment for stdio servers and proxy settings. */
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Where relative token-store and configuration paths resolve. */
  readonly cwd: string | undefined;
  /** The `fetch` of verification requests, if the options gave one (else the app's HTTP stack). */
  readonly fetch: FetchLike | undefined;
  readonly now: (() => number) | undefined;
  /** How workflow runs are leased and swept (tests inject the timer and the replica id). */
  readonly workflowRuns: WorkflowRunTuning;
  /** See `CreateAppOptions.peerConnections`. */
  readonly peerConnections: PeerConnectionLimits | undefined;
  /** The app's name (`name:`, else `mcp-agent-ts`), as clients and servers see it. */
  readonly name: string;
  readonly info: ServerInfo;
  /** `authorization`, when `authorization.enabled` is true (the inbound protection is on). */
  readonly auth: AuthorizationSettings | undefined;
}

/** Apply the defaults of `options` and run the app module's setup (unless already defined). */
export async function resolveContext(options: CreateAppOptions): Promise<AppContext> {
  const { settings } = options;
  const definition = options.definition ?? new AppDefinition();
  if (!options.definition) await options.setup?.(definition);
  const name = settings.name ?? 'mcp-agent-ts';
  return {
    settings,
    definition,
    env: options.env ?? process.env,
    logger: options.logger ?? silentLogger,
    cwd: options.cwd,
    fetch: options.fetch,
    now: options.now,
    workflowRuns: options.workflowRuns ?? {},
    peerConnections: options.peerConnections,
    name,
    info: options.info ?? { name, version: '0.1.0' },
    auth: settings.authorization?.enabled === true ? settings.authorization : undefined,
  };
}

/** `{ now }` when the options gave a clock, else nothing (the receiver's default clock). */
export function nowOf(context: AppContext): { now?: () => number } {
  return context.now ? { now: context.now } : {};
}

/** `{ cwd }` when the options gave a working directory, else nothing. */
export function cwdOf(context: AppContext): { cwd?: string } {
  return context.cwd ? { cwd: context.cwd } : {};
}
