/**
 * The CLI's way of getting a user's consent for a login: the authorization URL printed on its own
 * line on stderr and opened in a browser where one can be (never through a shell, not under CI,
 * over SSH or without a display, not with `--no-browser`); the callback received on a loopback
 * port, or the final redirect URL pasted on stdin when the browser is on another machine; or the
 * device grant's code. A progress line runs while waiting.
 *
 * @module
 */
import { isMcpAgentError, McpAgentError } from '../errors.js';
import { printable } from '../logger.js';
import type { Consent, DeviceCodePrompt, LoginScopes, ReceiverRequest } from '../oauth/consent.js';
import { deferredRedirectUri } from '../oauth/deferred.js';
import { assertOpenableUrl, browserAvailability, openBrowser } from '../oauth/flows/browser.js';
import { startLoopbackReceiver } from '../oauth/flows/loopback.js';
import { createPasteReceiver } from '../oauth/flows/paste.js';
import { type Progress, startProgress } from '../oauth/flows/progress.js';
import type { CallbackReceiver } from '../oauth/flows/receiver.js';
import type { CliIo, Output } from './io.js';

/** Options of {@link cliConsent}. */
export interface CliConsentOptions {
  /** `--no-browser`: print the URL only. */
  readonly noBrowser?: boolean;
  /** `--device`: the device authorization grant. */
  readonly device?: boolean;
}

