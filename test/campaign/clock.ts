import type { Clock } from '../../src/core/loader/clock';

/**
 * The loader's clock with every timeout and sleep multiplied by `scale`. Only used by campaigns
 * on the virtual board *without* the timing model: there the board answers in microseconds, so
 * dividing all loader timeouts by the same factor keeps their ratio to the board's response time
 * far above 1 (nothing times out that would not on a real link) while a dropped byte costs
 * milliseconds instead of seconds. Delay faults are scaled by the same factor (see faults.ts).
 * Campaigns with the timing model on use the real clock and the loader's own timeouts.
 */
export function scaledClock(scale: number): Clock {
  return {
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms * scale)),
    timer: (ms, fn) => {
      const t = setTimeout(fn, ms * scale);
      return () => clearTimeout(t);
    },
  };
}
