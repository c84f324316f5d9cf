/**
 * A login handed over instead of asked for (`auth login --no-wait`, or a command that could not
 * ask): what is printed so that a person completes it. Kept apart from the `auth` commands, so
 * that reporting an error does not load them.
 *
 * @module
 */
import type { AuthorizationRequiredError } from '../errors.js';

/** The JSON fields of a handed-over login (see {@link AuthorizationRequiredError}). */
export function handOverJson(error: AuthorizationRequiredError): Record<string, string> {
  return {
    server: error.server,
    issuer: error.issuer,
    authorization_url: error.authorizationUrl,
    expires_at: new Date(error.expiresAt).toISOString(),
  };
}

/** What a person does with a handed-over login. */
export function handOverText(error: AuthorizationRequiredError): string {
  const minutes = Math.max(1, Math.round((error.expiresAt - Date.now()) / 60_000));
  return [
    `Open this URL in a browser and approve the access (within ${minutes} min):`,
    `  ${error.authorizationUrl}`,
    'Then copy the address the browser ends on (it may show an error page) and run:',
    "  mcp-agent auth complete 'ADDRESS'",
  ].join('\n');
}
