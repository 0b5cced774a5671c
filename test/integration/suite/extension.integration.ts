import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

/**
 * Integration suite: runs inside a real extension host (desktop VS Code through
 * @vscode/test-electron, or code-server through the e2e harness's test hook).
 */
const EXTENSION_ID = 'pycom-secure.pycom-secure';

describe('extension host integration', () => {
  it('activates', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `${EXTENSION_ID} is installed`);
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it('registers every contributed command', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID)!;
    const contributed = (ext.packageJSON.contributes.commands as { command: string }[]).map((c) => c.command);
    const registered = new Set(await vscode.commands.getCommands(true));
    const missing = contributed.filter((c) => !registered.has(c));
    assert.deepEqual(missing, []);
  });

  it('reads its settings with the contributed defaults', () => {
    const c = vscode.workspace.getConfiguration('pycom');
    assert.equal(c.get('keyStorePath'), 'secure');
    assert.equal(c.inspect('baudRate')?.defaultValue, 921600);
  });

  it('opens the eFuse inspector panel', async () => {
    await vscode.commands.executeCommand('pycom.openEfuseInspector');
    const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs);
    assert.ok(tabs.some((t) => t.input instanceof vscode.TabInputWebview && t.input.viewType.endsWith('pycom.panel')), 'a Pycom webview tab is open');
  });

  it('provides the pycom build task', async () => {
    const tasks = await vscode.tasks.fetchTasks({ type: 'pycom' });
    assert.ok(tasks.some((t) => t.name === 'build'));
  });
});
