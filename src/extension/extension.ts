import * as vscode from 'vscode';
import { UiState } from './state';
import { NodeTreeProvider } from './trees/node-tree';
import { deviceNodes } from './trees/device-nodes';
import { keysNodes } from './trees/keys-nodes';
import { efuseNodes } from './trees/efuse-nodes';
import { buildsNodes } from './trees/builds-nodes';
import { listKeyStore } from './sources/key-listing';
import { listBuilds } from './sources/build-listing';
import { readSettings, resolveInWorkspace, workspaceRoot } from './settings';
import { StatusBar } from './status-bar';
import { PycomPanel } from './panel';
import { registerCommands } from './commands';
import { registerBuildTasks } from './tasks';
import { registerTestHooks } from './test-hooks';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Pycom Secure', { log: true });
  const state = new UiState();
  const settingsPort = readSettings().port;
  if (settingsPort) state.update({ port: { path: settingsPort, virtual: settingsPort.startsWith('socket://') } });

  const project = (): string | undefined => resolveInWorkspace(readSettings().firmwarePath) ?? workspaceRoot();
  const boardName = (): string => state.port?.board ?? (readSettings().board === 'auto' ? 'board' : readSettings().board);
  const keyDir = (): string | undefined => resolveInWorkspace(readSettings().keyStorePath);

  const trees = {
    'pycom.device': new NodeTreeProvider(() => deviceNodes(state.port, false)),
    'pycom.keys': new NodeTreeProvider(() => { const d = keyDir(); return keysNodes(d ? listKeyStore(d) : undefined); }),
    'pycom.efuses': new NodeTreeProvider(() => efuseNodes(state.efuses, state.previousEfuses)),
    'pycom.builds': new NodeTreeProvider(() => buildsNodes(listBuilds(project(), boardName()))),
  };
  const statusBar = new StatusBar(state, () => listBuilds(project(), boardName()) !== undefined, boardName);
  const panel = new PycomPanel(context.extensionUri, {
    initialMessages: () => [
      ...(state.efuses ? [{ type: 'efuses' as const, snapshot: state.efuses }] : []),
      ...(state.flash ? [{ type: 'flash' as const, progress: state.flash }] : []),
    ],
    onMessage: (m) => {
      if (m.type === 'refreshEfuses') void vscode.commands.executeCommand('pycom.readEfuses');
      if (m.type === 'tabChanged') log.debug(`panel tab ${m.tab}`);
    },
    onInvalidMessage: (error) => log.warn(`ignored a webview message: ${error}`),
  });
  const refreshAll = (): void => {
    for (const t of Object.values(trees)) t.refresh();
    statusBar.update();
  };
  state.onDidChange(() => {
    refreshAll();
    if (state.efuses) panel.post({ type: 'efuses', snapshot: state.efuses });
    if (state.flash) panel.post({ type: 'flash', progress: state.flash });
  });

  context.subscriptions.push(
    log, state, statusBar, panel,
    ...Object.entries(trees).flatMap(([id, t]) => [t, vscode.window.createTreeView(id, { treeDataProvider: t, showCollapseAll: id === 'pycom.efuses' })]),
    ...registerCommands({ log, state, panel, refreshAll }),
    registerBuildTasks(log),
    vscode.workspace.onDidChangeConfiguration((e) => e.affectsConfiguration('pycom') && refreshAll()),
    vscode.workspace.onDidGrantWorkspaceTrust(() => refreshAll()),
  );
  // Key files and build outputs change outside the editor (CLI, make): watch them.
  const watcher = vscode.workspace.createFileSystemWatcher('**/*.{pem,bin}');
  context.subscriptions.push(watcher, watcher.onDidCreate(refreshAll), watcher.onDidDelete(refreshAll), watcher.onDidChange(refreshAll));
  registerTestHooks(context, log);
  log.info(`Pycom Secure activated (workspace trusted: ${vscode.workspace.isTrusted})`);
}

export function deactivate(): void {}
