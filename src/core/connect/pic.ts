import type { Transport } from '../transport/transport';
import type { Clock } from '../loader/clock';
import { fail } from './messages';

/**
 * The Pycom PIC protocol (pycom.md §2): on Pytrack/Pysense/Pyscan/Expansion Board 3/Pygate
 * the USB port ends at a PIC which, while the port is set to 5 data bits, takes commands
 * instead of bridging bytes to the ESP32. Byte sequences follow pypic.py v0.9.3 exactly.
 */
export const PIC_FW_VER = 0x11;
export const PIC_MIN_FIRMWARE = 6;
export const PIC_REPLY_TIMEOUT_MS = 250;

export type PicStep = { send: readonly number[] } | { wait: number };

/** MAGIC write: register = ((old & and) | or) ^ xor. */
function magic(addr: number, and: number, or: number, xor: number): PicStep {
  return { send: [0x02, addr & 0xff, addr >> 8, and, or, xor] };
}

const TRISA = 0x08c;
const PORTA = 0x00c;
const TRISC = 0x08e;
const PORTC = 0x00e;

/** RC5 drives the module's EN: output, low 200 ms, high 100 ms, back to input. */
export const PIC_RESET: readonly PicStep[] = [
  magic(TRISC, 0xdf, 0x00, 0x00),
  magic(PORTC, 0xdf, 0x00, 0x00),
  { wait: 200 },
  magic(PORTC, 0xff, 0x20, 0x00),
  { wait: 100 },
  magic(TRISC, 0xff, 0x20, 0x00),
];

/** RA5 low, RC0 (GPIO0/P2) output and low — left low on purpose — then the reset pulse. */
export const PIC_ENTER: readonly PicStep[] = [
  magic(TRISA, 0xdf, 0x00, 0x00),
  magic(PORTA, 0xdf, 0x00, 0x00),
  magic(TRISC, 0xfe, 0x00, 0x00),
  magic(PORTC, 0xfe, 0x00, 0x00),
  ...PIC_RESET,
];

/** RA5 high, RC0 back to input (GPIO0 released), then the reset pulse: the module boots its firmware. */
export const PIC_EXIT: readonly PicStep[] = [magic(TRISA, 0xdf, 0x00, 0x00), magic(PORTA, 0xff, 0x20, 0x00), magic(TRISC, 0xff, 0x01, 0x00), ...PIC_RESET];

export interface PicOptions {
  clock: Clock;
  replyTimeoutMs?: number;
}

/** Reads up to `n` raw bytes (PIC replies are not SLIP) within the timeout. */
function readRaw(t: Transport, n: number, timeoutMs: number, clock: Clock): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let len = 0;
    const done = (): void => {
      unsub();
      cancel();
      resolve(Buffer.concat(got).subarray(0, n));
    };
    const unsub = t.onData((chunk) => {
      got.push(chunk);
      len += chunk.length;
      if (len >= n) done();
    });
    const cancel = clock.timer(timeoutMs, done);
  });
}

async function runSteps(t: Transport, steps: readonly PicStep[], clock: Clock): Promise<void> {
  for (const s of steps) {
    if ('wait' in s) await clock.sleep(s.wait);
    else await t.write(Uint8Array.from(s.send));
  }
}

/** Asks the PIC for its firmware version (2-byte reply, little-endian). */
export async function picFirmwareVersion(t: Transport, opts: PicOptions): Promise<number | undefined> {
  const reply = readRaw(t, 2, opts.replyTimeoutMs ?? PIC_REPLY_TIMEOUT_MS, opts.clock);
  await t.write(Uint8Array.from([PIC_FW_VER]));
  const b = await reply;
  if (b.length === 0) return undefined;
  return b[0]! + 256 * (b[1] ?? 0);
}

/**
 * Switches the port to 5 data bits, checks the PIC firmware (≥ 6, as pypic requires), runs
 * `steps`, drains the PIC's leftovers and returns the port to 8N1 for the ROM loader.
 */
async function picSession(t: Transport, steps: readonly PicStep[], opts: PicOptions): Promise<number> {
  await t.setBaud(115200);
  await t.setDataBits(5);
  try {
    const version = await picFirmwareVersion(t, opts);
    if (version === undefined) throw fail('E_PIC_NO_ANSWER', { port: t.url });
    if (version < PIC_MIN_FIRMWARE) throw fail('E_PIC_FIRMWARE_OLD', { port: t.url, value: version });
    await runSteps(t, steps, opts.clock);
    await readRaw(t, 10, opts.replyTimeoutMs ?? PIC_REPLY_TIMEOUT_MS, opts.clock);
    return version;
  } finally {
    await t.setDataBits(8);
  }
}

export function picEnterDownload(t: Transport, opts: PicOptions): Promise<number> {
  return picSession(t, PIC_ENTER, opts);
}

export function picExitDownload(t: Transport, opts: PicOptions): Promise<number> {
  return picSession(t, PIC_EXIT, opts);
}
