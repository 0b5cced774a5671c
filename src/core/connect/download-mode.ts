import type { EntryStrategy, UsbBoard } from '../boards/usb-ids';
import type { Transport } from '../transport/transport';
import { isSocketUrl } from '../transport/tcp';
import { realClock, type Clock } from '../loader/clock';
import { picEnterDownload, picExitDownload } from './pic';
import { classicReset, hardReset, runReset } from './reset';
import { chooseStrategy, NONE_INSTRUCTIONS, type ResetMode } from './strategy';

export interface DownloadModeResult {
  strategy: EntryStrategy;
  /** What the user should know or do now. */
  message: string;
}

/** A board behind `pycom-secure sim serve` (socket://) has no wires to move. */
const SERVED_ENTER = 'A board served over TCP (pycom-secure sim serve) is reset into download mode whenever a client connects: nothing to do.';
const SERVED_EXIT = 'A board served over TCP has no reset lines: `pycom-secure monitor --port` starts its firmware (the ROM loader is told to run it) and shows what it prints.';

/** Puts the chip into download mode and leaves it there (for other tools, or a later connect). */
export async function enterDownloadMode(t: Transport, mode: ResetMode, board: UsbBoard | undefined, clock: Clock = realClock): Promise<DownloadModeResult> {
  const strategy = chooseStrategy(mode, board, t.capabilities, t.url);
  switch (strategy) {
    case 'pic': {
      const v = await picEnterDownload(t, { clock });
      return { strategy, message: `The module is in download mode (PIC firmware ${v}); GPIO0 stays low until \`pycom-secure device exit-download\`.` };
    }
    case 'classic':
      await runReset(t, classicReset(50), clock);
      return { strategy, message: 'Reset with GPIO0 low: the chip should now be in download mode.' };
    case 'none':
      return { strategy, message: isSocketUrl(t.url) ? SERVED_ENTER : NONE_INSTRUCTIONS };
  }
}

/** Releases GPIO0 and resets, so the module boots its firmware again. */
export async function exitDownloadMode(t: Transport, mode: ResetMode, board: UsbBoard | undefined, clock: Clock = realClock): Promise<DownloadModeResult> {
  const strategy = chooseStrategy(mode, board, t.capabilities, t.url);
  switch (strategy) {
    case 'pic': {
      const v = await picExitDownload(t, { clock });
      return { strategy, message: `GPIO0 released and the module reset (PIC firmware ${v}): it is running its firmware.` };
    }
    case 'classic':
      await runReset(t, hardReset(), clock);
      return { strategy, message: 'Hard reset via RTS: the chip is running its firmware.' };
    case 'none':
      return { strategy, message: isSocketUrl(t.url) ? SERVED_EXIT : 'Remove the wire between P2 (GPIO0) and GND, then press the reset button to run the firmware.' };
  }
}
