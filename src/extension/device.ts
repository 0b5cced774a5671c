import { LOADER_BAUD_RATES, UserError, withBoard, type ChipInfo, type Connection, type ResetMode, type Transport } from '../core';
import { remoteSocketOptions, type PycomSettings } from './settings';
import type { ChipView } from './state';

export interface DeviceSession {
  transport: Transport;
  conn: Connection;
  info: ChipInfo;
}

/** The editor calls the "you do it" reset mode "manual"; the core calls it "none". */
export function coreResetMode(setting: string): ResetMode {
  if (setting === 'manual') return 'none';
  return (['auto', 'pic', 'classic', 'none'] as const).find((m) => m === setting) ?? 'auto';
}

/**
 * The core's withBoard with the editor's settings (pycom.resetMode, pycom.baudRate): opens the
 * port, gets the ROM loader talking, identifies the chip, runs `fn`, and always lets go of the
 * board again (a board left open would block the CLI, a REPL or the next command).
 * Errors: E_BAUD naming pycom.baudRate when it is not one of LOADER_BAUD_RATES (before the port is opened); the core's link errors.
 */
export async function withDevice<T>(port: string, s: Pick<PycomSettings, 'baudRate' | 'resetMode'> & Partial<Pick<PycomSettings, 'allowRemoteSocket'>>, log: (line: string) => void, fn: (d: DeviceSession) => Promise<T>): Promise<T> {
  // The core's E_BAUD names the rate, not where it came from: here it is a setting.
  if (!LOADER_BAUD_RATES.includes(s.baudRate)) throw new UserError('E_BAUD', `The setting pycom.baudRate is ${JSON.stringify(s.baudRate)}, which is not a rate this tool uses: set pycom.baudRate to one of ${LOADER_BAUD_RATES.join(', ')}; nothing was sent to the board.`);
  return withBoard({ port, reset: coreResetMode(s.resetMode), baud: s.baudRate, ...remoteSocketOptions({ allowRemoteSocket: s.allowRemoteSocket ?? false }) }, { info: log, warn: log }, (b) => fn({ transport: b.transport, conn: b.conn, info: b.chip }));
}

/** What the Device view shows of a chip: display text and the security state, nothing secret. */
export function chipView(info: ChipInfo, virtual: boolean): ChipView {
  return {
    description: info.description,
    revision: info.revision.text,
    mac: info.mac.address,
    flashSize: info.flash.sizeText,
    crystalMhz: info.crystalMhz,
    security: info.security,
    virtual,
    readAt: new Date().toISOString(),
  };
}
