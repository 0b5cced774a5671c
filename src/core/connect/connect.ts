import type { EntryStrategy, UsbBoard } from '../boards/usb-ids';
import type { Transport } from '../transport/transport';
import { realClock, type Clock } from '../loader/clock';
import { RomLoader } from '../loader/rom-loader';
import { CHIP_MAGIC_ESP32, CHIP_MAGIC_REG, UART0_CLKDIV_REG } from '../chip/esp32';
import { hexExcerpt, LinkError, linkError, SIM_BUSY_TEXT } from '../loader/link-error';
import { SYNC_TIMEOUT_MS } from '../loader/timeouts';
import { analyzeBootLog } from '../boot/boot-log';
import { fail, type MessageContext } from './messages';
import { picEnterDownload } from './pic';
import { classicSchedule, runReset, type ResetSequence } from './reset';
import { chooseStrategy, downloadModeHint, NONE_INSTRUCTIONS, type ResetMode } from './strategy';
import { UserError } from '../errors';

export const DEFAULT_BAUD = 921600;
export const INITIAL_BAUD = 115200;

/**
 * The rates this tool asks the ROM loader for with CHANGE_BAUDRATE (bits per second). 115200 is
 * the ROM's own rate (no switch). The others are the rates esptool offers for the ESP32; the
 * ESP32 UART divides an 80 MHz APB clock (ESP32 Technical Reference Manual, UART chapter: up to
 * 5 Mbit/s), so all are reachable on the chip. Whether a USB-serial adapter carries them is the
 * adapter's business: each switch is verified and falls back to 115200 when the link does not hold.
 */
export const LOADER_BAUD_RATES: readonly number[] = [115200, 230400, 460800, 921600, 1500000, 2000000, 3000000];

/**
 * Checks a baud rate asked for (a number, or the text of a --baud option) and returns it.
 * Errors: UserError E_BAUD (one sentence naming the accepted rates) for anything not in LOADER_BAUD_RATES.
 */
export function checkLoaderBaud(baud: number | string): number {
  const n = typeof baud === 'number' ? baud : /^\s*\d+\s*$/.test(baud) ? Number(baud) : NaN;
  if (!LOADER_BAUD_RATES.includes(n)) {
    const shown = typeof baud === 'string' ? JSON.stringify(baud) : String(baud);
    throw new UserError('E_BAUD', `The baud rate ${shown} is not one this tool uses; choose one of ${LOADER_BAUD_RATES.join(', ')} (115200 is the ROM's own rate, the others are switched to and checked).`);
  }
  return n;
}

export interface ConnectOptions {
  reset?: ResetMode;
  /**
   * Baud to switch to after the ROM loader answers at 115200; 115200 or less means stay (default
   * 921600). Sent over every link, socket:// included: the chip's UART changes whatever carries its bytes.
   */
  baud?: number;
  /** The board behind the port, from its USB ids (chooses the strategy in `auto`). */
  board?: UsbBoard;
  /** Reset+sync attempts (default 7 for classic, 3 for pic, 2 for none). */
  attempts?: number;
  /** SYNC reply timeout (esptool loader.py: 100 ms); tests over slow CI links may raise it. */
  syncTimeoutMs?: number;
  clock?: Clock;
  /** Progress and warnings for the user (stderr in the CLI). */
  log?: (line: string) => void;
  trace?: (line: string) => void;
}

export interface Connection {
  loader: RomLoader;
  transport: Transport;
  strategy: EntryStrategy;
  /** The rate the link runs at now. */
  baud: number;
  /** UART0 clock divider read at 115200, for the crystal estimate (esptool targets/esp32.py). */
  uartClkDivAtInitialBaud: number;
  warnings: string[];
}

/**
 * Gets the chip into its ROM loader and talking: enter download mode the board's way, SYNC at
 * 115200, check it is an ESP32, then switch to the requested baud with a fallback to 115200.
 * The transport must already be open. Every failure is a UserError naming cause and next step.
 */
