import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { listPorts, describePort } from '../core/transport/ports';
import { readSettings, resolveInWorkspace } from './settings';
import { showError, notAvailable } from './errors';
import { generateMissingKeys } from './keys-actions';
import { listKeyStore } from './sources/key-listing';
import { fieldTableSnapshot } from './sources/efuse-snapshot';
import type { UiState } from './state';
import type { PycomPanel } from './panel';

export interface CommandContext {
  log: vscode.LogOutputChannel;
  state: UiState;
  panel: PycomPanel;
  refreshAll(): void;
}

/**
 * Commands whose core is not in this build yet, with what is missing. They stay in the palette
 * (the walkthrough and views point at them) but say so instead of pretending to work.
 */
export const NOT_YET: Readonly<Record<string, { title: string; missing: string }>> = {
  'pycom.enterDownloadMode': { title: 'Enter Download Mode', missing: 'the reset/download-mode sequences (src/core/connect) are not wired to the editor yet' },
  'pycom.readEfuses': { title: 'Read eFuses', missing: 'reading eFuses through the ROM loader is not wired to the editor yet' },
  'pycom.burnKeys': { title: 'Burn Keys', missing: 'the burn-keys plan and typed-MAC confirmation are not wired to the editor yet' },
  'pycom.buildFirmware': { title: 'Build Secure Firmware', missing: 'the secure firmware build (src/core/firmware) is not wired to the editor yet' },
  'pycom.flashFirmware': { title: 'Flash Secure Firmware', missing: 'the flash engine (src/core/flash) has not landed' },
  'pycom.prepareOtaImage': { title: 'Prepare OTA Image', missing: 'OTA image preparation (src/core/ota) has not landed' },
  'pycom.rehearseVirtual': { title: 'Rehearse on Virtual Board', missing: 'the virtual ESP32 (src/core/virtual) has not landed' },
  'pycom.openSerialMonitor': { title: 'Open Serial Monitor', missing: 'the serial monitor has not landed' },
  'pycom.importKey': { title: 'Import Key', missing: 'key import (validate, copy, fingerprint) is not in the core yet' },
};

/** Commands that change a board or run project code: refused in untrusted workspaces. */
export const NEEDS_TRUST = new Set(['pycom.burnKeys', 'pycom.buildFirmware', 'pycom.flashFirmware', 'pycom.prepareOtaImage']);

function keyStoreDir(): string | undefined {
  return resolveInWorkspace(readSettings().keyStorePath);
}

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  const { log, state, panel } = ctx;
  const run = (id: string, what: string, fn: () => Promise<void> | void): vscode.Disposable =>
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

  const disposables: vscode.Disposable[] = Object.entries(NOT_YET).map(([id, n]) => run(id, n.title, () => notAvailable(log, n.title, n.missing)));

  disposables.push(
    run('pycom.selectPort', 'Select Port', async () => {
      const listing = await listPorts();
      if (listing.warning) log.warn(listing.warning);
      type Item = vscode.QuickPickItem & { path?: string; board?: string };
      const items: Item[] = listing.ports.map((p) => ({ label: p.path, description: p.board?.name ?? '', detail: describePort(p), path: p.path, ...(p.board ? { board: p.board.name } : {}) }));
      items.push({ label: '$(edit) Enter a port or socket:// URL…' });
      const pick = await vscode.window.showQuickPick(items, { title: 'Pycom: Select Port', placeHolder: items.length > 1 ? 'Pycom boards are listed first' : 'No serial ports found' });
      if (!pick) return;
      const chosen = pick.path ?? (await vscode.window.showInputBox({ title: 'Port', prompt: 'A serial device (/dev/ttyACM0, COM3) or a virtual board (socket://127.0.0.1:PORT)', value: readSettings().port }));
      if (!chosen) return;
      const virtual = chosen.startsWith('socket://');
      state.update({ port: { path: chosen, virtual, ...(pick.board ? { board: pick.board } : virtual ? { board: 'virtual board' } : {}) } });
      await vscode.workspace.getConfiguration('pycom').update('port', chosen, vscode.ConfigurationTarget.Workspace);
      log.info(`selected port ${chosen}`);
    }),
    run('pycom.generateKeys', 'Generate Keys', async () => {
      const dir = keyStoreDir();
      if (!dir) throw new Error('open a folder first: the key store lives inside the workspace');
      const { created, kept } = generateMissingKeys(dir, readSettings().perDeviceKeys, fs.existsSync);
      for (const k of created) log.info(`generated ${k.what} ${k.path} (fingerprint ${k.fingerprint})`);
      ctx.refreshAll();
      const keptText = kept.length ? ` Kept existing: ${kept.join(', ')}.` : '';
      const text = created.length ? `Pycom: generated ${created.map((k) => `${k.what} ${k.fingerprint}`).join(', ')}.${keptText}` : `Pycom: the key store already has its keys.${keptText}`;
      const warning = listKeyStore(dir)?.gitWarning;
      if (warning) void vscode.window.showWarningMessage(warning);
      void vscode.window.showInformationMessage(text);
    }),
    run('pycom.showKeyFingerprints', 'Show Key Fingerprints', () => {
      const dir = keyStoreDir();
      const k = dir ? listKeyStore(dir) : undefined;
      if (!k) return void vscode.window.showInformationMessage('Pycom: the key store is empty. Run "Pycom: Generate Keys".');
      const lines = [
        ...(k.signingKey ? [`signing key ${k.signingKey.fingerprint}`] : []),
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
      const dir = keyStoreDir();
      const file = dir ? `${dir}/audit.jsonl` : undefined;
      if (!file || !fs.existsSync(file)) return void vscode.window.showInformationMessage('Pycom: no audit log yet; it is written when eFuses are burned or a board is flashed.');
      // The audit log holds fingerprints only (the core asserts it), so it can be shown as is.
      await vscode.window.showTextDocument(vscode.Uri.file(file), { preview: true });
    }),
    run('pycom.revealKeyStore', 'Reveal Key Store', async () => {
      const dir = keyStoreDir();
      if (!dir || !fs.existsSync(dir)) return void vscode.window.showInformationMessage('Pycom: the key store does not exist yet.');
      await vscode.commands.executeCommand('revealInExplorer', vscode.Uri.file(dir));
    }),
    run('pycom.refreshDevices', 'Refresh Devices', () => ctx.refreshAll()),
    run('pycom.refreshKeys', 'Refresh Keys', () => ctx.refreshAll()),
    run('pycom.refreshBuilds', 'Refresh Builds', () => ctx.refreshAll()),
    run('pycom.showLog', 'Show Log', () => log.show()),
  );
  return disposables;
}
