/**
 * How a login reaches the user: the port the token manager asks for it. The CLI implements it with
 * a loopback callback, a browser, a pasted redirect URL or the device grant; tests and the
 * conformance driver implement it headlessly.
 *
 * @module
 */
import type { CallbackReceiver } from './flows/receiver.js';

/** What a receiver should listen for, from `oauth.*` and the server's `redirect_uri_options`. */
export interface ReceiverRequest {
  /** The `mcp.servers` name. */
  readonly server: string;
  /** Loopback ports to try, in order (`oauth.loopback_ports`, or those of `redirect_uri_options`). */
  readonly ports: readonly number[];
  /** The host the redirect URI names (`localhost` when a redirect option says so). */
  readonly host: '127.0.0.1' | 'localhost';
  /** Redirect URIs configured for the server that are not loopback ones (paste targets). */
  readonly redirectUris: readonly string[];
  /** How long the user has, in milliseconds (`oauth.flow_timeout_seconds`). */
  readonly timeoutMs: number;
}

/** What a login asks for, to tell the user (see {@link Consent}). */
export interface LoginScopes {
  /** Every scope requested. */
  readonly scopes: readonly string[];
  /** A step-up (MCP "Step-Up Authorization Flow"): the scopes the server asked for in addition. */
  readonly added?: readonly string[] | undefined;
}

/** A device authorization the user must complete elsewhere (RFC 8628 §3.3). */
export interface DeviceCodePrompt extends Partial<LoginScopes> {
  readonly server: string;
  readonly issuer: string;
  readonly userCode: string;
  readonly verificationUri: string;
  readonly verificationUriComplete?: string | undefined;
  /** Epoch milliseconds. */
  readonly expiresAt: number;
}

/** How the user's consent is obtained. */
export interface Consent {
  /** `code`: authorization code flow through a {@link CallbackReceiver}; `device`: RFC 8628. */
  readonly mode: 'code' | 'device';
  /** Start receiving the callback; its `redirectUri` is registered and sent. */
  openReceiver(request: ReceiverRequest): Promise<CallbackReceiver>;
  /** Show the authorization URL to the user (print it, open a browser, or follow it headlessly). */
  showAuthorizationUrl(
    url: URL,
    info: { server: string; issuer: string; deadline: number } & Partial<LoginScopes>,
  ): Promise<void>;
  /** Show a device code to the user. */
  showDeviceCode(prompt: DeviceCodePrompt): void;
  /** Called when the wait ends (success or not), to clear a progress line. */
  finished?(outcome: 'ok' | 'failed'): void;
}
