import * as vscode from 'vscode';
import * as path from 'node:path';
import { askOtaSlot, otaImage, hex, knownSlots, readHardwareKeyFile, transportFromUrl, UserError } from '../../core';
import { readSettings, remoteSocketOptions, workspaceRoot } from '../settings';
import { coreResetMode } from '../device';
import type { SelectedPort } from '../state';
import { type FlowContext, currentBuild, keyStore } from './context';
import { boardTitle } from './ports';

/* Prepare OTA Image. */

/** What the board said when asked for its next OTA slot: an address, or why there is none. */
export type BoardSlotAnswer = { slot: number } | { reason: string };

/**
 * Asks the board on `port` which slot its next OTA update goes to (Pycom's `pycom.ota_slot()`
 * over MicroPython's raw REPL, through the core's askOtaSlot, as the CLI's `ota-image --port`). Never
 * throws: a board that does not answer (download mode, a virtual board without a REPL, no
 * MicroPython, a busy port) gives a `reason` in one sentence instead.
 */
export async function askBoardForSlot(port: SelectedPort, timeoutMs = 3000): Promise<BoardSlotAnswer> {
  const t = transportFromUrl(port.path, undefined, remoteSocketOptions());
  try {
    await t.open();
    // askOtaSlot also starts a board that sits in download mode (a `sim serve` board, a board just
    // flashed) when that is safe, then asks its raw REPL, as the CLI's ota-image --port does.
    return { slot: (await askOtaSlot(t, { timeoutMs, mode: coreResetMode(readSettings().resetMode) })).slot };
  } catch (e) {
    return { reason: e instanceof Error ? e.message : String(e) };
  } finally {
    await t.close().catch(() => undefined);
  }
}

/** Longest default save path the dialog shows whole (code-server's simple dialog at 1400 px wide). */
const SHOWN_WHOLE = 60;

/**
 * The save dialog's default for an OTA image: a short name (`gpy-ota-0x210000.bin`) in the
 * build's board folder (`esp32/build/GPY`, next to its release folder), or in the workspace
 * folder when that path would be too long to be shown whole.
 */
export function otaSavePath(buildDir: string, board: string, slot: number, workspace: string | undefined): string {
  const name = `${board.toLowerCase()}-ota-${hex(slot, { lower: true })}.bin`;
  const inBuild = path.join(path.dirname(buildDir), name);
  return inBuild.length <= SHOWN_WHOLE || !workspace ? inBuild : path.join(workspace, name);
}

/**
 * Prepare OTA Image: the board's next slot is asked from the board itself (the selected port),
 * and comes first in the pick; when the board does not answer, or no port is selected, the pick
 * lists the build's slots and its placeholder says why and what to do. The image is written by
 * the core's otaImage (the same body as the CLI's `ota-image`).
 */
export async function prepareOta(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const keyFile = store.flashKeyFileFor();
  const key = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  const build = currentBuild(key);
  if (!build) throw new UserError('E_NO_BUILD', 'There is no secure build: run "Pycom: Build Secure Firmware" first.');
  const slots = knownSlots(build.board, build.generation);
  const port = ctx.state.port;
  const answer: BoardSlotAnswer = port
    ? await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Asking ${boardTitle(port)} for its next OTA slot` }, () => askBoardForSlot(port))
    : { reason: 'no port is selected' };
  let placeHolder: string;
  let first: number | undefined;
  if ('slot' in answer && slots.includes(answer.slot)) {
    first = answer.slot;
    placeHolder = `${boardTitle(port!)} says its next OTA slot is ${hex(answer.slot)}: press Enter to use it.`;
    ctx.log.info(`OTA: ${port!.path} says its next OTA slot is ${hex(answer.slot)}`);
  } else if ('slot' in answer) {
    placeHolder = `${boardTitle(port!)} answered ${hex(answer.slot)}, which is not a slot of this build: check the board's firmware, then pick the slot it will write next.`;
    ctx.log.warn(`OTA: ${port!.path} answered ${hex(answer.slot)} to pycom.ota_slot(), not one of ${slots.map((s) => hex(s)).join(', ')}`);
  } else if (port) {
    placeHolder = `${boardTitle(port)} did not answer pycom.ota_slot() (download mode, or no MicroPython REPL): pick the slot it will write next.`;
    ctx.log.info(`OTA: could not ask ${port.path} for its next slot: ${answer.reason}`);
  } else {
    placeHolder = 'No port is selected, so the board was not asked: pick the slot it will write next ("Pycom: Select Port" lets the board answer).';
  }
  const ordered = first === undefined ? slots : [first, ...slots.filter((s) => s !== first)];
  const pick = await vscode.window.showQuickPick(ordered.map((s) => ({
    label: hex(s),
    description: [s === 0x10000 ? 'factory' : 'OTA slot', ...(s === first ? ['the board\'s next slot'] : [])].join(' · '),
    slot: s,
  })), {
    title: 'Pycom: Prepare OTA Image: which slot will the board write next?',
    placeHolder,
  });
  if (!pick) return;
  const target = await vscode.window.showSaveDialog({ title: 'Save the OTA image', defaultUri: vscode.Uri.file(otaSavePath(build.dir, build.board, pick.slot, workspaceRoot())) });
  if (!target) return;
  const img = await otaImage({
    store, buildDir: build.dir, board: build.board, slot: pick.slot, output: target.fsPath,
    macHint: "Prepare OTA Image makes images for the shared key only: make this one with the CLI's pycom-secure ota-image --port PORT (or --mac MAC), which takes the board's own key",
  });
  ctx.log.info(`OTA image ${target.fsPath}: ${img.data.length} bytes for slot ${hex(pick.slot)} from ${img.source}`);
  void vscode.window.showInformationMessage(`Pycom: wrote ${path.basename(target.fsPath)} (${img.data.length} bytes) for slot ${hex(pick.slot)}.`);
}
