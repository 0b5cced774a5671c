import * as vscode from 'vscode';
import * as path from 'node:path';
import { askOtaSlot, checkOtaBoardNamed, fingerprint, otaBoardEvidence, otaImage, hex, knownSlots, readHardwareKeyFile, recordOtaImage, transportFromUrl, UserError, type KeyEvidence, type KeyStore } from '../../core';
import { readSettings, remoteSocketOptions, workspaceRoot } from '../settings';
import { coreResetMode, withDevice } from '../device';
import { vscodeUi } from '../vscode-ui';
import type { SelectedPort } from '../state';
import { ACKNOWLEDGE_HINT, BURN_AGAIN_HINTS, KEY_STORE_HINT, MODULE_OVERRIDE_HINT, type FlowContext, currentBuild, keyStore } from './context';
import { boardTitle } from './ports';

/* Prepare OTA Image. */

/** What the board said when asked for its next OTA slot: an address (and the text holding its banner, when it printed one), or why there is none. */
export type BoardSlotAnswer = { slot: number; banner?: string } | { reason: string };

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
    const asked = await askOtaSlot(t, { timeoutMs, mode: coreResetMode(readSettings().resetMode) });
    return { slot: asked.slot, ...(asked.banner !== undefined ? { banner: asked.banner } : {}) };
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

/** The board an image is made for (a key store with per-device keys): its MAC and why its key is taken. */
type ForBoard = { mac: string; evidence: KeyEvidence; flashSize?: number };

/** How Prepare OTA Image names the board, in the refusal on a per-device key store with no port selected. */
const SELECT_BOARD_HINT = 'select that board with "Pycom: Select Port" (its MAC is read from it), then run "Pycom: Prepare OTA Image" again';

/**
 * For a key store with per-device keys: the selected board's MAC (from its eFuses, in download
 * mode through withDevice) and the evidence that the store's key for that MAC (its own, else the
 * shared one) is the board's, by the core's otaBoardEvidence, as the CLI's `ota-image --port`
 * finds them; without evidence the user is asked (modal), and the answer recorded. Asked before
 * the slot, as the CLI does: the slot question then starts the board's firmware from download mode.
 *
 * Errors: E_KEY_MISMATCH / E_KEY_CONTRADICTED / E_KEY_EVIDENCE (each saying nothing was written), link errors.
 */
async function boardForImage(ctx: FlowContext, store: KeyStore, port: SelectedPort): Promise<ForBoard> {
  const found = await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: `Reading the MAC of ${boardTitle(port)} and checking its key` },
    () => withDevice(port.path, readSettings(), (l) => ctx.log.info(l), (d) => otaBoardEvidence({ transport: d.transport, conn: d.conn, chip: d.info }, {
      store, ask: true, acknowledgeHint: ACKNOWLEDGE_HINT, keyStoreHint: KEY_STORE_HINT, burnAgainHints: BURN_AGAIN_HINTS,
    }, { info: (l) => ctx.log.info(`OTA: ${l}`), confirm: (q) => vscodeUi(ctx.log).confirm!(q) })),
  );
  ctx.log.info(`OTA: the board on ${port.path} is ${found.mac}`);
  return found;
}

/**
 * Prepare OTA Image: the board's next slot is asked from the board itself (the selected port),
 * and comes first in the pick; when the board does not answer, or no port is selected, the pick
 * lists the build's slots and its placeholder says why and what to do. The image is written by
 * the core's otaImage (the same body as the CLI's `ota-image`).
 *
 * A key store with per-device keys (devices/<MAC>/) needs the selected board, as the CLI's
 * `ota-image --port`: its MAC and key evidence are read first (boardForImage), the image is
 * encrypted with that board's own key (re-encrypted from the store's build key) and recorded in
 * the board's records (recordOtaImage). With no port selected it is refused, nothing written.
 */
export async function prepareOta(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const keyFile = store.flashKeyFileFor();
  const key = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  const build = currentBuild(key);
  if (!build) throw new UserError('E_NO_BUILD', 'There is no secure build: run "Pycom: Build Secure Firmware" first.');
  const port = ctx.state.port;
  // A key store with per-device keys and no port selected: refused (E_NEED_MAC), before anything is asked.
  if (!port) checkOtaBoardNamed({ store, macHint: SELECT_BOARD_HINT });
  const forBoard = port && store.hasDeviceKeys() ? await boardForImage(ctx, store, port) : undefined;
  // The pick lists the build's board's slots; with the board read, only those of its flash size (otaImage checks it too).
  const slots = knownSlots(build.board, build.generation, forBoard?.flashSize);
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
    ...(forBoard ? { mac: forBoard.mac, boardEvidence: forBoard.evidence, ...(forBoard.flashSize !== undefined ? { flashSize: forBoard.flashSize } : {}) } : {}),
    macHint: SELECT_BOARD_HINT, keyStoreHint: KEY_STORE_HINT, burnAgainHints: BURN_AGAIN_HINTS,
    // The banner the board printed when asked names its module; against it (or the records) the user is asked (modal).
    ...('banner' in answer && answer.banner !== undefined ? { banner: answer.banner } : {}),
    ...(port ? { boardName: boardTitle(port) } : {}),
    askModule: true, overrideModuleHint: MODULE_OVERRIDE_HINT,
  }, { info: (l) => ctx.log.info(`OTA: ${l}`), confirm: (q) => vscodeUi(ctx.log).confirm!(q) });
  ctx.log.info(`OTA image ${target.fsPath}: ${img.data.length} bytes for slot ${hex(pick.slot)} from ${img.source}`);
  if (forBoard) {
    const id = recordOtaImage(store, forBoard.mac, build.board, img);
    ctx.log.info(`OTA: recorded as ${id} for ${forBoard.mac}${img.flashKey ? ` (flash key ${fingerprint(img.flashKey)})` : ''}`);
  }
  const forWhom = forBoard ? ` with the key of ${forBoard.mac}` : '';
  void vscode.window.showInformationMessage(`Pycom: wrote ${path.basename(target.fsPath)} (${img.data.length} bytes) for slot ${hex(pick.slot)}${forWhom}.`);
}
