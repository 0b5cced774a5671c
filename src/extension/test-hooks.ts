import * as vscode from 'vscode';
import * as fs from 'node:fs';
import type { PycomPanel } from './panel';
import { fieldTableSnapshot } from './sources/efuse-snapshot';

/** Markup a hostile device or file name could carry; the webview must show it as text. */
export const MARKUP = '<img src=x onerror="document.title=\'pwned\'"><b id="injected">bold</b>';

/**
 * Runs the integration suites inside whatever extension host loads us (desktop VS Code runs
 * them through @vscode/test-electron; code-server has no such runner, so the e2e harness
 * triggers this command from the palette). Only active when the harness sets
 * PYCOM_SECURE_INTEGRATION_BUNDLE (the bundled suites) and PYCOM_SECURE_INTEGRATION_RESULT
 * (where the outcome is written): a normal install never sees the command.
 */
export function registerTestHooks(context: vscode.ExtensionContext, log: vscode.LogOutputChannel, panel: PycomPanel): void {
  const bundle = process.env.PYCOM_SECURE_INTEGRATION_BUNDLE;
  const result = process.env.PYCOM_SECURE_INTEGRATION_RESULT;
  if (!bundle || !result) return;
  void vscode.commands.executeCommand('setContext', 'pycom.testHooks', true);
  context.subscriptions.push(
    vscode.commands.registerCommand('pycom.test.runIntegration', async () => {
      const started = Date.now();
      try {
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        const suites = require(bundle) as { run(): Promise<{ passed: number; failed: number; failures: string[] }> };
        const r = await suites.run();
        fs.writeFileSync(result, JSON.stringify({ ...r, ms: Date.now() - started }));
        log.info(`integration suites: ${r.passed} passed, ${r.failed} failed`);
      } catch (e) {
        fs.writeFileSync(result, JSON.stringify({ passed: 0, failed: 1, failures: [String(e)] }));
      }
    }),
    // Sends the inspector a snapshot whose source, values and file names carry markup, the way a
    // crafted state file or build folder could; the e2e suite checks nothing is injected.
    vscode.commands.registerCommand('pycom.test.postMarkup', () => {
      const s = fieldTableSnapshot();
      panel.show('efuses');
      panel.post({ type: 'efuses', snapshot: { ...s, source: `fuzz ${MARKUP}`, hasValues: true, fields: s.fields.map((f, i) => (i < 3 ? { ...f, value: MARKUP, raw: MARKUP, description: MARKUP } : f)), blocks: [{ block: 0, hex: MARKUP }] } });
      panel.post({ type: 'flash', progress: { board: MARKUP, state: 'done', regions: [{ name: `${MARKUP}.bin`, address: 0, size: 1, written: 1 }], log: [MARKUP], result: { ok: false, text: MARKUP } } });
    }),
  );
}
