import { captureOutput, type CaptureEnd } from '../transport/capture';
import type { Clock } from '../loader/clock';
import { bootLogSettled } from './boot-log';
import type { Transport } from '../transport/transport';
import { isSocketUrl } from '../transport/tcp';
import { connect } from '../connect/connect';
import { exitDownloadMode } from '../connect/download-mode';
import { chooseStrategy, type ResetMode } from '../connect/strategy';
import type { RomLoader } from '../loader/rom-loader';

/**
 * Leaves download mode so the board boots its flash. With reset lines: the board's own exit (PIC or
 * RTS pulse). Without (socket://, manual boards): FLASH_END(1), which makes the ROM loader leave and
 * run the code in flash (FLASH_END, esptool docs Serial Protocol), so the boot log can still be captured; a
 * jumpered P2 must still be removed before the next reset.
 */
export async function runFirmware(t: Transport, loader: RomLoader, mode: ResetMode, note?: (line: string) => void): Promise<void> {
  if (chooseStrategy(mode, undefined, t.capabilities, t.url) !== 'none') {
    await t.setBaud(115200);
    await exitDownloadMode(t, mode, undefined);
    return;
  }
  await loader.flashEnd(false);
  await t.setBaud(115200);
  if (!isSocketUrl(t.url)) note?.('note: the ROM loader was told to run the firmware; remove the P2-GND wire before the next reset.');
}

/**
 * Silence after which a boot-log capture that asked for it ends (ms). UNCONFIRMED how long a
 * Pycom board stays quiet between its ROM header and the MicroPython banner (secure boot checks
 * the app's signature first, with nothing printed); 1.5 s leaves room for that, and the banner or
 * a failure line ends the capture sooner.
 */
export const BOOT_LOG_SILENCE_MS = 1500;

/**
 * The longest a boot-log capture after a flash lasts by default (ms): a board that keeps printing
 * without reaching an outcome line (a boot loop of unknown text) is cut off here.
 */
export const BOOT_LOG_CAP_MS = 5000;

export interface BootCaptureOptions {
  /** The longest to listen after the board was started (the cap), in milliseconds. */
  ms: number;
  /**
   * End at the line that settles the outcome (bootLogSettled: the MicroPython banner or a known
   * failure) or after `silenceMs` without output, whichever comes first; the cap still holds.
   * Without it the capture lasts `ms` (the serial monitor listens as long as asked).
   */
  untilOutcome?: boolean;
  /** Silence that ends an `untilOutcome` capture (default BOOT_LOG_SILENCE_MS). */
  silenceMs?: number;
  /** Timers (tests pass a fake clock). */
  clock?: Clock;
  mode: ResetMode;
  /** A loader already talking to the board (after a flash); without one, one is tried on the spot. */
  loader?: RomLoader;
  note?: (line: string) => void;
}

/**
 * Starts the firmware and collects its boot log: the one way the CLI's `flash`/`monitor` and the
 * editor's post-flash log and Serial Monitor do it. On a port without reset lines (a `sim serve`
 * board, a manual board) the ROM loader, if it is listening, is told to run the firmware; if it
 * is not, the board is already running and we only listen.
 */
export async function captureBootLog(t: Transport, o: BootCaptureOptions): Promise<string> {
  const end: CaptureEnd = o.untilOutcome ? { until: bootLogSettled, silenceMs: o.silenceMs ?? BOOT_LOG_SILENCE_MS } : {};
  if (o.clock) end.clock = o.clock;
  return captureOutput(t, o.ms, async () => {
    if (o.loader) return runFirmware(t, o.loader, o.mode, o.note);
    if (chooseStrategy(o.mode, undefined, t.capabilities, t.url) !== 'none') {
      await t.setBaud(115200);
      return exitDownloadMode(t, o.mode, undefined);
    }
    const conn = await connect(t, { reset: 'none', baud: 115200, attempts: 1 }).catch(() => undefined);
    if (!conn) return o.note?.('note: no reset line on this port; press the reset button to see the boot log.');
    try {
      return await runFirmware(t, conn.loader, 'none', o.note);
    } finally {
      conn.loader.dispose();
    }
  }, end);
}
