/**
 * Opening the authorization URL in the user's browser, safely.
 *
 * The URL comes from an authorization server's metadata, so it is untrusted: it must be `https:`
 * (or `http:` on a loopback host) with no credentials and no character a shell would act on
 * (MCP security best practices, "authorization URL"; RFC 8252 §8.12). And it is never handed to a
 * shell: the launcher gets it as one argv element, with `shell: false` (CVE-2025-6514, where a
 * crafted `authorization_endpoint` ran commands through PowerShell).
 *
 * @module
 */
import { spawn as nodeSpawn } from 'node:child_process';
import { McpAgentError } from '../../errors.js';
import { isLoopbackHost } from '../protocol/network.js';

/** `child_process.spawn`, injected in tests. */
export type Spawn = typeof nodeSpawn;

/**
 * Characters refused anywhere in an authorization URL: whitespace, control and format characters
 * (Unicode Z, Cc, Cf: bidi overrides too), quotes, backticks and the shell metacharacters
 * `; | $ < > \`.
 */
const UNSAFE = /[\s\p{Z}\p{Cc}\p{Cf}"'`;|$<>\\]/u;

function unsafeUrl(message: string): McpAgentError {
  return new McpAgentError('OAUTH_AUTHORIZATION', message);
}

/**
 * Parse an authorization URL and refuse it unless it is safe to open (MCP security best practices;
 * RFC 8252 §8.12): `https:`, or `http:` to a loopback host (`localhost`, 127.0.0.0/8, `[::1]`);
 * no user name or password; no whitespace, control characters, quotes, backticks or shell
 * metacharacters. `&` is accepted in the query only, where it separates parameters (RFC 6749 §4.1.1).
 * Throws `OAUTH_AUTHORIZATION`; the message never repeats the URL.
 */
export function assertOpenableUrl(url: string): URL {
  const fix = "check the authorization server's authorization_endpoint";
  const characters = `The authorization URL contains whitespace, control characters, quotes or shell metacharacters; ${fix}.`;
  if (UNSAFE.test(url)) throw unsafeUrl(characters);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // No `cause`: Node's URL error carries the input.
    throw unsafeUrl(`The authorization URL is not a valid URL; ${fix}.`);
  }
  const secure =
    parsed.protocol === 'https:' ||
    (parsed.protocol === 'http:' && isLoopbackHost(parsed.hostname));
  if (!secure || parsed.hostname === '') {
    throw unsafeUrl(`The authorization URL must use https: (or http: on a loopback host); ${fix}.`);
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw unsafeUrl(`The authorization URL must not contain a user name or password; ${fix}.`);
  }
  const query = parsed.search;
  const outsideQuery = parsed.href.replace(query, '');
  if (UNSAFE.test(parsed.href) || outsideQuery.includes('&')) throw unsafeUrl(characters);
  return parsed;
}

/** Whether `value` of an environment variable is set and not `false`/`0`. */
function truthy(value: string | undefined): boolean {
  if (value === undefined) return false;
  const normalized = value.trim().toLowerCase();
  return normalized !== '' && normalized !== 'false' && normalized !== '0';
}

/** Platforms whose browser needs a graphical session (X11 or Wayland). */
const NEEDS_DISPLAY: ReadonlySet<NodeJS.Platform> = new Set([
  'linux',
  'freebsd',
  'openbsd',
  'netbsd',
]);

/** Whether `BROWSER` turns browser opening off. */
function browserDisabled(env: NodeJS.ProcessEnv): boolean {
  const value = env.BROWSER?.trim().toLowerCase();
  return value === 'none' || value === 'false';
}

/**
 * `BROWSER` when it names one executable (a name or path, no arguments, no shell syntax), else
 * `undefined`. A `%s` template, a command line or a colon-separated list is ignored.
 */
function browserOverride(env: NodeJS.ProcessEnv, platform: NodeJS.Platform): string | undefined {
  const value = env.BROWSER?.trim();
  if (!value || browserDisabled(env)) return undefined;
  // Backslashes and a drive colon are path syntax on Windows only; elsewhere `:` separates a list.
  const allowed = platform === 'win32' ? /^[\w.+@%,=/\\:-]+$/ : /^[\w.+@%,=/-]+$/;
  return value.length <= 4096 && allowed.test(value) ? value : undefined;
}

