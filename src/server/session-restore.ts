/**
 * Restoring a 2025-11-25 Streamable HTTP session on a replica that did not open it: a fresh
 * SDK `Server` and transport are put in the state an `initialize` under the session's id would
 * have left them in, from the session's shared record (see `stores/sessions.ts`).
 *
 * The SDK (v2, `@modelcontextprotocol/server` 2.4 and `@modelcontextprotocol/node` 2.1) has no
 * public way to do this, so this module, and only this one, writes its internals: the web
 * transport's `sessionId` and `_initialized` (inside the Node transport's
 * `_webStandardTransport`), and the server's `_clientCapabilities`, `_clientVersion` and
 * `_negotiatedProtocolVersion`. {@link checkRestorable} fails loudly when an SDK upgrade renames
 * them; test/server/session-restore.test.ts calls it (decision 0004, "Risks").
 *
 * @module
 */
import type { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import type { ClientCapabilities, Implementation, Server } from '@modelcontextprotocol/server';

/** What a session was initialised with (a shared session record's fields). */
export interface NegotiatedSession {
  readonly sessionId: string;
  readonly protocolVersion: string;
  readonly clientInfo: Readonly<Record<string, unknown>>;
  readonly clientCapabilities: Readonly<Record<string, unknown>>;
}

/** The web transport's fields written here. */
interface TransportInternals {
  sessionId: string | undefined;
  _initialized: boolean;
}

/** The server's fields written here. */
interface ServerInternals {
  _clientCapabilities: ClientCapabilities | undefined;
  _clientVersion: Implementation | undefined;
  _negotiatedProtocolVersion: string | undefined;
}

/** The web transport inside the Node transport. */
function webTransportOf(transport: NodeStreamableHTTPServerTransport): TransportInternals {
  return (transport as unknown as { _webStandardTransport: TransportInternals })
    ._webStandardTransport;
}

/**
 * Throw unless `server` and `transport` (fresh, not yet initialised) have the internals
 * {@link restoreSession} writes, as the SDK versions this was written for have them.
 */
export function checkRestorable(
  server: Server,
  transport: NodeStreamableHTTPServerTransport,
): void {
  const web = webTransportOf(transport) as unknown as Record<string, unknown> | undefined;
  const missing: string[] = [];
  if (web === undefined || typeof web !== 'object') missing.push('transport._webStandardTransport');
  else if (web._initialized !== false || !('sessionId' in web)) {
    missing.push('transport._webStandardTransport._initialized/sessionId');
  }
  const fields = server as unknown as Record<string, unknown>;
  for (const name of ['_clientCapabilities', '_clientVersion', '_negotiatedProtocolVersion']) {
    if (!(name in fields)) missing.push(`server.${name}`);
  }
  if (missing.length > 0) {
    throw new Error(
      `The MCP SDK's internals that restoring a shared session writes have changed (${missing.join(', ')}); see src/server/session-restore.ts.`,
    );
  }
}

/**
 * Put `server` (connected to `transport`, nothing received yet) and `transport` in the state of
 * a session `session.sessionId` initialised with `session`'s version, client info and
 * capabilities. Throws when the SDK's internals are not as expected.
 */
export function restoreSession(
  server: Server,
  transport: NodeStreamableHTTPServerTransport,
  session: NegotiatedSession,
): void {
  checkRestorable(server, transport);
  const web = webTransportOf(transport);
  web.sessionId = session.sessionId;
  web._initialized = true;
  const internals = server as unknown as ServerInternals;
  internals._clientCapabilities = session.clientCapabilities as ClientCapabilities;
  internals._clientVersion = session.clientInfo as unknown as Implementation;
  internals._negotiatedProtocolVersion = session.protocolVersion;
}
