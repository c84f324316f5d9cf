// mcp-agent's examples/oauth/interactive_tool, server side: an MCP server with one tool,
// `github_org_search`, that searches GitHub through GitHub's MCP server. The first call needs a
// GitHub sign-in: the tool sends its URL to the calling client (an MCP URL-mode elicitation), the
// browser comes back to this process's loopback callback, and the call goes on. The token is kept
// in the token store, so later calls (and, with the `file` store, later runs) need no sign-in.
// Run: `npx tsx server.ts` in this folder, then `npx tsx client.ts` in another terminal.
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import {
  type AgentAuth,
  type AuthorizationRequiredError,
  authorizationRequiredIn,
  type CreateAgentAuthOptions,
  createAgentAuth,
  createApp,
  handOverConsent,
  type ToolCallContext,
} from 'mcp-agent-ts';
import * as z from 'zod';
import { isMain } from '../../model_providers/finder.js';
import { GITHUB, searchOrganization } from '../github.js';

/** Where the example's settings come from, and where it listens. */
export interface InteractiveServerOptions {
  readonly auth?: CreateAgentAuthOptions;
  /** The MCP server's port on 127.0.0.1 (default 8000; 0: any free one). */
  readonly port?: number;
}

/** The running example: its MCP endpoint (`…/mcp`, and `…/sse` for SSE clients). */
export interface InteractiveServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Sign-ins completed at the callback, for the tool calls waiting for one. */
class SignIns {
  #waiting: (() => void)[] = [];
  /** A promise settled by the next completed sign-in (take it before sending the URL out). */
  next(signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push(resolve);
      signal.addEventListener('abort', () => reject(signal.reason), { once: true });
    });
  }
  completed(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }
}

/** Start the example: the loopback callback, then the MCP server with `github_org_search`. */
export async function startServer(
  options: InteractiveServerOptions = {},
): Promise<InteractiveServer> {
  // Nobody can be asked in this process: a needed login comes back as an error carrying its URL.
  const auth = createAgentAuth({ ...options.auth, consent: handOverConsent() });
  const signIns = new SignIns();
  const callback = await listenForCallback(auth, signIns);
  // The app serves its own tool only: the `github` server is reached by the tool, not listed.
  const settings = { ...auth.settings, mcp: { ...auth.settings.mcp, servers: {} } };
  const app = await createApp({
    settings,
    setup: (builder) => {
      builder.tool(
        'github_org_search',
        { query: z.string() },
        ({ query }, context) => orgSearch(auth, signIns, query, context),
        { description: 'Search the repositories of a GitHub organization (signs in to GitHub).' },
      );
    },
  });
  const running = await app.listen({ host: '127.0.0.1', port: options.port ?? 8000 });
  return {
    url: running.url,
    async close() {
      await running.close();
      await app.close();
      await new Promise((done) => callback.close(done));
      await auth.close();
    },
  };
}

/** The tool: sign in to GitHub first if needed (through the caller's client), then search. */
async function orgSearch(
  auth: AgentAuth,
  signIns: SignIns,
  query: string,
  context: ToolCallContext,
): Promise<string> {
  try {
    await auth.server(GITHUB).login();
  } catch (error) {
    const login = authorizationRequiredIn(error);
    if (!login) throw error;
    if (!context.elicitUrl) {
      return `Sign in to GitHub first (${login.authorizationUrl}), then call github_org_search again.`;
    }
    const answer = await askToSignIn(login, signIns, context);
    if (answer !== 'accept') return 'The GitHub sign-in was declined; nothing was searched.';
  }
  return searchOrganization(auth, query);
}

/** Send the sign-in URL to the client and wait until the browser is back at the callback. */
async function askToSignIn(
  login: AuthorizationRequiredError,
  signIns: SignIns,
  context: ToolCallContext,
): Promise<string> {
  const until = AbortSignal.any([
    context.signal,
    AbortSignal.timeout(Math.max(0, login.expiresAt - Date.now())),
  ]);
  const signedIn = signIns.next(until);
  signedIn.catch(() => undefined);
  const elicitationId = randomUUID();
  const answer = await context.elicitUrl?.({
    url: login.authorizationUrl,
    message: 'Sign in to GitHub so that github_org_search can search for you.',
    elicitationId,
  });
  if (answer !== 'accept') return answer ?? 'cancel';
  await context.progress?.('Waiting for the GitHub sign-in to complete…');
  await signedIn;
  await context.elicitationComplete?.(elicitationId);
  return answer;
}

/**
 * The loopback callback GitHub sends the browser back to (`http://127.0.0.1:PORT/callback`, the
 * first of `oauth.loopback_ports`, as registered with the OAuth app): it completes the login
 * (`state` and `iss` checked, the code exchanged with the PKCE verifier) and echoes nothing.
 */
async function listenForCallback(auth: AgentAuth, signIns: SignIns): Promise<Server> {
  const port = auth.settings.oauth.loopback_ports[0] ?? 33418;
  const server = createServer((request, response) => {
    const address = new URL(request.url ?? '/', `http://127.0.0.1:${port}`);
    if (request.method !== 'GET' || address.pathname !== '/callback') {
      response.writeHead(404).end();
      return;
    }
    auth.completeLogin(GITHUB, address).then(
      () => {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('Signed in to GitHub. You can close this tab.');
        signIns.completed();
      },
      () => {
        response.writeHead(400, { 'content-type': 'text/plain' });
        response.end('This sign-in could not be completed. Call the tool again for a new one.');
      },
    );
  });
  await new Promise<void>((done) => server.listen(port, '127.0.0.1', done));
  return server;
}

if (isMain(import.meta.url)) {
  const server = await startServer();
  process.stdout.write(`github_oauth_demo listening on ${server.url}\n`);
  process.once('SIGINT', () => void server.close());
}
