/**
 * The loopback redirect of a native app (RFC 8252 §7.3): a one-shot HTTP server on 127.0.0.1 that
 * receives the authorization response in the user's browser on this machine.
 *
 * - It binds once, to the first free port of `oauth.loopback_ports`, on 127.0.0.1 only
 *   (RFC 8252 §8.3); the redirect URI may still say `localhost`.
 * - Only `GET /callback` answers, and only with a `Host` of `127.0.0.1:PORT` or `localhost:PORT`
 *   (a DNS-rebinding defence).
 * - A callback whose `state` is not this flow's gets a failure page and is ignored, so a stray or
 *   forged request cannot end the flow (RFC 6749 §10.12).
 * - Pages are static: they reflect nothing from the request, and forbid caching, framing, scripts
 *   and referrers. They have the look of every page mcp-agent serves (`src/html.ts`).
 * - After the callback, a timeout, an abort or `close()`, every connection is closed with the
 *   server, so nothing keeps the process alive.
 *
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer } from 'node:http';
import { codedTypeError, McpAgentError } from '../../errors.js';
import { pageHeaders, textPage } from '../../html.js';
import {
  assertTimeout,
  type CallbackReceiver,
  callbackAbortedError,
  callbackClosedError,
  callbackTimeoutError,
  hasState,
  waitOnce,
} from './receiver.js';

/** Options of {@link startLoopbackReceiver}. */
export interface LoopbackReceiverOptions {
  /**
   * Ports to try, in order (`oauth.loopback_ports`); the first one free on 127.0.0.1 is used.
   * `0` lets the system pick one (RFC 8252 §7.3 allows any port). Empty: loopback is disabled.
   */
  readonly ports: readonly number[];
  /**
   * The host the redirect URI names. The server binds 127.0.0.1 either way; `localhost` is for
   * authorization servers that only accept that spelling (RFC 8252 §8.3 prefers the IP literal).
   * Default is `'127.0.0.1'`.
   */
  readonly host?: '127.0.0.1' | 'localhost';
  /** How long {@link CallbackReceiver.wait} waits for the callback, from the moment it is called. */
  readonly timeoutMs: number;
  /** Cancels the flow: the wait rejects and the server closes. */
  readonly signal?: AbortSignal;
}

/** The address the server binds, whatever the redirect URI says (RFC 8252 §8.3). */
const BIND_ADDRESS = '127.0.0.1';

/** The path of the redirect URI. */
const CALLBACK_PATH = '/callback';

/** Callbacks held while nobody waits yet (a browser faster than the caller); more get a 400. */
const MAX_HELD = 16;

const SUCCESS_PAGE = textPage(
  'Signed in',
  'Authorization is complete. You can close this tab and return to the terminal.',
);
const FAILURE_PAGE = textPage(
  'Sign-in did not complete',
  'This authorization response was not accepted. Return to the terminal for details.',
);
const BAD_REQUEST_PAGE = textPage('Bad request', 'This request is not accepted here.');
const NOT_FOUND_PAGE = textPage('Not found', 'There is nothing here.');
const METHOD_PAGE = textPage('Method not allowed', 'Only GET is accepted here.');

/**
 * Headers of every response: the shared page headers (nothing cached, framed, scripted, loaded,
 * sniffed or referred; no form), and the connection closed.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  ...pageHeaders({ forms: 'none', referrer: 'no-referrer' }),
  connection: 'close',
};

function send(res: ServerResponse, status: number, body: string, extra?: Record<string, string>) {
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    ...extra,
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

/**
 * The callback URL a request target names, or `undefined` if it is not `/callback`. Concatenated,
 * not resolved: `//evil/callback` or an absolute-form target cannot change the origin, they just
 * fail the path check.
 */
function targetOf(target: string | undefined, origin: string): URL | undefined {
  if (target === undefined) return undefined;
  try {
    const url = new URL(`${origin}${target}`);
    return url.origin === origin && url.pathname === CALLBACK_PATH ? url : undefined;
  } catch {
    return undefined;
  }
}

function assertPorts(ports: readonly number[]): void {
  for (const port of ports) {
    if (!(Number.isInteger(port) && port >= 0 && port <= 65_535)) {
      throw codedTypeError('ERR_INVALID_ARG_VALUE', 'ports must be integers from 0 to 65535');
    }
  }
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      server.off('listening', onListening);
      reject(error);
    };
    const onListening = () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host: BIND_ADDRESS });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** A server bound to the first free port of `ports`, handing its requests to `handler`. */
