/**
 * What can be told about opening a server before and while trying: a configuration that cannot
 * work, and lines on the connection that are not MCP.
 *
 * @module
 */
import { statSync } from 'node:fs';
import { isUsableServerUrl, type ServerSettings } from '../config/schema/servers.js';

/** Lines that are not JSON-RPC a server may write before its connection is given up. */
export const MAX_STRAY_LINES = 3;

/** A transport error about a message that could not be read (not JSON, not JSON-RPC). */
export function isUnreadableMessage(error: Error): boolean {
  return error instanceof SyntaxError || error.name === 'ZodError';
}

/** Why a server cannot be opened as configured, before trying. */
export function openingProblem(settings: ServerSettings): string | undefined {
  if (settings.transport === 'stdio') {
    if (!settings.command) return 'has no command';
    if (settings.cwd && !isDirectory(settings.cwd)) return 'has a cwd that is not a directory';
    return undefined;
  }
  if (!settings.url) return 'has no url';
  if (!URL.canParse(settings.url)) return 'has a url that is not a URL';
  const url = new URL(settings.url);
  if (!isUsableServerUrl(settings.url, settings.transport)) {
    const wanted = settings.transport === 'websocket' ? 'ws: or wss:' : 'http: or https:';
    return `has a url with the scheme "${url.protocol}", but transport ${settings.transport} needs ${wanted}`;
  }
  if (url.username || url.password) {
    return 'has credentials in its url, which are never sent; put them in headers instead';
  }
  return undefined;
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
