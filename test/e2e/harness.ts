import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium, type Browser, type Frame, type Page } from 'playwright-core';

/**
 * Drives a running code-server (started by scripts/test-e2e.sh) in Debian's chromium.
 * playwright-core only: no browser download, no `npx playwright install`.
 */
export const RESULTS = path.resolve('test-results');
const CHROMIUM = process.env.PYCOM_E2E_CHROMIUM ?? '/usr/bin/chromium';
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

export interface Editor {
  browser: Browser;
  page: Page;
  close(): Promise<void>;
}

export async function openEditor(): Promise<Editor> {
  const url = process.env.PYCOM_E2E_URL;
  if (!url) throw new Error('PYCOM_E2E_URL is not set: run the suite through scripts/test-e2e.sh');
  fs.mkdirSync(RESULTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'pycom-e2e-chromium-'));
  // launchPersistentContext gives the fresh --user-data-dir the brief asks for.
  const context = await chromium.launchPersistentContext(profile, { executablePath: CHROMIUM, headless: true, args: FLAGS, viewport: { width: 1400, height: 900 } });
  const page = context.pages()[0] ?? (await context.newPage());
  // A cold code-server on a busy machine takes longer than playwright's default 30 s for the first load;
  // a failed load must not leave the browser running (mocha would wait for it forever).
  await page.goto(url, { timeout: 120_000 }).catch(async (e: unknown) => { await context.close(); throw e; });
  await page.locator('.monaco-workbench').waitFor({ timeout: 60_000 });
  const browser = context.browser()!;
  return { browser, page, close: async () => { await context.close(); fs.rmSync(profile, { recursive: true, force: true }); } };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  const file = path.join(RESULTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

/** Runs a command through the command palette, as a user would. */
export async function runCommand(page: Page, title: string): Promise<void> {
  await page.locator('.monaco-workbench').click({ position: { x: 700, y: 5 } }).catch(() => undefined);
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ state: 'visible' });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ state: 'visible' });
  await input.press('Enter');
  // Done when the palette closed, or when the command opened its own quick pick / input box
  // in the same widget (the input no longer holds the ">title" the palette was given).
  // (A string, because the repository's tsconfig has no DOM types; it runs in the page.)
  await page.waitForFunction(`(() => {
    const w = document.querySelector('.quick-input-widget');
    const i = w && w.querySelector('input');
    return !w || w.style.display === 'none' || !i || i.value !== ${JSON.stringify(`>${title}`)};
  })()`, undefined, { timeout: 30_000 });
}

/** The Pycom Security view container in the activity bar. */
export async function openPycomView(page: Page): Promise<void> {
  await page.locator('.activitybar [aria-label^="Pycom Security"]').first().click();
  await page.locator('.pane-header', { hasText: 'Device' }).first().waitFor();
}

/** A notification toast whose text contains `text`; `timeoutMs` bounds the wait for slow steps (a build on a busy machine). */
export async function waitForNotification(page: Page, text: string, timeoutMs = 30_000): Promise<string> {
  const toast = page.locator('.notification-toast', { hasText: text }).first();
  await toast.waitFor({ timeout: timeoutMs });
  return (await toast.innerText()).trim();
}

/** The frame that runs our webview app (code-server nests it in two iframes). */
export async function webviewFrame(page: Page, selector: string): Promise<Frame> {
  for (let i = 0; i < 120; i++) {
    for (const f of page.frames()) {
      if (await f.locator(selector).count().catch(() => 0)) return f;
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`no webview frame shows ${selector}`);
}
