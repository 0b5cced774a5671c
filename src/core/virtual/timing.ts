/**
 * Optional timing model (off by default; benchmarks turn it on).
 *
 * UART: 10 bits per byte (start + 8 data + stop: the ROM loader's 8N1) at the current baud,
 * in both directions: a frame has been received only once its last byte has crossed the line,
 * and a reply reaches the host only once its last byte has been sent.
 *
 * Flash: the ROM loader has no flasher stub's double buffering (esptool write_flash --no-stub): it erases the
 * whole region on FLASH_BEGIN / FLASH_DEFL_BEGIN before replying, and inflates, programs and
 * read-back-verifies each DATA block before ACKing it. Since the host waits for each reply, wire
 * time and flash time add up. The spec gives only the tool timeouts (30 s/MB erase, 40 s/MB write,
 * esptool's loader.py), which are upper bounds, not typical times; UNCONFIRMED: the erase and
 * page-program times
 * below are typical datasheet values of the 4–8 MB SPI NOR parts on Pycom modules (4 KiB sector
 * erase ~45 ms, 256-byte page program ~0.7 ms).
 */
export interface TimingModel {
  bitsPerByte: number;
  sectorEraseMs: number;
  pageProgramMs: number;
}

export const DEFAULT_TIMING: TimingModel = {
  bitsPerByte: 10,
  sectorEraseMs: 45,
  pageProgramMs: 0.7,
};

export function uartMs(t: TimingModel, bytes: number, baud: number): number {
  return (bytes * t.bitsPerByte * 1000) / baud;
}

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
