/**
 * {@link interactiveConsent}: how a login reaches a person at a terminal (the {@link Consent} port
 * of the token manager), the CLI's own (`mcp-agent auth login`): the authorization URL written on
 * its own line and opened in a browser where one can be (never through a shell, not under CI,
 * over SSH or without a display); the callback received on a loopback port, or the address the
 * browser ends on pasted on an input when the browser is on another machine; or the device
 * grant's code (RFC 8628). A progress line runs while waiting.
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

/** Where {@link interactiveConsent} writes: `process.stderr`, or anything with `write`. */
export interface ConsentOutput {
  /** Write `text` (one or more whole lines). */
  write(text: string): unknown;
  /** A terminal gets a spinner; anything else a line now and then. */
  readonly isTTY?: boolean | undefined;
}

/** Options of {@link interactiveConsent}. */
export interface InteractiveConsentOptions {
  /** Where the prompts, the authorization URL and the progress line go (`process.stderr`). */
  readonly output: ConsentOutput;
  /**
   * Where the address the browser ends on can be pasted (`process.stdin`), for a browser on
   * another machine. Without it, only the loopback callback (or the device code) completes a login.
   */
  readonly input?: (NodeJS.ReadableStream & { isTTY?: boolean }) | undefined;
  /** Print the URL only, never open a browser. Default false. */
  readonly noBrowser?: boolean | undefined;
  /** Use the device authorization grant (RFC 8628) instead of a redirect. Default false. */
  readonly device?: boolean | undefined;
  /**
   * Opens an authorization URL in a browser. Default: the system's browser (never through a
   * shell), when one can be opened here (`BROWSER`, `CI`, SSH and the display are checked).
   */
  readonly openBrowser?: ((url: URL) => Promise<boolean>) | undefined;
  /** Read for `BROWSER`, `CI`, SSH and the display. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Default `process.platform`. */
  readonly platform?: NodeJS.Platform | undefined;
  /**
   * How the person asks for the alternatives, in messages: the CLI says `--device` and
   * `--no-browser`. Default: the options of this function.
   */
  readonly hints?: { readonly device: string; readonly noBrowser: string } | undefined;
}

const LIBRARY_HINTS = {
  device: 'log in with a device code (interactiveConsent({ device: true }))',
  noBrowser: 'noBrowser is set',
};

/**
 * The {@link Consent} of a person at a terminal: what `mcp-agent auth login` does (RFC 8252
 * loopback redirect, a pasted redirect address, or the RFC 8628 device code), writing to `output`.
 * One login at a time: a second waits for the first, since they share the output and the input.
 */
export function interactiveConsent(options: InteractiveConsentOptions): Consent {
  const hints = options.hints ?? LIBRARY_HINTS;
  const note = noteOn(options.output);
  const progress = progressOn(options.output);
  const turns = loginTurns();
  let pasting = false;
  const receivers = receiverOpener(options, note, hints.device, () => {
    pasting = true;
  });
  return {
    mode: options.device ? 'device' : 'code',
    openReceiver: (request: ReceiverRequest) => turns.take(() => receivers(request)),
    async showAuthorizationUrl(url, info) {
      const checked = assertOpenableUrl(url.href);
      note(`${asking(info)} at ${info.issuer}, open this URL in a browser:`);
      note(checked.href);
      launchBrowser(options, checked, hints.noBrowser, note);
      if (pasting) note(PASTE_HINT);
      progress.start(`Waiting for the authorization of "${info.server}"`, info.deadline);
    },
    showDeviceCode(prompt: DeviceCodePrompt) {
      showDeviceCode(prompt, note);
      progress.start(
        `Waiting for the device code of "${prompt.server}" to be confirmed`,
        prompt.expiresAt,
      );
    },
    finished(outcome) {
      progress.stop(outcome === 'ok' ? 'Authorization received.' : undefined);
      turns.release();
    },
  };
}

const PASTE_HINT =
  'If the browser is on another machine, paste the address it ends on (starting with the redirect URI) here and press Enter.';

/** Writes one line of text to `output` (a newline added when missing). */
function noteOn(output: ConsentOutput): (text: string) => void {
  return (text) => {
    output.write(text.endsWith('\n') ? text : `${text}\n`);
  };
}

/** The progress line of the login being waited for (one at a time). */
function progressOn(output: ConsentOutput): {
  start(label: string, deadline: number): void;
  stop(message?: string): void;
} {
  const stream = output as unknown as NodeJS.WritableStream & { isTTY?: boolean };
  let progress: Progress | undefined;
  return {
    start(label, deadline) {
      progress?.stop();
      progress = startProgress({ stream, label, deadline });
    },
    stop(message) {
      progress?.stop(message);
      progress = undefined;
    },
  };
}

/**
 * One login at a time: `take` opens a login's receivers once the login before it is `release`d
 * (or failed to open its own).
 */
