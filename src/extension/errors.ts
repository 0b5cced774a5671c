import * as vscode from 'vscode';
import { isUserError } from '../core';

const DOWNLOAD_MODE_HELP = 'https://docs.pycom.io/updatefirmware/device/';
/** Error codes after which the user most likely needs to put the board in download mode. */
const DOWNLOAD_MODE_CODES = /^E_(SYNC|NO_SYNC|TIMEOUT|DOWNLOAD|NO_LOADER)/;

/**
 * Shows an error as a notification with actions and logs it. UserErrors are one sentence for
 * the user; anything else is a bug and is logged with its stack.
 */
export async function showError(log: vscode.LogOutputChannel, what: string, e: unknown): Promise<void> {
  const message = e instanceof Error ? e.message : String(e);
  if (isUserError(e)) log.error(`${what}: [${e.code}] ${message}`);
  else log.error(`${what}: unexpected error`, e instanceof Error ? e.stack ?? message : message);
  const actions = ['Show Log'];
  if (isUserError(e) && DOWNLOAD_MODE_CODES.test(e.code)) actions.unshift('How to enter download mode');
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
