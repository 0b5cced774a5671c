import type { EntryStrategy, UsbBoard } from '../boards/usb-ids';
import type { TransportCapabilities } from '../transport/transport';
import { fail } from './messages';

export type ResetMode = 'auto' | EntryStrategy;

export const RESET_MODES: readonly ResetMode[] = ['auto', 'pic', 'classic', 'none'];

/**
 * The board's USB ids decide (PIC boards → pic, Expansion Board 2 → none, USB-UARTs → classic);
 * links without modem lines (TCP) can only be `none`. An explicit mode wins but must be possible.
 */
export function chooseStrategy(mode: ResetMode, board: UsbBoard | undefined, caps: TransportCapabilities, port: string): EntryStrategy {
  if (mode === 'auto') {
    if (!caps.modemLines) return 'none';
    return board?.entry ?? 'classic';
  }
  if (mode === 'pic' && !caps.dataBits) throw fail('E_NO_MODEM_LINES', { port });
  if (mode === 'classic' && !caps.modemLines) throw fail('E_NO_MODEM_LINES', { port });
  return mode;
}

/** The way into download mode, phrased to finish "…: <hint>, then try again." */
export function downloadModeHint(strategy: EntryStrategy, board: UsbBoard | undefined, remote: boolean): string {
  const name = board?.name ?? 'the board';
  if (remote) return 'make sure the device behind this address is in download mode (a virtual device server starts in it)';
  switch (strategy) {
    case 'pic':
      return `the ${name} normally does this itself, so replug it (close Pymakr/REPLs first), or connect P2 (GPIO0) to GND, press reset and use --reset none`;
    case 'classic':
      return `hold GPIO0 (P2 on Pycom modules) low while pressing reset, or connect P2 to GND, press reset and use --reset none`;
    case 'none':
      return `connect P2 (GPIO0) to GND with a wire and press the reset button (remove the wire and reset again when done)`;
  }
}

export const NONE_INSTRUCTIONS =
  'Manual download mode: connect P2 (GPIO0) to GND with a jumper wire and press the reset button; when finished, remove the wire and press reset again to run the firmware.';
