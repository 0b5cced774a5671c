import { withBoard, type ChipInfo, type Connection, type ResetMode, type Transport } from '../core';
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
 */
export async function withDevice<T>(port: string, s: Pick<PycomSettings, 'baudRate' | 'resetMode'> & Partial<Pick<PycomSettings, 'allowRemoteSocket'>>, log: (line: string) => void, fn: (d: DeviceSession) => Promise<T>): Promise<T> {
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
