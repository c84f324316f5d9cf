/**
 * The CLI's way of getting a user's consent for a login: the library's
 * {@link interactiveConsent} on the CLI's stderr and stdin, its messages naming the CLI's flags.
 *
 * @module
 */
import { interactiveConsent } from '../client/consent-interactive.js';
import type { Consent } from '../oauth/consent.js';
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
  return interactiveConsent({
    output: out.progressStream(),
    input: io.stdin,
    noBrowser: options.noBrowser,
    device: options.device,
    openBrowser: io.openBrowser,
    env: io.env,
    platform: io.platform,
    hints: { device: 'log in with --device', noBrowser: '--no-browser' },
  });
}
