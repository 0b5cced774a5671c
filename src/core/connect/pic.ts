import type { Transport } from '../transport/transport';
import type { Clock } from '../loader/clock';
import { fail } from './messages';

/**
 * The Pycom PIC protocol (Pycom's esp32/tools/fw_updater/pypic.py in pycom-micropython-sigfox): on
 * Pytrack/Pysense/Pyscan/Expansion Board 3/Pygate
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

/**
 * Reads raw bytes (PIC replies are not SLIP) until `timeoutMs`, or until at least `enough` bytes
 * arrived and the line then stayed quiet for `quietMs`; at most `max` bytes are kept. Waiting for
 * the quiet gap is what lets a 2-byte PIC reply be told apart from the start of longer output.
 */
function readRaw(t: Transport, timeoutMs: number, clock: Clock, enough: number, quietMs: number, max = 64): Promise<Buffer> {
  return new Promise((resolve) => {
    const got: Buffer[] = [];
    let len = 0;
    let cancelQuiet: (() => void) | undefined;
    const done = (): void => {
      unsub();
      cancel();
      cancelQuiet?.();
      resolve(Buffer.concat(got).subarray(0, max));
    };
    const unsub = t.onData((chunk) => {
      got.push(chunk);
      len += chunk.length;
      if (len >= max) return done();
      if (len >= enough) {
        cancelQuiet?.();
        cancelQuiet = clock.timer(quietMs, done);
      }
    });
    const cancel = clock.timer(timeoutMs, done);
  });
}

/** How long the line must stay quiet after 2 bytes before they count as the whole FW_VER reply. */
export const PIC_QUIET_MS = 40;

/**
 * What answered a FW_VER request (pypic.py: the PIC replies exactly 2 bytes, value = b0 +
 * 256·b1). A MicroPython REPL behind a port without a PIC echoes and edits its line instead
 * (backspaces, "\r\n>>> ", "raw REPL"), which must never be read as a version.
 */
export type PicAnswer =
  | { kind: 'pic'; version: number }
  | { kind: 'none' }
  | { kind: 'repl'; bytes: Buffer }
  | { kind: 'other'; bytes: Buffer };

const REPL_MARKERS = ['>>>', 'raw REPL', 'MicroPython', 'Type "help()"', '\r\n...'];

/**
 * Classifies the bytes received after FW_VER. A PIC answer is exactly two bytes with a zero high
 * byte and a non-zero version. UNCONFIRMED: pypic.py only computes value = b0 + 256·b1 and pypic
 * prints "0.0.N"; no PIC firmware ≥ 256 is known, so a non-zero high byte is treated as "not a
 * PIC" (the conservative side: nothing is switched, and the user is told what answered).
 */
export function classifyPicAnswer(b: Buffer): PicAnswer {
  if (b.length === 0) return { kind: 'none' };
  if (b.length === 2 && b[1] === 0 && b[0]! > 0) return { kind: 'pic', version: b[0]! };
  const text = b.toString('latin1');
  if (b.includes(0x08) || REPL_MARKERS.some((m) => text.includes(m))) return { kind: 'repl', bytes: b };
  return { kind: 'other', bytes: b };
}

/** At most 16 received bytes as hex, for a message (never key material: this is serial noise). */
function shown(b: Buffer): string {
  return `${b.length} byte${b.length === 1 ? '' : 's'}: ${b.subarray(0, 16).toString('hex').replace(/(..)(?!$)/g, '$1 ')}${b.length > 16 ? ' …' : ''}`;
}

async function runSteps(t: Transport, steps: readonly PicStep[], clock: Clock): Promise<void> {
  for (const s of steps) {
    if ('wait' in s) await clock.sleep(s.wait);
    else await t.write(Uint8Array.from(s.send));
  }
}

/** Asks for the PIC firmware version and says what answered (see `classifyPicAnswer`). */
export async function picFirmwareVersion(t: Transport, opts: PicOptions): Promise<PicAnswer> {
  const reply = readRaw(t, opts.replyTimeoutMs ?? PIC_REPLY_TIMEOUT_MS, opts.clock, 2, PIC_QUIET_MS);
  await t.write(Uint8Array.from([PIC_FW_VER]));
  return classifyPicAnswer(await reply);
}

/**
 * Switches the port to 5 data bits, checks the PIC firmware (≥ 6, as pypic requires), runs
 * `steps`, drains the PIC's leftovers and returns the port to 8N1 for the ROM loader.
 */
async function picSession(t: Transport, steps: readonly PicStep[], opts: PicOptions): Promise<number> {
  await t.setBaud(115200);
  await t.setDataBits(5);
  try {
    const answer = await picFirmwareVersion(t, opts);
    // Nothing is sent after FW_VER unless a PIC answered like one.
    if (answer.kind === 'none') throw fail('E_PIC_NO_ANSWER', { port: t.url });
    if (answer.kind === 'repl') throw fail('E_PIC_REPL_ANSWERED', { port: t.url, detail: shown(answer.bytes) });
    if (answer.kind === 'other') throw fail('E_PIC_NOT_A_PIC', { port: t.url, detail: shown(answer.bytes) });
    if (answer.version < PIC_MIN_FIRMWARE) throw fail('E_PIC_FIRMWARE_OLD', { port: t.url, value: answer.version });
    await runSteps(t, steps, opts.clock);
    // Drain the PIC's leftovers (pypic reads up to 10 bytes).
    await readRaw(t, opts.replyTimeoutMs ?? PIC_REPLY_TIMEOUT_MS, opts.clock, 10, 0, 10);
    return answer.version;
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