export async function connect(transport: Transport, opts: ConnectOptions = {}): Promise<Connection> {
  const clock = opts.clock ?? realClock;
  const log = opts.log ?? ((): void => undefined);
  const remote = !transport.capabilities.modemLines;
  const strategy = chooseStrategy(opts.reset ?? 'auto', opts.board, transport.capabilities, transport.url);
  const hint = downloadModeHint(strategy, opts.board, remote && (opts.reset ?? 'auto') === 'auto');
  const loader = new RomLoader(transport, { clock, downloadHint: hint, trace: opts.trace });
  const warnings: string[] = [];
  try {
    if (transport.baud !== INITIAL_BAUD) await transport.setBaud(INITIAL_BAUD);
    await enterAndSync(loader, strategy, { ...opts, clock, log, hint, remote });
    const magic = await loader.readReg(CHIP_MAGIC_REG);
    if (magic !== CHIP_MAGIC_ESP32) throw fail('E_NOT_ESP32', { port: transport.url, value: magic });
    const clkdiv = (await loader.readReg(UART0_CLKDIV_REG)) & 0xfffff;
    const conn: Connection = { loader, transport, strategy, baud: INITIAL_BAUD, uartClkDivAtInitialBaud: clkdiv, warnings };
    await switchBaud(conn, opts.baud ?? DEFAULT_BAUD, { ...opts, clock, log, hint, remote });
    return conn;
  } catch (e) {
    loader.dispose();
    throw e;
  }
}

interface Ctx extends ConnectOptions {
  clock: Clock;
  log: (line: string) => void;
  hint: string;
  remote: boolean;
}

async function enterAndSync(loader: RomLoader, strategy: EntryStrategy, ctx: Ctx): Promise<void> {
  const t = loader.transport;
  const schedule: ResetSequence[] = classicSchedule();
  const attempts = ctx.attempts ?? (strategy === 'classic' ? 7 : strategy === 'pic' ? 3 : 2);
  const syncTimeout = ctx.syncTimeoutMs ?? SYNC_TIMEOUT_MS;
  if (strategy === 'none' && !ctx.remote) ctx.log(NONE_INSTRUCTIONS);
  let lastError: unknown;
  // What the board printed over all attempts (bounded): a boot log may come only once.
  let seen: Buffer = Buffer.alloc(0);
  const remember = (): void => {
    seen = Buffer.concat([seen, loader.reader.noise()]).subarray(-8192);
  };
  // Every byte the device sent while we waited for a SYNC reply (the first few kept): a device that
  // answered with something else (a flood of 0xC0, another protocol) is not one that "sent nothing back".
  const heard = { total: 0, first: Buffer.alloc(0) };
  for (let attempt = 0; attempt < attempts; attempt++) {
    remember();
    loader.reader.clearNoise();
    if (strategy === 'pic') {
      const version = await picEnterDownload(t, { clock: ctx.clock });
      if (attempt === 0) ctx.log(`PIC firmware ${version}: module switched to download mode.`);
    } else if (strategy === 'classic') {
      const seq = schedule[attempt % schedule.length]!;
      await t.flushInput();
      await runReset(t, seq, ctx.clock);
      ctx.trace?.(`reset: ${seq.name}`);
    }
    // Counted from here on (after any PIC exchange or reset), so only answers to SYNC are counted.
    const unheard = t.onData((chunk) => {
      heard.total += chunk.length;
      if (heard.first.length < 16) heard.first = Buffer.concat([heard.first, chunk]).subarray(0, 16);
    });
    try {
      for (let i = 0; i < 5; i++) {
        try {
          await t.flushInput();
          await loader.sync(syncTimeout);
          return;
        } catch (e) {
          if (e instanceof LinkError && e.failure === 'closed') {
            // A busy `sim serve` says so before it closes: that, not "unplugged".
            remember();
            if (seen.toString('latin1').includes(SIM_BUSY_TEXT)) throw linkError('E_BOARD_BUSY', { port: t.url, detail: SIM_BUSY_TEXT }, { failure: 'closed' });
          }
          if (!(e instanceof LinkError) || e.failure === 'closed' || e.failure === undefined) throw e;
          lastError = e;
          await ctx.clock.sleep(50);
        }
      }
    } finally {
      unheard();
    }
    // A boot log that names the cause ends the attempts early only when retrying cannot help.
    const finding = analyzeBootLog(Buffer.concat([seen, loader.reader.noise()]));
    if (finding?.kind === 'download-disabled') break;
    if (strategy === 'none' && finding) break;
  }
  remember();
  throw explain(loader, seen, lastError, ctx, heard);
}

