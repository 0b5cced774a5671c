import * as vscode from 'vscode';
import { UiState } from './state';
import { NodeTreeProvider } from './trees/node-tree';
import { deviceNodes } from './trees/device-nodes';
import { keysNodes } from './trees/keys-nodes';
import { efuseNodes } from './trees/efuse-nodes';
import { buildsNodes } from './trees/builds-nodes';
import { listKeyStore } from './sources/key-listing';
import { listBuilds } from './sources/build-listing';
import { applyPkcs11Module, readSettings, resolveInWorkspace, workspaceRoot } from './settings';
import { StatusBar } from './status-bar';
import { PycomPanel, registerPanelSerializer } from './panel';
import { registerCommands } from './commands';
import { lastBuildError, registerBuildTasks, runBuildTask } from './tasks';
import { VirtualBoards } from './virtual-boards';
import { exportRecords, firmwarePathProblem, keyStoreSettingProblem, refreshPorts, stopProvisioning, type FlowContext } from './flows';
import { showError } from './errors';
import { isSocketUrl, KeyStore, readHardwareKeyFile } from '../core';
import * as fs from 'node:fs';
import { registerTestHooks } from './test-hooks';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Pycom Secure', { log: true });
  applyPkcs11Module();
  // The last reading of each port is kept in workspaceState, so a window reload does not lose it.
  const state = new UiState(context.workspaceState);
  const settingsPort = readSettings().port;
  if (settingsPort) state.update({ port: { path: settingsPort, virtual: isSocketUrl(settingsPort), ...(settingsPort.startsWith('socket://') ? { board: 'Virtual board' } : {}) } });
  const virtuals = new VirtualBoards();

  const project = (): string | undefined => resolveInWorkspace(readSettings().firmwarePath) ?? workspaceRoot();
  // The module name the user chose (pycom.board) reads better on the button than a port's label.
  const boardName = (): string => (readSettings().board !== 'auto' ? readSettings().board : state.port?.board ?? 'board');
  const keyDir = (): string | undefined => resolveInWorkspace(readSettings().keyStorePath);

  // The Builds view decrypts outputs with the shared key to say whether they match it; only the
  // verdict leaves this function.
  const sharedKey = (): Uint8Array | undefined => {
    const d = keyDir();
    const f = d ? new KeyStore(d).sharedFlashKeyPath : undefined;
    try {
      return f && fs.existsSync(f) ? readHardwareKeyFile(f, 'flash-encryption') : undefined;
    } catch {
      return undefined;
    }
  };
  const builds = () => listBuilds(project(), readSettings().board, sharedKey());
  const trees = {
    'pycom.device': new NodeTreeProvider(() => deviceNodes(state.port, state.chip, state.ports)),
    'pycom.keys': new NodeTreeProvider(() => { const d = keyDir(); return keysNodes(d ? listKeyStore(d) : undefined, keyStoreSettingProblem(false)); }),
    'pycom.efuses': new NodeTreeProvider(() => efuseNodes(state.efuses, state.previousEfuses)),
    'pycom.builds': new NodeTreeProvider(() => buildsNodes(builds(), firmwarePathProblem())),
  };
  const statusBar = new StatusBar(state, () => listBuilds(project(), readSettings().board) !== undefined, boardName);
  const panel = new PycomPanel(context.extensionUri, {
    initialMessages: () => [
      ...(state.efuses ? [{ type: 'efuses' as const, snapshot: state.efuses }] : []),
      ...(state.flash ? [{ type: 'flash' as const, progress: state.flash }] : []),
      ...(state.production ? [{ type: 'production' as const, view: state.production }] : []),
    ],
    onMessage: (m) => {
      if (m.type === 'refreshEfuses') void vscode.commands.executeCommand('pycom.readEfuses');
      if (m.type === 'cancelFlash') {
        log.info('flash: cancel requested from the panel');
        ctx.flashAbort?.abort();
      }
      if (m.type === 'stopProduction') stopProvisioning(ctx);
      if (m.type === 'exportRecords') void exportRecords(ctx, m.format).catch((e: unknown) => showError(log, 'Pycom: Export Board Records', e));
      if (m.type === 'tabChanged') log.debug(`panel tab ${m.tab}`);
    },
    onInvalidMessage: (error) => log.warn(`ignored a webview message: ${error}`),
    onInvalidState: (error) => log.warn(`restoring the Pycom panel: ${error}`),
  });
  const refreshAll = (): void => {
    for (const t of Object.values(trees)) t.refresh();
    statusBar.update();
  };
  // Post only what changed: flash progress arrives several times a second and must not
  // re-send (and re-render) the whole eFuse table each time.
  let postedEfuses: unknown;
  let postedFlash: unknown;
  let postedProduction: unknown;
  state.onDidChange(() => {
    refreshAll();
    if (state.efuses && state.efuses !== postedEfuses) panel.post({ type: 'efuses', snapshot: state.efuses });
    if (state.flash && state.flash !== postedFlash) panel.post({ type: 'flash', progress: state.flash });
    postedEfuses = state.efuses;
    if (state.production && state.production !== postedProduction) panel.post({ type: 'production', view: state.production });
    postedFlash = state.flash;
    postedProduction = state.production;
  });
  const ctx: FlowContext = { log, state, panel, virtuals, refreshAll, runBuildTask: () => runBuildTask(log), lastBuildError };

  context.subscriptions.push(
    log, state, statusBar, panel, virtuals, registerPanelSerializer(panel),
    ...Object.entries(trees).flatMap(([id, t]) => [t, vscode.window.createTreeView(id, { treeDataProvider: t, showCollapseAll: id === 'pycom.efuses' })]),
    ...registerCommands(ctx),
    registerBuildTasks(log),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (!e.affectsConfiguration('pycom')) return;
      applyPkcs11Module();
      refreshAll();
    }),
    vscode.workspace.onDidGrantWorkspaceTrust(() => refreshAll()),
  );
  // Key files and build outputs change outside the editor (CLI, make): watch them.
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.{pem,bin}');
  context.subscriptions.push(watcher, watcher.onDidCreate(refreshAll), watcher.onDidDelete(refreshAll), watcher.onDidChange(refreshAll));
  registerTestHooks(context, log, panel);
  // The port list (and a virtual board from settings) without waiting for the user to ask.
  void refreshPorts(ctx).catch((e: unknown) => log.warn(`could not list serial ports: ${e instanceof Error ? e.message : String(e)}`));
  log.info(`Pycom Secure activated (workspace trusted: ${vscode.workspace.isTrusted})`);
}

export function deactivate(): void {}
