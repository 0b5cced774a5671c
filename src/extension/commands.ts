import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { showError } from './errors';
import { listKeyStore } from './sources/key-listing';
import { fieldTableSnapshot } from './sources/efuse-snapshot';
import * as flows from './flows';
import type { FlowContext } from './flows';

/** Commands that change a board or run project code: refused in untrusted workspaces. */
export const NEEDS_TRUST = new Set(['pycom.burnKeys', 'pycom.buildFirmware', 'pycom.flashFirmware', 'pycom.prepareOtaImage', 'pycom.rehearseVirtual', 'pycom.importKey', 'pycom.provisionBoards']);

export function registerCommands(ctx: FlowContext): vscode.Disposable[] {
  const { log, state, panel } = ctx;
  const run = (id: string, what: string, fn: () => Promise<unknown> | unknown): vscode.Disposable =>
    vscode.commands.registerCommand(id, async () => {
      if (NEEDS_TRUST.has(id) && !vscode.workspace.isTrusted) {
        void vscode.window.showWarningMessage(`Pycom: ${what} is disabled in an untrusted workspace. Trust the workspace to burn, build or flash.`, 'Manage Workspace Trust')
          .then((a) => a && vscode.commands.executeCommand('workbench.trust.manage'));
        return;
      }
      try {
        await fn();
      } catch (e) {
        await showError(log, `Pycom: ${what}`, e);
      }
    });

  return [
    run('pycom.selectPort', 'Select Port', () => flows.selectPort(ctx)),
    run('pycom.enterDownloadMode', 'Enter Download Mode', () => flows.enterDownload(ctx)),
    run('pycom.readEfuses', 'Read eFuses', () => flows.readBoard(ctx)),
    run('pycom.burnKeys', 'Burn Keys', () => flows.burnKeys(ctx)),
    run('pycom.buildFirmware', 'Build Secure Firmware', () => flows.buildFirmware(ctx)),
    run('pycom.flashFirmware', 'Flash Secure Firmware', () => flows.flashFirmware(ctx)),
    run('pycom.prepareOtaImage', 'Prepare OTA Image', () => flows.prepareOta(ctx)),
    run('pycom.predictBoot', 'Check Board\'s Flash (Predict Boot)', () => flows.checkBoardFlash(ctx)),
    run('pycom.verifyFlash', 'Verify Board\'s Flash Against Build', () => flows.verifyBoardFlash(ctx)),
    run('pycom.rehearseVirtual', 'Rehearse on Virtual Board', () => flows.rehearse(ctx)),
    run('pycom.provisionBoards', 'Provision Boards', () => flows.provisionBoards(ctx)),
    run('pycom.exportRecords', 'Export Board Records', () => flows.exportRecords(ctx)),
    run('pycom.openSerialMonitor', 'Open Serial Monitor', () => flows.serialMonitor(ctx)),
    run('pycom.generateKeys', 'Generate Keys', () => flows.generateKeys(ctx)),
    run('pycom.importKey', 'Import Key', () => flows.importKey(ctx)),
    run('pycom.showKeyFingerprints', 'Show Key Fingerprints', () => {
      const k = listKeyStore(flows.keyStore().dir);
      const problem = flows.keyStoreSettingProblem(false);
      if (!k && problem) return void vscode.window.showWarningMessage(`Pycom: ${problem.text}`);
      if (!k) return void vscode.window.showInformationMessage('Pycom: the key store is empty. Run "Pycom: Generate Keys".');
      const lines = [
        ...(k.signingKey ? [`signing key ${k.signingKey.fingerprint}`] : []),
        ...(k.secureBootKey ? [`secure boot key ${k.secureBootKey}`] : []),
        ...(k.flashKey ? [`flash-encryption key ${k.flashKey.fingerprint}`] : []),
        ...k.deviceKeys.map((d) => `flash-encryption key of ${d.mac} ${d.fingerprint}`),
      ];
      for (const l of lines) log.info(l);
      void vscode.window.showInformationMessage(`Pycom: ${lines.join('; ')}`);
    }),
    run('pycom.openEfuseInspector', 'Open eFuse Inspector', () => {
      if (!state.efuses) state.update({ efuses: fieldTableSnapshot() });
      panel.show('efuses');
    }),
    run('pycom.openFlashProgress', 'Show Flash Progress', () => panel.show('flash')),
    run('pycom.showAuditLog', 'Show Audit Log', async () => {
      const file = flows.keyStore().auditPath;
      if (!fs.existsSync(file)) return void vscode.window.showInformationMessage('Pycom: no audit log yet; it is written when eFuses are burned or a board is flashed.');
      // The audit log holds fingerprints only (the core asserts it), so it can be shown as is.
      await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
    }),
    run('pycom.revealKeyStore', 'Reveal Key Store', async () => {
      const dir = flows.keyStore().dir;
      if (!fs.existsSync(dir)) return void vscode.window.showInformationMessage('Pycom: the key store does not exist yet.');
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
    }),
    run('pycom.refreshDevices', 'Refresh Devices', async () => { await flows.refreshPorts(ctx); ctx.refreshAll(); }),
    run('pycom.refreshKeys', 'Refresh Keys', () => ctx.refreshAll()),
    run('pycom.refreshBuilds', 'Refresh Builds', () => ctx.refreshAll()),
    run('pycom.showLog', 'Show Log', () => log.show()),
  ];
}
