/**
 * The paste receiver: for when the browser's redirect cannot reach this machine (SSH, a container,
 * a phone), the user copies the final redirect URL from the address bar and pastes it on standard
 * input. The browser shows an error page for the unreachable redirect URI; the URL in its address
 * bar still carries the authorization response (RFC 6749 §4.1.2).
 *
 * What is pasted is never echoed back: hints say what is wrong with a line, not what it was.
 *
 * @module
 */
import { createInterface } from 'node:readline';
import { codedTypeError, McpAgentError } from '../../errors.js';
import {
  assertTimeout,
  type CallbackReceiver,
  callbackAbortedError,
  callbackClosedError,
  callbackTimeoutError,
  hasState,
  waitOnce,
} from './receiver.js';

/** Options of {@link createPasteReceiver}. */
export interface PasteReceiverOptions {
  /** The redirect URI sent in the authorization request; pasted URLs must start with it. */
  readonly redirectUri: string;
  /** Where the user pastes (standard input). Read line by line, from {@link CallbackReceiver.wait}. */
  readonly input: NodeJS.ReadableStream;
  /**
   * Shows the user a one-line hint when a pasted line is not the expected URL. The caller prints
   * the instructions (and the authorization URL) before waiting.
   */
  readonly prompt?: (text: string) => void;
  /** How long {@link CallbackReceiver.wait} waits, from the moment it is called. */
  readonly timeoutMs: number;
  /** Cancels the wait. */
  readonly signal?: AbortSignal;
}

/** `origin + pathname` of a URL: what must match the redirect URI. */
function endpointOf(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

/** The error of standard input ending before the URL was pasted. */
function endOfInputError(): McpAgentError {
  return new McpAgentError(
    'OAUTH_CALLBACK',
    "Input ended before the redirect URL was pasted; run the login again and paste the URL from the browser's address bar.",
  );
}

/**
 * A {@link CallbackReceiver} that reads the final redirect URL from `options.input`. A line that is
 * not a URL, is not the redirect URI, or carries another `state` gets a hint through `prompt` and
 * reading goes on; end of input rejects with `OAUTH_CALLBACK`.
 */
export function createPasteReceiver(options: PasteReceiverOptions): CallbackReceiver {
  const { input, prompt, timeoutMs, signal } = options;
  assertTimeout(timeoutMs);
  let redirect: URL;
  try {
    redirect = new URL(options.redirectUri);
  } catch (error) {
    throw codedTypeError('ERR_INVALID_ARG_VALUE', 'redirectUri must be an absolute URL', {
      cause: error,
    });
  }
  const endpoint = endpointOf(redirect);
  const hint = (text: string) => prompt?.(text);

  let closed = false;
  let stop: ((error: McpAgentError) => void) | undefined;

  const read = (expectedState: string): Promise<URL> =>
    new Promise<URL>((resolve, reject) => {
      if (signal?.aborted) return reject(callbackAbortedError(signal));
      if ((input as { readableEnded?: boolean }).readableEnded) return reject(endOfInputError());
      const lines = createInterface({
        input,
        terminal: false,
        crlfDelay: Number.POSITIVE_INFINITY,
      });
      let settled = false;
      const settle = (result: { url: URL } | { error: McpAgentError }) => {
        if (settled) return;
        settled = true;
        stop = undefined;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        lines.close();
        if ('url' in result) resolve(result.url);
        else reject(result.error);
      };
      const onAbort = () => {
        if (signal) settle({ error: callbackAbortedError(signal) });
      };
      const timer = setTimeout(() => settle({ error: callbackTimeoutError(timeoutMs) }), timeoutMs);
      stop = (error) => settle({ error });
      signal?.addEventListener('abort', onAbort, { once: true });
      lines.on('close', () => settle({ error: endOfInputError() }));
      lines.on('line', (line) => {
        const text = line.trim();
        if (settled || text === '') return;
        let url: URL;
        try {
          url = new URL(text);
        } catch {
          return hint(
            `That is not a URL; paste the whole address from the browser's address bar (it starts with ${endpoint}).`,
          );
        }
        if (endpointOf(url) !== endpoint) {
          return hint(
            `That is not the redirect address; paste the address the browser ended on (it starts with ${endpoint}).`,
          );
        }
        if (!hasState(url, expectedState)) {
          return hint(
            'That URL belongs to another sign-in attempt (its state does not match); paste the address from the most recent browser tab.',
          );
        }
        settle({ url });
      });
    });

  return {
    redirectUri: options.redirectUri,
    wait: waitOnce((expectedState) =>
      closed ? Promise.reject(callbackClosedError()) : read(expectedState),
    ),
    async close(): Promise<void> {
      closed = true;
      stop?.(callbackClosedError());
    },
  };
}