/** The {@link Consent} of one CLI run. */
export function cliConsent(io: CliIo, out: Output, options: CliConsentOptions = {}): Consent {
  let progress: Progress | undefined;
  let pasting = false;
  const stream = out.progressStream();

  const waitFor = (label: string, deadline: number) => {
    progress?.stop();
    progress = startProgress({ stream, label, deadline });
  };

  let turn: Promise<void> = Promise.resolve();
  let releaseTurn: () => void = () => {};

  const openReceivers = async (request: ReceiverRequest): Promise<CallbackReceiver> => {
    const receivers: CallbackReceiver[] = [];
    const loopback = await openLoopback(request);
    if (loopback) receivers.push(loopback);
    const redirectUri =
      loopback?.redirectUri ??
      (request.ports.length > 0 || request.redirectUris.length > 0
        ? deferredRedirectUri(request)
        : undefined);
    if (!redirectUri) {
      throw new McpAgentError(
        'OAUTH_CALLBACK',
        `The loopback redirect is disabled (oauth.loopback_ports is empty) and mcp.servers.${request.server}.auth.oauth.redirect_uri_options names no other redirect URI; list ports, add a redirect URI to paste, or log in with --device.`,
      );
    }
    // Pasting works alongside the loopback: the browser may be on another machine.
    if (io.stdin) {
      pasting = true;
      receivers.push(
        createPasteReceiver({
          redirectUri,
          input: io.stdin,
          timeoutMs: request.timeoutMs,
          prompt: (text) => out.note(text),
        }),
      );
    }
    if (receivers.length === 0) {
      throw new McpAgentError(
        'OAUTH_CALLBACK',
        `Server "${request.server}" redirects to ${redirectUri}, which can only be pasted back, and there is no input to paste it on; run the login in a terminal, or log in with --device.`,
      );
    }
    return combine(redirectUri, receivers);
  };

  /**
   * The loopback receiver, or `undefined` when there are no ports, or none can be listened on
   * and the address can be pasted instead (a warning says so); without input to paste on, the
   * failure, with the flag that still works.
   */
  const openLoopback = async (request: ReceiverRequest): Promise<CallbackReceiver | undefined> => {
    if (request.ports.length === 0) return undefined;
    try {
      return await startLoopbackReceiver({
        ports: request.ports,
        host: request.host,
        timeoutMs: request.timeoutMs,
      });
    } catch (error) {
      if (!isMcpAgentError(error, 'OAUTH_CALLBACK')) throw error;
      if (!io.stdin) {
        throw new McpAgentError('OAUTH_CALLBACK', `${error.message} Or log in with --device.`, {
          cause: error,
        });
      }
      out.warn(`${error.message} Paste the address the browser ends on instead.`);
      return undefined;
    }
  };

  return {
    mode: options.device ? 'device' : 'code',

    async openReceiver(request: ReceiverRequest): Promise<CallbackReceiver> {
      // One login at a time: two at once would share the progress line and stdin.
      const previous = turn;
      let release: () => void = () => {};
      turn = new Promise<void>((resolve) => {
        release = resolve;
      });
      await previous;
      releaseTurn = release;
      try {
        return await openReceivers(request);
      } catch (error) {
        releaseTurn();
        throw error;
      }
    },

    async showAuthorizationUrl(url, info) {
      const checked = assertOpenableUrl(url.href);
      out.note(`${asking(info)} at ${info.issuer}, open this URL in a browser:`);
      out.note(checked.href);
      const availability = options.noBrowser
        ? { ok: false as const, reason: '--no-browser' }
        : io.openBrowser
          ? { ok: true as const }
          : browserAvailability(io.env as NodeJS.ProcessEnv, io.platform ?? process.platform);
      if (availability.ok) {
        const open =
          io.openBrowser ??
          ((target: URL) =>
            openBrowser(target, {
              env: io.env as NodeJS.ProcessEnv,
              platform: io.platform ?? process.platform,
            }));
        // Not awaited: the callback may arrive before the browser (or launcher) is done.
        void open(checked).then(
          (opened) => {
            if (!opened) out.note('(The browser could not be opened; open the URL yourself.)');
          },
          () => out.note('(The browser could not be opened; open the URL yourself.)'),
        );
      } else {
        out.note(`(Not opening a browser: ${availability.reason}.)`);
      }
      if (pasting) {
        out.note(
          'If the browser is on another machine, paste the address it ends on (starting with the redirect URI) here and press Enter.',
        );
      }
      waitFor(`Waiting for the authorization of "${info.server}"`, info.deadline);
    },

    showDeviceCode(prompt: DeviceCodePrompt) {
      out.note(`${asking(prompt)} at ${prompt.issuer}, visit:`);
      out.note(assertOpenableUrl(prompt.verificationUri).href);
      out.note(`and enter the code: ${printable(prompt.userCode)}`);
      if (prompt.verificationUriComplete) {
        out.note('Or open this URL, which carries the code:');
        out.note(assertOpenableUrl(prompt.verificationUriComplete).href);
      }
      waitFor(
        `Waiting for the device code of "${prompt.server}" to be confirmed`,
        prompt.expiresAt,
      );
    },

    finished(outcome) {
      progress?.stop(outcome === 'ok' ? 'Authorization received.' : undefined);
      progress = undefined;
      releaseTurn();
    },
  };
}

/**
 * How a login prompt starts: the server and the scopes asked for, and for a step-up the scopes
 * the server wants in addition.
 */
function asking(info: { server: string } & Partial<LoginScopes>): string {
  const scopes = (list: readonly string[]) => printable(list.join(' '));
  if (info.added && info.added.length > 0) {
    return `Server "${info.server}" asks for more access (${scopes(info.added)}); to authorize it`;
  }
  const wanted = info.scopes && info.scopes.length > 0 ? ` (scopes: ${scopes(info.scopes)})` : '';
  return `To authorize server "${info.server}"${wanted}`;
}

/** One receiver out of several: the first callback wins; closing closes them all. */
function combine(redirectUri: string, receivers: readonly CallbackReceiver[]): CallbackReceiver {
  return {
    redirectUri,
    wait(expectedState) {
      const waits = receivers.map((receiver) => receiver.wait(expectedState));
      // A receiver that gives up (stdin at its end) does not end the others.
      return new Promise<URL>((resolve, reject) => {
        let failures = 0;
        for (const wait of waits) {
          wait.then(resolve, (error: unknown) => {
            failures += 1;
            if (failures === waits.length) reject(error);
          });
        }
      });
    },
    async close() {
      await Promise.all(receivers.map((receiver) => receiver.close()));
    },
  };
}
