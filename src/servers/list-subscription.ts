/**
 * A downstream server's list changes on protocol 2026-07-28 (SEP-2575): the revision has no
 * unsolicited message outside a request, so a client learns that a server's tools, prompts or
 * resources changed only on a `subscriptions/listen` stream it keeps open. The SDK client's
 * `listen()` dispatches what arrives there to the notification handlers a 2025-11-25 session's
 * `notifications/…/list_changed` reach, so {@link ServerConnection}'s handlers serve both eras.
 *
 * @module
 */
import type { Client, SubscriptionFilter } from '@modelcontextprotocol/client';
import type { Logger } from '../logger.js';

/** How many times a stream the server ended is opened again, per connection. */
export const MAX_RELISTENS = 5;

/**
 * Open a `subscriptions/listen` stream on `client`'s modern connection for the lists whose
 * `listChanged` the server declares (nothing on a 2025-11-25 connection, or when it declares
 * none); resolves once the server acknowledged it, or could not open it (`timeoutMs` bounds the
 * wait for the acknowledgement). A stream the server ends or loses is opened again (at most
 * {@link MAX_RELISTENS} times) after `onLost`: what changed meanwhile was not heard, so the caller
 * drops its caches.
 */
export async function followListChanges(
  client: Client,
  name: string,
  options: { readonly logger: Logger; readonly timeoutMs: number; readonly onLost: () => void },
): Promise<void> {
  if (client.getProtocolEra() !== 'modern') return;
  const filter = filterOf(client);
  if (!filter) return;
  let relistens = 0;
  const open = async (): Promise<void> => {
    try {
      const subscription = await client.listen(filter, { timeout: options.timeoutMs });
      void subscription.closed.then((how) => {
        if (how === 'local' || !client.transport) return;
        options.onLost();
        if (relistens++ < MAX_RELISTENS) void open();
      });
    } catch (error) {
      // A server that refuses or cannot hold the stream: its lists are re-read only on a new
      // connection, as with a 2025-11-25 server that never announces changes.
      if (!client.transport) return;
      options.logger.debug(`server "${name}" did not open a subscriptions/listen stream`, {
        server: name,
        error: error instanceof Error ? error.name : 'error',
      });
    }
  };
  await open();
}

/** The filter of the lists `client`'s server says it announces changes of, or `undefined`. */
function filterOf(client: Client): SubscriptionFilter | undefined {
  const capabilities = client.getServerCapabilities();
  const filter: SubscriptionFilter = {
    ...(capabilities?.tools?.listChanged ? { toolsListChanged: true } : {}),
    ...(capabilities?.prompts?.listChanged ? { promptsListChanged: true } : {}),
    ...(capabilities?.resources?.listChanged ? { resourcesListChanged: true } : {}),
  };
  return Object.keys(filter).length > 0 ? filter : undefined;
}
