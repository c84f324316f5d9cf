/**
 * Logging a caller in to a downstream server through their MCP client. When the caller has no
 * usable token, the token manager hands the login over ({@link AuthorizationRequiredError}: a
 * pending flow whose redirect is the agent's own callback route); the caller is asked to open the
 * URL with a URL-mode elicitation (MCP 2025-11-25) when the client can, and the call goes on once
 * the callback has stored the token — or, when it cannot, the call fails with the spec's
 * URL-elicitation-required error carrying the URL, and the client retries after the login. The
 * PKCE verifier and the client secret never leave the agent.
 *
 * @module
 */
import { type CallToolResult, UrlElicitationRequiredError } from '@modelcontextprotocol/server';
import { AuthorizationRequiredError } from '../errors.js';
import type { ServerAuth } from '../oauth/server-auth.js';
import type { ToolCallContext } from '../server/mcp-server.js';
import { InputRequiredSignal, type ModernInput } from '../server/modern-input.js';

/** The hand-over in `error` or its causes, if any. */
export function handedOver(error: unknown): AuthorizationRequiredError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof AuthorizationRequiredError) return current;
    current = current.cause;
  }
  return undefined;
}

/**
 * Wait until the sign-in handed over as `handed` has stored a token: a record obtained since the
 * flow started (a token the server has just refused does not count), or the flow expires, or the
 * call is aborted.
 */
async function loggedIn(
  auth: ServerAuth,
  handed: AuthorizationRequiredError,
  context: ToolCallContext,
  pollMs: number,
): Promise<boolean> {
  let polls = 0;
  while (Date.now() < handed.expiresAt && !context.signal.aborted) {
    // The callback records how the flow ended (on any replica): a key read or two per poll.
    const status = await auth.signInStatus(handed).catch(() => 'waiting' as const);
    if (status === 'ok') return true;
    if (status === 'failed') return false;
    await new Promise((done) => setTimeout(done, pollMs));
    polls += 1;
    // A progress notification every ~10 s keeps the client's request timeout from running out.
    if (polls % Math.max(1, Math.round(10_000 / pollMs)) === 0) {
      await context.progress?.('waiting for the sign-in to complete').catch(() => {});
    }
  }
  return false;
}

/** What a 2026-07-28 sign-in's `requestState` carries: ids only. */
interface SignInPayload {
  readonly server: string;
  readonly flow: string;
}

function isSignInOf(payload: unknown, server: string): boolean {
  return (payload as Partial<SignInPayload> | undefined)?.server === server;
}

/**
 * Whether `context` is the 2026-07-28 retry of a sign-in to `server` whose page the client
 * declined or dismissed (nothing is to be done then).
 */
export function signInDeclined(
  server: string,
  context: { readonly modern?: ModernInput | undefined },
): boolean {
  const resumed = context.modern?.resumed;
  return (
    resumed !== undefined && isSignInOf(resumed.payload, server) && resumed.answer !== 'accept'
  );
}

function notAccepted(server: string): CallToolResult {
  return {
    isError: true,
    content: [
      { type: 'text', text: `The sign-in to ${server} was not accepted; nothing was done.` },
    ],
  };
}

/**
 * Run `call`; when it needs the caller to log in to `server`, ask the client to open the URL (or
 * fail with the URL-elicitation-required error), wait for the login, and run it once more.
 */
export async function withDelegatedLogin(
  server: string,
  auth: ServerAuth | undefined,
  context: ToolCallContext,
  /** The sign-in check's URL for a flow (a caller's, authorization on); else the AS's URL. */
  connectUrl: (flowId: string) => string | undefined,
  call: () => Promise<CallToolResult>,
  options: { pollMs?: number } = {},
): Promise<CallToolResult> {
  // A 2026-07-28 retry whose sign-in page was declined or dismissed: nothing is done.
  if (signInDeclined(server, context)) return notAccepted(server);
  try {
    return await call();
  } catch (error) {
    const handed = handedOver(error);
    if (!handed || !auth) throw error;
    return (await signInFor(server, handed, auth, context, connectUrl, options)) ?? call();
  }
}

/**
 * The caller's half of the login `handed` over for `server`: ask the client to open the URL (or
 * throw the URL-elicitation-required error) and wait until the login has stored a token.
 * `undefined` once it has (run the call again); else the result telling the caller it did not.
 */
export async function signInFor(
  server: string,
  handed: AuthorizationRequiredError,
  auth: ServerAuth,
  context: ToolCallContext,
  connectUrl: (flowId: string) => string | undefined,
  options: { pollMs?: number } = {},
): Promise<CallToolResult | undefined> {
  const message = `Sign in to ${server} so that the agent can use it on your behalf.`;
  const elicitation = {
    mode: 'url' as const,
    url: (context.caller ? connectUrl(handed.flowId) : undefined) ?? handed.authorizationUrl,
    message,
    elicitationId: handed.flowId,
  };
  // On 2026-07-28 the call ends asking the client to open the page and retry (a fresh state
  // each time, so a retry while the sign-in is still pending gets the page again).
  if (context.modern) {
    const payload: SignInPayload = { server, flow: handed.flowId };
    throw new InputRequiredSignal(
      await context.modern.urlInput({ url: elicitation.url, message }, payload),
    );
  }
  // v2's errors keep `message` as given: the client adds its own "MCP error -32042: " prefix.
  if (!context.elicitUrl) throw new UrlElicitationRequiredError([elicitation], message);
  const answer = await context.elicitUrl(elicitation);
  if (answer !== 'accept') return notAccepted(server);
  if (!(await loggedIn(auth, handed, context, options.pollMs ?? 500))) {
    return {
      isError: true,
      content: [
        {
          type: 'text',
          text: `The sign-in to ${server} did not complete; call again to retry.`,
        },
      ],
    };
  }
  await context.elicitationComplete?.(handed.flowId).catch(() => {});
  return undefined;
}
