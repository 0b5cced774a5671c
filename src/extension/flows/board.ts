import * as vscode from 'vscode';
import { enterDownloadMode, readEfuses, transportFromUrl } from '../../core';
import { readSettings, remoteSocketOptions } from '../settings';
import { withDevice, coreResetMode } from '../device';
import { snapshotFromWords } from '../sources/efuse-snapshot';
import type { SelectedPort } from '../state';
import type { FlowContext } from './context';
import { boardForCommand, boardTitle, chipPatch } from './ports';

/* Reading the chip and its eFuses; entering download mode. */

export async function readBoard(ctx: FlowContext, port?: SelectedPort): Promise<void> {
  const p = port ?? (await boardForCommand(ctx, 'Pycom: Read eFuses'));
  if (!p) return;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Reading ${p.path}`, cancellable: false }, async () => {
    await withDevice(p.path, readSettings(), (l) => ctx.log.info(l), async (d) => {
      const snap = await readEfuses(d.conn.loader);
      ctx.state.update({ ...chipPatch(ctx, p, d.info), efuses: snapshotFromWords(snap.words, `${boardTitle(p)} ${d.info.mac.address} on ${p.path}`) });
      ctx.log.info(`read ${d.info.description}, MAC ${d.info.mac.address}: flash encryption ${d.info.security.flashEncryption.enabled ? 'on' : 'off'}, secure boot ${d.info.security.secureBoot.v1Enabled ? 'on' : 'off'}`);
    });
  });
}

export async function enterDownload(ctx: FlowContext): Promise<void> {
  const p = await boardForCommand(ctx, 'Pycom: Enter Download Mode');
  if (!p) return;
  const t = transportFromUrl(p.path, undefined, remoteSocketOptions());
  await t.open();
  try {
    const r = await enterDownloadMode(t, coreResetMode(readSettings().resetMode), undefined);
    ctx.log.info(`download mode (${r.strategy}): ${r.message}`);
    void vscode.window.showInformationMessage(`Pycom: ${r.message}`);
  } finally {
    await t.close().catch(() => undefined);
  }
}
