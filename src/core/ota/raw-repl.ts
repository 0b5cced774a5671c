import { UserError } from '../errors';
import { realClock, type Clock } from '../loader/clock';

/**
 * MicroPython's raw REPL, enough to run one statement on a board in normal boot and read what it
 * printed: Ctrl-C (stop the running script), Ctrl-A (enter raw mode, the board answers
 * "raw REPL; CTRL-B to exit\r\n>"), the code, Ctrl-D (run; the board answers
 * `OK<stdout>\x04<stderr>\x04>`), Ctrl-B (back to the friendly REPL).
 */
export interface ReplLink {
  write(data: Uint8Array): Promise<void>;
  onData(listener: (chunk: Buffer) => void): () => void;
}

export interface RawReplResult {
  stdout: string;
  stderr: string;
  /** With `bannerMs`: what the friendly REPL printed after Ctrl-B up to its `>>> ` prompt (its banner); undefined when none came in time. */
  banner?: string;
}

const CTRL_A = 0x01;
const CTRL_B = 0x02;
const CTRL_C = 0x03;
const CTRL_D = 0x04;

class Reader {
  private buf = '';
  private waiter: (() => void) | undefined;
  private readonly off: () => void;
  constructor(link: ReplLink, private readonly clock: Clock) {
    this.off = link.onData((c) => {
      this.buf += c.toString('latin1');
      this.waiter?.();
    });
  }
  /** Resolves with everything up to and including `token`, consuming it. */
  async until(token: string, timeoutMs: number, what: string): Promise<string> {
    // The deadline is counted in the clock's timers (not Date.now()), so an injected clock that
    // fires timers at once makes a silent board cost no real time (the fuzzer feeds many).
    let expired = false;
    const cancel = this.clock.timer(timeoutMs, () => {
      expired = true;
      this.waiter?.();
    });
    try {
      return await this.wait(token, () => expired, what);
    } finally {
      cancel();
    }
  }
  private async wait(token: string, expired: () => boolean, what: string): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf(token);
      if (i >= 0) {
        const out = this.buf.slice(0, i + token.length);
        this.buf = this.buf.slice(i + token.length);
        return out;
      }
      if (expired()) {
        throw new UserError('E_REPL_TIMEOUT', `The board did not answer in time while ${what}; check that it runs MicroPython in normal boot (not download mode) on this port and that no other program holds the port.`);
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
      });
      this.waiter = undefined;
    }
  }
  discard(): void {
    this.buf = '';
  }
  close(): void {
    this.off();
  }
}

export interface RawReplOptions {
  timeoutMs?: number;
  /** Injected by tests and the fuzzer so timeouts and the settle pause need no real waiting. */
  clock?: Clock;
  /**
   * Wait this long (ms) after Ctrl-B for the friendly REPL's banner and prompt (MicroPython's
   * pyexec.c prints the banner when the friendly REPL starts); default 0, not waited for.
   */
  bannerMs?: number;
}

export async function rawReplExec(link: ReplLink, code: string, opts: RawReplOptions = {}): Promise<RawReplResult> {
  const timeoutMs = opts.timeoutMs ?? 3000;
  const clock = opts.clock ?? realClock;
  const r = new Reader(link, clock);
  try {
    // Two Ctrl-C: the first may only interrupt a blocking call inside the running script.
    await link.write(Uint8Array.of(0x0d, CTRL_C, CTRL_C));
    await clock.sleep(50);
    r.discard();
    await link.write(Uint8Array.of(CTRL_A));
    await r.until('raw REPL; CTRL-B to exit\r\n>', timeoutMs, 'entering the raw REPL');
    await link.write(Buffer.from(code, 'utf8'));
    await link.write(Uint8Array.of(CTRL_D));
    await r.until('OK', timeoutMs, 'waiting for the raw REPL to accept the code');
    const stdout = (await r.until('\x04', timeoutMs, 'running the code')).slice(0, -1);
    const stderr = (await r.until('\x04', timeoutMs, 'reading the error output')).slice(0, -1);
    await r.until('>', timeoutMs, 'waiting for the raw REPL prompt');
    await link.write(Uint8Array.of(CTRL_B));
    if (!opts.bannerMs) return { stdout, stderr };
    // A board that does not print it (not Pycom's firmware, a busy console) gives no banner: no evidence, not an error.
    const banner = await r.until('>>> ', opts.bannerMs, 'reading the banner').catch(() => undefined);
    return { stdout, stderr, ...(banner !== undefined ? { banner } : {}) };
  } finally {
    r.close();
  }
}

/** Asks the running firmware which slot the next OTA image must be written to (pycom-micropython-sigfox esp32/mods/modpycom.c, pycom.ota_slot()). */
export async function queryOtaSlot(link: ReplLink, opts: RawReplOptions = {}): Promise<number> {
  return (await queryOtaSlotAndBanner(link, opts)).slot;
}

/**
 * queryOtaSlot, and with `opts.bannerMs` the banner the firmware printed when the raw REPL was
 * left (what it says it is: `...; GPy with ESP32`), for the module check (workflows/module-evidence.ts).
 */
export async function queryOtaSlotAndBanner(link: ReplLink, opts: RawReplOptions = {}): Promise<{ slot: number; banner?: string }> {
  const res = await rawReplExec(link, 'import pycom; print(pycom.ota_slot())', opts);
  if (res.stderr.trim()) {
    const last = res.stderr.trim().split(/\r?\n/).pop();
    throw new UserError('E_REPL_ERROR', `The board could not report its OTA slot (${last}); this firmware may lack pycom.ota_slot(), so pass --slot.`);
  }
  const text = res.stdout.trim();
  const n = /^0x[0-9a-f]+$/i.test(text) ? parseInt(text.slice(2), 16) : /^\d+$/.test(text) ? parseInt(text, 10) : NaN;
  if (!Number.isSafeInteger(n)) {
    throw new UserError('E_REPL_ANSWER', `The board answered "${text.slice(0, 60)}" to pycom.ota_slot(), which is not an address; pass --slot.`);
  }
  return { slot: n, ...(res.banner !== undefined ? { banner: res.banner } : {}) };
}
