/**
 * The environment of a stdio server: a small allow-list of the parent's variables, the names the
 * server lists in `env_passthrough`, and its configured `env`. Nothing else of the parent (other
 * credentials!) reaches the child unless the server sets `inherit_env: true`.
 *
 * @module
 */
import { revealSecret, type Secret } from '../config/secret.js';

/**
 * Parent variables every stdio server gets (as sudo and the MCP SDK do; the SDK's v2 stdio
 * transport adds its own list, this one, from the process's environment in any case).
 */
export const INHERITED_VARIABLES: readonly string[] =
  process.platform === 'win32'
    ? [
        'APPDATA',
        'COMSPEC',
        'HOMEDRIVE',
        'HOMEPATH',
        'LOCALAPPDATA',
        'PATH',
        'PATHEXT',
        'PROCESSOR_ARCHITECTURE',
        'PROGRAMDATA',
        'PROGRAMFILES',
        'PROGRAMFILES(X86)',
        'PROGRAMW6432',
        'SYSTEMDRIVE',
        'SYSTEMROOT',
        'TEMP',
        'USERNAME',
        'USERPROFILE',
        'WINDIR',
      ]
    : ['HOME', 'LOGNAME', 'PATH', 'SHELL', 'TERM', 'USER'];

/** What decides a stdio server's environment. */
export interface StdioEnvOptions {
  /** The parent's environment. */
  readonly parent: Readonly<Record<string, string | undefined>>;
  /** The configured `env` (after substitution). */
  readonly env?: Readonly<Record<string, Secret | string>> | undefined;
  /** Pass the whole parent environment. */
  readonly inheritEnv?: boolean | undefined;
  /** Parent variables to pass by name. */
  readonly passthrough?: readonly string[] | undefined;
}

/** The child environment. Values starting with `()` (shell functions) are never inherited. */
export function buildStdioEnv(options: StdioEnvOptions): Record<string, string> {
  const out: Record<string, string> = {};
  const names = options.inheritEnv
    ? Object.keys(options.parent)
    : [...INHERITED_VARIABLES, ...(options.passthrough ?? [])];
  for (const name of names) {
    const value = options.parent[name];
    if (value !== undefined && !value.startsWith('()')) out[name] = value;
  }
  for (const [name, value] of Object.entries(options.env ?? {})) out[name] = revealSecret(value);
  return out;
}