async function bindFirstFree(
  ports: readonly number[],
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ server: Server; port: number }> {
  for (const wanted of ports) {
    const server = createServer(handler);
    // Bound a slow or silent client; the browser sends its request at once.
    server.requestTimeout = 10_000;
    server.headersTimeout = 10_000;
    server.keepAliveTimeout = 1_000;
    try {
      return { server, port: await listen(server, wanted) };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EACCES') continue;
      throw new McpAgentError(
        'OAUTH_CALLBACK',
        `The loopback callback server could not listen on ${BIND_ADDRESS} (${code ?? 'unknown error'}).`,
        { cause: error },
      );
    }
  }
  throw new McpAgentError(
    'OAUTH_CALLBACK',
    `No loopback port is free (tried ${ports.join(', ')} from oauth.loopback_ports); free one of them or list others.`,
  );
}

type Outcome =
  | { readonly ok: true; readonly url: URL }
  | { readonly ok: false; readonly error: McpAgentError };

/**
 * Start the loopback callback server (RFC 8252 §7.3) on the first free port of `options.ports`.
 * Send its `redirectUri`, then `wait(state)`: it resolves with the callback URL once, and the
 * server closes. Rejects with `OAUTH_CALLBACK` when every port is busy or the list is empty.
 */
export async function startLoopbackReceiver(
  options: LoopbackReceiverOptions,
): Promise<CallbackReceiver> {
  const { ports, timeoutMs, signal } = options;
  const hostName = options.host ?? BIND_ADDRESS;
  assertTimeout(timeoutMs);
  assertPorts(ports);
  if (ports.length === 0) {
    throw new McpAgentError(
      'OAUTH_CALLBACK',
      'The loopback redirect is disabled (oauth.loopback_ports is empty).',
    );
  }
  if (signal?.aborted) throw callbackAbortedError(signal);

  let port = 0;
  let origin = '';
  let expected: string | undefined;
  let outcome: Outcome | undefined;
  let timer: NodeJS.Timeout | undefined;
  const held: { url: URL; res: ServerResponse }[] = [];
  let markDone: (outcome: Outcome) => void = () => {};
  const done = new Promise<Outcome>((resolve) => {
    markDone = resolve;
  });
  let closing: Promise<void> | undefined;

  const shutdown = (): Promise<void> =>
    (closing ??= closeServer(server).then(() => {
      if (outcome) markDone(outcome);
    }));

  /** End the flow with `result`; the server closes once `pending` (the final page) is sent. */
  const finish = (result: Outcome, pending?: ServerResponse): void => {
    if (outcome) return;
    outcome = result;
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
    for (const { res } of held.splice(0)) send(res, 400, FAILURE_PAGE);
    if (pending && !pending.writableFinished) pending.once('close', () => void shutdown());
    else void shutdown();
  };

  const onAbort = () => {
    if (signal) finish({ ok: false, error: callbackAbortedError(signal) });
  };

  const callback = (url: URL, res: ServerResponse): void => {
    if (!outcome && expected === undefined && held.length < MAX_HELD) {
      held.push({ url, res });
    } else if (outcome || expected === undefined || !hasState(url, expected)) {
      send(res, 400, FAILURE_PAGE);
    } else {
      const failed = url.searchParams.has('error') || !url.searchParams.has('code');
      send(res, failed ? 400 : 200, failed ? FAILURE_PAGE : SUCCESS_PAGE);
      finish({ ok: true, url }, res);
    }
  };

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const host = req.headers.host?.toLowerCase();
    const url = targetOf(req.url, origin);
    if (host !== `127.0.0.1:${port}` && host !== `localhost:${port}`) {
      send(res, 400, BAD_REQUEST_PAGE);
    } else if (url === undefined) {
      send(res, 404, NOT_FOUND_PAGE);
    } else if (req.method !== 'GET') {
      send(res, 405, METHOD_PAGE, { allow: 'GET' });
    } else {
      callback(url, res);
    }
  };

  const bound = await bindFirstFree(ports, handler);
  const server = bound.server;
  port = bound.port;
  origin = `http://${hostName}:${port}`;
  const redirectUri = `${origin}${CALLBACK_PATH}`;

  if (signal) {
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
  }

  return {
    redirectUri,
    wait: waitOnce((expectedState) => {
      expected = expectedState;
      const waiting = done.then((result) => {
        if (result.ok) return result.url;
        throw result.error;
      });
      if (!outcome) {
        timer = setTimeout(
          () => finish({ ok: false, error: callbackTimeoutError(timeoutMs) }),
          timeoutMs,
        );
        for (const early of held.splice(0)) callback(early.url, early.res);
      }
      return waiting;
    }),
    async close(): Promise<void> {
      finish({ ok: false, error: callbackClosedError() });
      await done;
    },
  };
}
