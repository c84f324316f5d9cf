/** A clock the test moves by hand, for code that takes an injected `now`. */
export interface ManualClock {
  /** The current time, epoch milliseconds; pass as `now`. */
  readonly now: () => number;
  /** Move the clock forward by `ms`. */
  advance(ms: number): void;
  /** Set the clock to `ms`. */
  set(ms: number): void;
}

/** A {@link ManualClock} starting at `start` (a fixed, recognizable epoch by default). */
export function manualClock(start = 1_700_000_000_000): ManualClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => {
      current += ms;
    },
    set: (ms) => {
      current = ms;
    },
  };
}
