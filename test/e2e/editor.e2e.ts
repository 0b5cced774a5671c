import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { openEditor, openPycomView, runCommand, screenshot, waitForNotification, webviewFrame, RESULTS, type Editor } from './harness';

/**
 * The editor, end to end, in code-server + chromium. Steps run in order against one
 * workspace (bail: a later step needs the earlier ones). Later steps slot in here as the core
 * lands: select the virtual GPy, Burn Keys through the typed MAC, flash with the status-bar
 * button to 100%, boot prediction.
 */
describe('Pycom Secure in a real VS Code (code-server)', function () {
  let editor: Editor;
  const page = () => editor.page;

  before(async () => {
    editor = await openEditor();
  });
  after(async () => {
    await editor?.close();
  });

  it('shows the Pycom Security container with its four views', async () => {
    await openPycomView(page());
    for (const name of ['Device', 'Keys', 'eFuses', 'Builds']) {
      await page().locator('.pane-header', { hasText: name }).first().waitFor();
    }
    // The fixture firmware project is found: the Builds view lists it.
    await screenshot(page(), '01-pycom-views');
    await page().locator('.monaco-list-row', { hasText: 'pycom-micropython-sigfox/esp32' }).first().waitFor();
    // The Keys view starts empty and shows its welcome content.
    await page().getByRole('button', { name: 'Generate Keys' }).first().waitFor();
    await screenshot(page(), '01-pycom-views');
  });

  it('shows the flash button in the status bar for the firmware project', async () => {
    const flash = page().locator('.statusbar-item', { hasText: 'Flash GPy' }).first();
    await flash.waitFor();
    assert.match(await flash.innerText(), /Flash GPy/);
  });

  it('"Pycom: Generate Keys" creates keys and the Keys view shows their fingerprints', async () => {
    await runCommand(page(), 'Pycom: Generate Keys');
    const text = await waitForNotification(page(), 'generated signing key');
    const fps = text.match(/\b[0-9a-f]{16}\b/g) ?? [];
    assert.equal(fps.length, 2, `two fingerprints in: ${text}`);
    const signing = page().locator('.monaco-list-row', { hasText: 'Secure boot signing key' }).first();
    await signing.waitFor();
    assert.ok((await signing.innerText()).includes(fps[0]!), 'signing key row shows the notified fingerprint');
    await page().locator('.monaco-list-row', { hasText: 'Flash encryption key (shared)' }).first().waitFor();
    await screenshot(page(), '02-keys-generated');
  });

  it('a command whose core has not landed says so instead of pretending', async () => {
    await runCommand(page(), 'Pycom: Burn Keys');
    await waitForNotification(page(), 'is not available yet');
    await screenshot(page(), '03-burn-keys-not-yet');
  });

  it('opens the eFuse inspector webview with the field table', async () => {
    await runCommand(page(), 'Pycom: Open eFuse Inspector');
    const frame = await webviewFrame(page(), '[data-testid="efuse-source"]');
    const source = await frame.locator('[data-testid="efuse-source"]').innerText();
    assert.match(source, /field table only/);
    // Fields of the security category with their protection bits.
    await frame.locator('vscode-table-cell', { hasText: 'FLASH_CRYPT_CNT' }).first().waitFor();
    await frame.locator('vscode-table-cell', { hasText: 'WR_DIS[' }).first().waitFor();
    await screenshot(page(), '04-efuse-inspector');
  });

  it('runs the integration suites inside code-server\'s extension host', async function () {
    const result = process.env.PYCOM_SECURE_INTEGRATION_RESULT;
    if (!result) throw new Error('PYCOM_SECURE_INTEGRATION_RESULT is not set: run through scripts/test-e2e.sh');
    await runCommand(page(), 'Pycom: Run Integration Suites (test hook)');
    for (let i = 0; i < 120 && !fs.existsSync(result); i++) await page().waitForTimeout(500);
    const r = JSON.parse(fs.readFileSync(result, 'utf8')) as { passed: number; failed: number; failures: string[] };
    fs.copyFileSync(result, path.join(RESULTS, 'integration-in-code-server.json'));
    assert.deepEqual(r.failures, []);
    assert.ok(r.passed > 0, 'some integration tests ran');
  });
});