function loginTurns(): {
  take(open: () => Promise<CallbackReceiver>): Promise<CallbackReceiver>;
  release(): void;
} {
  let turn: Promise<void> = Promise.resolve();
  let releaseTurn: () => void = () => {};
  return {
    async take(open) {
      const previous = turn;
      let release: () => void = () => {};
      turn = new Promise<void>((resolve) => {
        release = resolve;
      });
      await previous;
      releaseTurn = release;
      try {
        return await open();
      } catch (error) {
        release();
        throw error;
      }
    },
    release: () => releaseTurn(),
  };
}

/** The device grant's prompt (RFC 8628 §3.3): where to go and the code to enter there. */
function showDeviceCode(prompt: DeviceCodePrompt, note: (text: string) => void): void {
  note(`${asking(prompt)} at ${prompt.issuer}, visit:`);
  note(assertOpenableUrl(prompt.verificationUri).href);
  note(`and enter the code: ${printable(prompt.userCode)}`);
  if (prompt.verificationUriComplete) {
    note('Or open this URL, which carries the code:');
    note(assertOpenableUrl(prompt.verificationUriComplete).href);
  }
}

/** Open `url` in a browser when one can be opened here; say so when not (not awaited). */
function launchBrowser(
  options: InteractiveConsentOptions,
  url: URL,
  noBrowserReason: string,
  note: (text: string) => void,
): void {
  const env = (options.env ?? process.env) as NodeJS.ProcessEnv;
  const platform = options.platform ?? process.platform;
  const availability = options.noBrowser
    ? { ok: false as const, reason: noBrowserReason }
    : options.openBrowser
      ? { ok: true as const }
      : browserAvailability(env, platform);
  if (!availability.ok) {
    note(`(Not opening a browser: ${availability.reason}.)`);
    return;
  }
  const open = options.openBrowser ?? ((target: URL) => openBrowser(target, { env, platform }));
  const failed = () => note('(The browser could not be opened; open the URL yourself.)');
  // Not awaited: the callback may arrive before the browser (or launcher) is done.
  void open(url).then((opened) => {
    if (!opened) failed();
  }, failed);
}

/**
 * Opens the receivers of one login: the loopback one (when ports are configured and one is
 * free) and, with an input, pasting, which works alongside it (the browser may be on another
 * machine). Calls `onPaste` when pasting is offered.
 */
function receiverOpener(
  options: InteractiveConsentOptions,
  note: (text: string) => void,
  deviceHint: string,
  onPaste: () => void,
): (request: ReceiverRequest) => Promise<CallbackReceiver> {
  const input = options.input;
  return async (request) => {
    const receivers: CallbackReceiver[] = [];
    const loopback = await openLoopback(request, input !== undefined, note, deviceHint);
    if (loopback) receivers.push(loopback);
    const redirectUri =
      loopback?.redirectUri ??
      (request.ports.length > 0 || request.redirectUris.length > 0
        ? deferredRedirectUri(request)
        : undefined);
    if (!redirectUri) {
      throw new McpAgentError(
        'OAUTH_CALLBACK',
        `The loopback redirect is disabled (oauth.loopback_ports is empty) and mcp.servers.${request.server}.auth.oauth.redirect_uri_options names no other redirect URI; list ports, add a redirect URI to paste, or ${deviceHint}.`,
      );
    }
    if (input) {
      onPaste();
      receivers.push(
        createPasteReceiver({ redirectUri, input, timeoutMs: request.timeoutMs, prompt: note }),
      );
    }
    if (receivers.length === 0) {
      throw new McpAgentError(
        'OAUTH_CALLBACK',
        `Server "${request.server}" redirects to ${redirectUri}, which can only be pasted back, and there is no input to paste it on; run the login in a terminal, or ${deviceHint}.`,
      );
    }
    return combine(redirectUri, receivers);
  };
}

/**
 * The loopback receiver, or `undefined` when there are no ports, or none can be listened on
 * and the address can be pasted instead (a warning says so); without input to paste on, the
 * failure, with the alternative that still works.
 */
async function openLoopback(
  request: ReceiverRequest,
  canPaste: boolean,
  note: (text: string) => void,
  deviceHint: string,
): Promise<CallbackReceiver | undefined> {
  if (request.ports.length === 0) return undefined;
  try {
    return await startLoopbackReceiver({
      ports: request.ports,
      host: request.host,
      timeoutMs: request.timeoutMs,
    });
  } catch (error) {
    if (!isMcpAgentError(error, 'OAUTH_CALLBACK')) throw error;
    if (!canPaste) {
      throw new McpAgentError('OAUTH_CALLBACK', `${error.message} Or ${deviceHint}.`, {
        cause: error,
      });
    }
    note(`warning: ${error.message} Paste the address the browser ends on instead.`);
    return undefined;
  }
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
