import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { otaImage, hex, knownSlots, readHardwareKeyFile, UserError } from '../../core';
import { type FlowContext, currentBuild, keyStore } from './context';

/* Prepare OTA Image. */

export async function prepareOta(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const key = fs.existsSync(store.sharedFlashKeyPath) ? readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption') : undefined;
  const build = currentBuild(key);
  if (!build) throw new UserError('E_NO_BUILD', 'There is no secure build: run "Pycom: Build Secure Firmware" first.');
  const slots = knownSlots(build.board, build.generation);
  const pick = await vscode.window.showQuickPick(slots.map((s) => ({ label: hex(s), description: s === 0x10000 ? 'factory' : 'OTA slot', slot: s })), {
    title: 'Pycom: Prepare OTA Image: which slot will the board write next?',
    placeHolder: 'Ask the running board: pycom.ota_slot() in its REPL',
  });
  if (!pick) return;
  const target = await vscode.window.showSaveDialog({ title: 'Save the OTA image', defaultUri: vscode.Uri.file(path.join(path.dirname(build.dir), `${build.board.toLowerCase()}-ota-${hex(pick.slot)}.bin`)) });
  if (!target) return;
  const img = await otaImage({ store, buildDir: build.dir, board: build.board, slot: pick.slot, output: target.fsPath });
  ctx.log.info(`OTA image ${target.fsPath}: ${img.data.length} bytes for slot ${hex(pick.slot)} from ${img.source}`);
  void vscode.window.showInformationMessage(`Pycom: wrote ${path.basename(target.fsPath)} (${img.data.length} bytes) for slot ${hex(pick.slot)}.`);
}
