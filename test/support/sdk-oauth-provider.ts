/**
 * An `OAuthClientProvider` for the MCP SDK clients (v1 `@modelcontextprotocol/sdk` and v2
 * `@modelcontextprotocol/client` take the same shape): everything in memory, and the "browser"
 * is test/support/browser.ts walking the authorization URL to a redirect URI nothing listens on.
 */

import type { OAuthDiscoveryState } from '@modelcontextprotocol/sdk/client/auth.js';
import type {
  OAuthClientInformationMixed,
  OAuthClientMetadata,
  OAuthTokens,
} from '@modelcontextprotocol/sdk/shared/auth.js';
import { followAuthorization } from './browser.js';

/** A redirect URI nothing listens on: the walk stops there and reads the code. */
export const SDK_REDIRECT_URI = 'http://127.0.0.1:53682/callback';

/** The provider of a test: registration, tokens and PKCE verifier in memory. */
export class TestOAuthProvider {
  client: OAuthClientInformationMixed | undefined;
  saved: OAuthTokens | undefined;
  verifier = '';
  readonly authorizationUrls: URL[] = [];
  code: string | undefined;
  /** Where the last authorization ended (the redirect URI with `code` or `error`). */
  lastRedirect: URL | undefined;

  readonly clientName: string;

  constructor(clientName = 'SDK interop test') {
    this.clientName = clientName;
  }

  get redirectUrl(): string {
    return SDK_REDIRECT_URI;
  }

  get clientMetadata(): OAuthClientMetadata {
    return {
      client_name: this.clientName,
      redirect_uris: [SDK_REDIRECT_URI],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }

  clientInformation() {
    return this.client;
  }

  saveClientInformation(info: OAuthClientInformationMixed) {
    this.client = info;
  }

  tokens() {
    return this.saved;
  }

  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens;
  }

  async redirectToAuthorization(url: URL) {
    this.authorizationUrls.push(url);
    const result = await followAuthorization(url, { stopAtRedirectUri: SDK_REDIRECT_URI });
    this.lastRedirect = result.finalUrl;
    this.code = result.finalUrl.searchParams.get('code') ?? undefined;
  }

  saveCodeVerifier(verifier: string) {
    this.verifier = verifier;
  }

  codeVerifier() {
    return this.verifier;
  }

  /** What discovery found (SDK v2 binds the callback to the authorization server it chose). */
  discovery: OAuthDiscoveryState | undefined;

  saveDiscoveryState(state: OAuthDiscoveryState) {
    this.discovery = state;
  }

  discoveryState() {
    return this.discovery;
  }

  /** The code of the last authorization, once. */
  takeCode(): string {
    const code = this.code;
    this.code = undefined;
    if (!code) throw new Error('no authorization code');
    return code;
  }
}
