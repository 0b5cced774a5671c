import { uartMs, type TimingModel } from '../chip/flash-timing';

/** Waits `ms`, or less if `signal` aborts first (a reset cuts any wait short). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (ms <= 0 || signal?.aborted) return Promise.resolve();
  return new Promise((r) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      r();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits until `performance.now()` reaches `deadline`, or until `signal` aborts (a reset or power
 * loss: whatever the chip was busy with, e.g. a WRITE_REG delay_us of minutes, is gone). Timers
 * alone overshoot by about a millisecond each, which over thousands of replies would charge the
 * device for time the model does not spend; the last stretch yields with setImmediate instead
 * (the host keeps running).
 */
export async function sleepUntil(deadline: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    if (signal?.aborted) return;
    const left = deadline - performance.now();
    if (left <= 0) return;
    if (left > 2) await sleep(left - 1.5, signal);
    else await new Promise((r) => setImmediate(r));
  }
}

/**
 * The device's time line, in performance.now() milliseconds: when the receive line, the CPU
 * (flash work) and the transmit line are next free. Work is charged by moving these marks; the
 * device only really waits when something becomes visible to the host (a reply's last byte).
 */
export class DeviceTimeline {
  private rxFree = 0;
  private cpuFree = 0;
  private txFree = 0;
  /** Flash time charged so far (erase + program), for benchmarks' floors. */
  flashMs = 0;
  /** Bytes that crossed the UART, per direction. */
  bytesIn = 0;
  bytesOut = 0;

  constructor(readonly model: TimingModel) {}

  /** Bytes arriving from the host now: returns when the last of them has been received. */
  receive(bytes: number, baud: number): number {
    this.bytesIn += bytes;
    this.rxFree = Math.max(this.rxFree, performance.now()) + uartMs(this.model, bytes, baud);
    return this.rxFree;
  }

  /** The CPU picks up a frame that was complete at `at`. */
  startWork(at: number): void {
    this.cpuFree = Math.max(this.cpuFree, at, performance.now());
  }

  /** CPU/flash busy time (erase, program, WRITE_REG delays). */
  spend(ms: number, flash = false): void {
    this.cpuFree = Math.max(this.cpuFree, performance.now()) + ms;
    if (flash) this.flashMs += ms;
  }

  /** Bytes sent now (after the work so far): returns when the last of them reaches the host. */
  transmit(bytes: number, baud: number): number {
    this.bytesOut += bytes;
    this.txFree = Math.max(this.txFree, this.cpuFree, performance.now()) + uartMs(this.model, bytes, baud);
    return this.txFree;
  }

  /** A reset: nothing in flight any more. */
  reset(): void {
    const now = performance.now();
    this.rxFree = this.cpuFree = this.txFree = now;
  }
}
