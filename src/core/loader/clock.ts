/**
 * Time as the loader sees it. Injected so tests can run reset strategies and timeouts without
 * real waiting (and without asserting on wall-clock time).
 */
export interface Clock {
  sleep(ms: number): Promise<void>;
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  timer(ms: number, fn: () => void): () => void;
}

export const realClock: Clock = {
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  timer: (ms, fn) => {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};

/** Sleeps do not wait (reset pulses in tests); timers still use real time so timeouts work. */
export const instantSleepClock: Clock = {
  sleep: () => Promise.resolve(),
  timer: realClock.timer,
};
