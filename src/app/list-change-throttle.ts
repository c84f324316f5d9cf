/**
 * The pace of the list changes `serve` passes on. A downstream server may announce
 * `notifications/…/list_changed` as often as it likes, and each announcement reaches every
 * session and listen stream it concerns, each of whose clients may then list again: a server
 * that floods would have `serve` flood its callers, and them flood it. So each kind of list (per
 * principal, for a caller's own servers) is announced at most once per window: the first change
 * at once, any more during the window as one at its end, so the last change is never lost.
 *
 * @module
 */
import type { ListKind } from '../servers/registry.js';

/** The window, in milliseconds, of {@link throttleListChanges} by default. */
export const LIST_CHANGE_WINDOW_MS = 1_000;

/** Throttled list changes: pass them on with `announce`; `close` drops what is still pending. */
export interface ListChangeThrottle {
  announce(kind: ListKind, principal?: string): void;
  close(): void;
}

/** `send` each list change at most once per `windowMs` per kind and principal (see the module). */
export function throttleListChanges(
  send: (kind: ListKind, principal?: string) => void,
  windowMs = LIST_CHANGE_WINDOW_MS,
): ListChangeThrottle {
  /** The open windows, and whether a change came during each. */
  const windows = new Map<string, { timer: ReturnType<typeof setTimeout>; again: boolean }>();
  const open = (key: string, kind: ListKind, principal: string | undefined) => {
    send(kind, principal);
    const timer = setTimeout(() => {
      const window = windows.get(key);
      windows.delete(key);
      if (window?.again) open(key, kind, principal);
    }, windowMs);
    timer.unref();
    windows.set(key, { timer, again: false });
  };
  return {
    announce(kind, principal) {
      const key = JSON.stringify([kind, principal ?? null]);
      const window = windows.get(key);
      if (window) window.again = true;
      else open(key, kind, principal);
    },
    close() {
      for (const { timer } of windows.values()) clearTimeout(timer);
      windows.clear();
    },
  };
}
