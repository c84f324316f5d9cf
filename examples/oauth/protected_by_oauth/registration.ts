// mcp-agent's examples/oauth/protected_by_oauth/registration.py: register a client with the
// authorization server of `authorization.issuer_url` (RFC 8414 metadata, RFC 7591 registration),
// for the MCP Inspector's redirect URIs, and keep its ID and secret in mcp_agent.secrets.yaml as
// the server's introspection client (needed when the authorization server issues opaque tokens).
// The file is created with mode 0600 when absent, and its other keys are kept; the secret is never
// printed. Run: `npx tsx registration.ts` in this folder.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadSettings } from 'mcp-agent-ts';
import * as oauth from 'oauth4webapi';
import { parseDocument } from 'yaml';

/** The MCP Inspector's callback URLs (replace them with your client's). */
export const INSPECTOR_REDIRECT_URIS = [
  'http://localhost:6274/oauth/callback',
  'http://localhost:6274/oauth/callback/debug',
];

/** What to register, with whom, and where to keep it. */
export interface RegistrationOptions {
  readonly issuer: string;
  /** The secrets file to write the client into. */
  readonly secretsPath: string;
  readonly clientName?: string;
  /** The scopes the client may ask for (space-separated). Default `mcp`. */
  readonly scope?: string;
  readonly redirectUris?: readonly string[];
}

/** Register the client and keep it in the secrets file; its client ID. */
export async function registerClient(options: RegistrationOptions): Promise<string> {
  const issuer = new URL(options.issuer);
  // Plain HTTP only for an authorization server on this machine (a development one).
  const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(issuer.hostname);
  const http =
    issuer.protocol === 'http:' && loopback ? { [oauth.allowInsecureRequests]: true } : {};
  const discovery = await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...http });
  const as = await oauth.processDiscoveryResponse(issuer, discovery);
  const metadata = {
    client_name: options.clientName ?? 'My mcp-agent-ts client',
    redirect_uris: [...(options.redirectUris ?? INSPECTOR_REDIRECT_URIS)],
    grant_types: ['authorization_code', 'refresh_token'],
    scope: options.scope ?? 'mcp',
    // client_secret_basic, as the MCP Inspector authenticates
    token_endpoint_auth_method: 'client_secret_basic',
  };
  const response = await oauth.dynamicClientRegistrationRequest(as, metadata, http);
  const client = await oauth.processDynamicClientRegistrationResponse(response);
  if (typeof client.client_secret !== 'string') {
    throw new Error('The authorization server registered the client without a secret.');
  }
  keepClient(options.secretsPath, client.client_id, client.client_secret);
  return client.client_id;
}

/** Set `authorization.introspection_client_id` and `…_secret` in the YAML file at `path`. */
function keepClient(path: string, clientId: string, clientSecret: string): void {
  const document = parseDocument(existsSync(path) ? readFileSync(path, 'utf8') : '');
  document.setIn(['authorization', 'introspection_client_id'], clientId);
  document.setIn(['authorization', 'introspection_client_secret'], clientSecret);
  writeFileSync(path, String(document), { mode: 0o600 });
  chmodSync(path, 0o600);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { issuer_url: issuer, required_scopes: scopes } =
    loadSettings().settings.authorization ?? {};
  if (!issuer) throw new Error('Set authorization.issuer_url in mcp_agent.config.yaml first.');
  const secretsPath = 'mcp_agent.secrets.yaml';
  const clientId = await registerClient({ issuer, secretsPath, scope: scopes?.join(' ') ?? 'mcp' });
  process.stdout.write(
    `Registered client ${clientId} at ${issuer}; its ID and secret are in mcp_agent.secrets.yaml (authorization.introspection_client_id and introspection_client_secret).\n`,
  );
}
