import { captureBootLog } from '../boot/capture';
import { explainBootLog, type BootLogExplanation, type BootLogHints } from '../boot/boot-log';
import type { ResetMode } from '../connect/strategy';
import { captureOutput } from '../transport/capture';
import type { Transport } from '../transport/transport';
import type { UiPort } from './ui-port';

export interface MonitorRequest {
  /** How long to listen, in milliseconds. */
  ms: number;
  /** How to start the board into its firmware (reset lines, or FLASH_END on a port without them). */
  mode: ResetMode;
  /** Only listen: no reset, no loader command. */
  noReset?: boolean;
  /** The commands the explanation names, in this front end's words (default the CLI's). */
  hints?: BootLogHints;
}

/**
 * The serial monitor, the one body of the CLI's `monitor` and the editor's Serial Monitor: start
 * the firmware the board's way (or only listen), collect what it prints at 115200 baud for
 * `ms`, and explain the recognised lines. `transport` is open and stays open.
 */
export async function monitor(transport: Transport, req: MonitorRequest, ui: Pick<UiPort, 'info'>): Promise<{ text: string; explanation: BootLogExplanation }> {
  const text = req.noReset ? await captureOutput(transport, req.ms) : await captureBootLog(transport, { ms: req.ms, mode: req.mode, note: (l) => ui.info(l) });
  return { text, explanation: explainBootLog(text, req.hints) };
}