/** What a device sent instead of SYNC replies, as E_NOISE shows it: printable text quoted, else the bytes. */
function heardDetail(heard: { total: number; first: Buffer }): string {
  const text = heard.first.toString('latin1').replace(/[^\x20-\x7e]+/g, ' ').trim();
  if (heard.first.every((b) => b === 0xc0)) return `only 0xC0 frame delimiters: ${hexExcerpt(heard.first, 16, heard.total)}`;
  return text.length >= 8 ? `"${text}…", ${heard.total} bytes` : `bytes ${hexExcerpt(heard.first, 16, heard.total)}`;
}

/** Picks the most specific reason: what the board printed beats how the read failed. */
function explain(loader: RomLoader, seen: Buffer, lastError: unknown, ctx: Ctx, heard: { total: number; first: Buffer }): UserError {
  const mc: MessageContext = { port: loader.transport.url, howToEnter: ctx.hint };
  const finding = analyzeBootLog(seen);
  switch (finding?.kind) {
    case 'download-disabled':
      return fail('E_DOWNLOAD_DISABLED', mc);
    case 'download-waiting':
      return fail('E_TX_DOWN', mc);
    case 'wrong-boot-mode':
      return fail('E_WRONG_BOOT_MODE', { ...mc, value: finding.mode });
    case 'flash-read-error':
      return fail('E_FLASH_BOOT_FAILED', { ...mc, detail: finding.text });
    case 'firmware':
      return fail('E_RUNNING_FIRMWARE', { ...mc, detail: finding.text });
    case undefined:
      break;
  }
  // Frames came that were not replies (an echo, another opcode): say what they were.
  if (lastError instanceof LinkError && lastError.code === 'E_WRONG_REPLY') return lastError;
  if (lastError instanceof LinkError) {
    // "Stream stopped" during sync still means the ROM never answered: say download mode.
    if (lastError.failure === 'stream-stopped' || lastError.failure === 'no-data') {
      // It did send something (once, or between our SYNCs), just never a reply: not "nothing back".
      if (heard.total > 0) return fail('E_NOISE', { ...mc, detail: heardDetail(heard) });
      return fail('E_NO_DATA', mc);
    }
    return lastError;
  }
  if (lastError instanceof UserError) return lastError;
  return fail('E_NO_DATA', mc);
}

/**
 * CHANGE_BAUDRATE, then proves the link at the new rate with a READ_REG of the chip magic. If the
 * faster rate does not hold (no or wrong reply, or the host's port refuses the rate), goes back
 * to 115200 on the host, re-syncs (the ROM is asked nothing more at the new rate), re-enters
 * download mode if the board can be reset, and continues at 115200 with a warning. Done over
 * every transport: over socket:// the host side has no rate of its own, but the chip (or a
 * `sim serve` board's timing model) changes its UART all the same.
 */
async function switchBaud(conn: Connection, baud: number, ctx: Ctx): Promise<void> {
  const { loader, transport } = conn;
  if (baud <= INITIAL_BAUD) return;
  try {
    await loader.changeBaud(baud);
    const magic = await loader.readReg(CHIP_MAGIC_REG, 1000);
    if (magic === CHIP_MAGIC_ESP32) {
      conn.baud = baud;
      ctx.trace?.(`link verified at ${baud} baud`);
      return;
    }
  } catch (e) {
    if (e instanceof LinkError && e.failure === 'closed') throw e;
    if (e instanceof UserError && e.code === 'E_LINK_CLOSED') throw e;
    // Anything else (no reply, garbage, the host port refusing the rate): fall back.
  }
  ctx.trace?.(`link not verified at ${baud} baud`);
  const warning = `The link did not hold at ${baud} baud; continuing at ${INITIAL_BAUD} baud (slower, but reliable).`;
  await transport.setBaud(INITIAL_BAUD).catch(() => undefined);
  await ctx.clock.sleep(50);
  try {
    // A ROM that switched understands nothing at 115200; one that answers this SYNC is at 115200.
    await loader.sync(Math.max(ctx.syncTimeoutMs ?? SYNC_TIMEOUT_MS, 200));
  } catch {
    if (conn.strategy === 'none') throw fail('E_BAUD_TOO_HIGH', { port: transport.url, baud });
    try {
      await enterAndSync(loader, conn.strategy, { ...ctx, attempts: 2 });
    } catch {
      throw fail('E_BAUD_TOO_HIGH', { port: transport.url, baud });
    }
  }
  conn.baud = INITIAL_BAUD;
  conn.warnings.push(warning);
  ctx.log(warning);
}
