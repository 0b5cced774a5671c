import * as vscode from 'vscode';
import { isUserError } from '../core';

const DOWNLOAD_MODE_HELP = 'https://docs.pycom.io/updatefirmware/device/';
/**
 * The link's error codes (core/connect/messages.ts) after which the user most likely needs to put
 * the board in download mode: it sent nothing, booted from flash, runs its firmware, sent noise,
 * cannot read its bootloader, or stopped answering.
 */
const DOWNLOAD_MODE_CODES: ReadonlySet<string> = new Set(['E_NO_DATA', 'E_WRONG_BOOT_MODE', 'E_RUNNING_FIRMWARE', 'E_NOISE', 'E_FLASH_BOOT_FAILED', 'E_TIMEOUT_STREAM_STOPPED']);

/**
 * Shows an error as a notification with actions and logs it. UserErrors are one sentence for
 * the user; anything else is a bug and is logged with its stack.
 */
export async function showError(log: vscode.LogOutputChannel, what: string, e: unknown): Promise<void> {
  const message = e instanceof Error ? e.message : String(e);
  if (isUserError(e)) log.error(`${what}: [${e.code}] ${message}`);
  else log.error(`${what}: unexpected error`, e instanceof Error ? e.stack ?? message : message);
  const actions = ['Show Log'];
  if (isUserError(e) && DOWNLOAD_MODE_CODES.has(e.code)) actions.unshift('How to enter download mode');
  const pick = await vscode.window.showErrorMessage(`${what}: ${message}`, ...actions);
  if (pick === 'Show Log') log.show();
  if (pick === 'How to enter download mode') await vscode.env.openExternal(vscode.Uri.parse(DOWNLOAD_MODE_HELP));
}

/** Commands whose core has not landed yet say so plainly instead of pretending. */
export function notAvailable(log: vscode.LogOutputChannel, title: string, missing: string): void {
  const text = `Pycom: ${title} is not available yet in this build: ${missing}.`;
  log.warn(text);
  void vscode.window.showInformationMessage(text);
}