/**
 * Whether a browser can be opened here, and if not, why: not in CI (`CI` set and not
 * `false`/`0`), not over SSH (`SSH_CONNECTION`, `SSH_CLIENT`, `SSH_TTY`), not on Linux or BSD
 * without `DISPLAY` or `WAYLAND_DISPLAY` (unless `BROWSER` names a launcher), not when `BROWSER`
 * is `none` or `false`. The reason completes "Not opening a browser: …".
 */
export function browserAvailability(
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
): { ok: true } | { ok: false; reason: string } {
  if (browserDisabled(env)) return { ok: false, reason: 'BROWSER is set to none' };
  if (truthy(env.CI)) return { ok: false, reason: 'running in CI (CI is set)' };
  if (truthy(env.SSH_CONNECTION) || truthy(env.SSH_CLIENT) || truthy(env.SSH_TTY)) {
    return { ok: false, reason: 'this is an SSH session' };
  }
  if (
    NEEDS_DISPLAY.has(platform) &&
    !env.DISPLAY &&
    !env.WAYLAND_DISPLAY &&
    browserOverride(env, platform) === undefined
  ) {
    return {
      ok: false,
      reason: 'there is no graphical display (DISPLAY and WAYLAND_DISPLAY are unset)',
    };
  }
  return { ok: true };
}

/** Options of {@link openBrowser}. */
export interface OpenBrowserOptions {
  /** Default is `process.platform`. */
  readonly platform?: NodeJS.Platform;
  /** Read for `BROWSER` and, on Windows, `SystemRoot`. Default is `process.env`. */
  readonly env?: NodeJS.ProcessEnv;
  /** Default is `child_process.spawn`. */
  readonly spawn?: Spawn;
}

/** The launcher and its arguments for `href`: never a shell, the URL always one argument. */
function launcher(
  href: string,
  platform: NodeJS.Platform,
  env: NodeJS.ProcessEnv,
): { command: string; args: string[] } {
  const override = browserOverride(env, platform);
  if (override !== undefined) return { command: override, args: [href] };
  if (platform === 'darwin') return { command: 'open', args: [href] };
  if (platform === 'win32') {
    // rundll32 by full path: Windows searches the current directory before PATH. No cmd.exe, no
    // PowerShell: both reparse the command line.
    const root = env.SystemRoot ?? env.SYSTEMROOT ?? env.windir;
    const command =
      root && /^[A-Za-z]:\\[\w\\ .()-]*$/.test(root)
        ? `${root.replace(/\\+$/, '')}\\System32\\rundll32.exe`
        : 'rundll32';
    return { command, args: ['url.dll,FileProtocolHandler', href] };
  }
  return { command: 'xdg-open', args: [href] };
}

/**
 * Open `url` in the user's browser: `open` on macOS, `rundll32 url.dll,FileProtocolHandler` on
 * Windows, `xdg-open` elsewhere, or the executable `BROWSER` names. Never through a shell
 * (CVE-2025-6514): the URL is one argv element. Resolves `true` once the launcher has started,
 * `false` if it could not (missing, not permitted, `BROWSER=none`); rejects only for a URL that
 * {@link assertOpenableUrl} refuses.
 */
export async function openBrowser(url: URL, options: OpenBrowserOptions = {}): Promise<boolean> {
  const href = assertOpenableUrl(url.href).href;
  const env = options.env ?? process.env;
  const platform = options.platform ?? process.platform;
  if (browserDisabled(env)) return false;
  const spawn = options.spawn ?? nodeSpawn;
  const { command, args } = launcher(href, platform, env);
  return new Promise<boolean>((resolve) => {
    let child: ReturnType<Spawn>;
    try {
      child = spawn(command, args, {
        shell: false,
        stdio: 'ignore',
        detached: true,
        windowsHide: true,
      });
    } catch {
      resolve(false);
      return;
    }
    const onSpawn = () => {
      child.off('error', onError);
      // An error after the start (the launcher exiting badly) is not ours to report.
      child.on('error', () => {});
      child.unref();
      resolve(true);
    };
    const onError = () => {
      child.off('spawn', onSpawn);
      resolve(false);
    };
    child.once('spawn', onSpawn);
    child.once('error', onError);
  });
}
