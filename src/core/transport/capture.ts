import type { Transport } from './transport';
import { serialText } from './serial-text';
import { realClock, type Clock } from '../loader/clock';

/** When a capture may end before its cap. */
export interface CaptureEnd {
  /**
   * Called with the cleaned text so far (complete lines only) after each chunk; true ends the
   * capture at once (e.g. a boot-log line that settles the outcome).
   */
  until?: (text: string) => boolean;
  /** Ends the capture after this long without a byte (counted once `during` has finished). */
  silenceMs?: number;
  /** Timers for the cap and the silence (tests pass a fake one; never asserted on wall time). */
  clock?: Clock;
}

/**
 * Collects what the board prints for at most `ms` milliseconds (boot logs after a reset, REPL
 * output), optionally while `during` runs (the reset itself), so nothing printed early is missed.
 * With `end`, it stops earlier: when `end.until` accepts the text, or after `end.silenceMs` of
 * silence. The bytes are cleaned by `serialText` (no SLIP frames, colour codes or invisible bytes).
 */
export async function captureOutput(t: Transport, ms: number, during?: () => Promise<unknown>, end: CaptureEnd = {}): Promise<string> {
  const clock = end.clock ?? realClock;
  const chunks: Buffer[] = [];
  let done = false;
  let resolveFinished: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => {
    resolveFinished = resolve;
  });
  // Whatever arrives after the end (cap, silence or settling line) is not part of this capture.
  const finish = (): void => {
    done = true;
    resolveFinished();
  };
  let cancelSilence: (() => void) | undefined;
  let listening = false;
  const armSilence = (): void => {
    cancelSilence?.();
    if (listening && end.silenceMs !== undefined) cancelSilence = clock.timer(end.silenceMs, finish);
  };
  const check = (): void => {
    if (done || !end.until) return;
    const text = serialText(Buffer.concat(chunks));
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    if (complete && end.until(complete)) finish();
  };
  const off = t.onData((c) => {
    if (done) return;
    chunks.push(Buffer.from(c));
    armSilence();
    check();
  });
  let cancelCap: (() => void) | undefined;
  try {
    await during?.();
    listening = true;
    cancelCap = clock.timer(ms, finish);
    armSilence();
    check();
    await finished;
  } finally {
    done = true;
    cancelCap?.();
    cancelSilence?.();
    off();
  }
  return serialText(Buffer.concat(chunks));
}
