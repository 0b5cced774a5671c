import * as assert from 'node:assert/strict';
import { DEFAULT_TAB, parseWebviewState, TAB_LABELS, TABS, tabRootId, type EfuseSnapshot } from '../../webview/src/protocol';
import { panelHtml, tabsMarkup } from '../../src/extension/panel-html';

const snapshot: EfuseSnapshot = { source: 'virtual GPy', hasValues: false, fields: [], blocks: [] };

describe('the panel tab markup', () => {
  it('has one header and one panel per tab, in the order of TABS', () => {
    const html = panelHtml('vscode-resource://main.js', 'vscode-resource:', 'N0nce');
    const headers = [...html.matchAll(/<vscode-tab-header slot="header" id="tab-([^"]+)">([^<]*)</g)].map((m) => [m[1], m[2]]);
    assert.deepEqual(headers, TABS.map((t) => [t, TAB_LABELS[t]]));
    const roots = [...html.matchAll(/<vscode-tab-panel><div id="([^"]+)">/g)].map((m) => m[1]);
    assert.deepEqual(roots, TABS.map(tabRootId));
    // Header i is followed by its own panel (vscode-tabs pairs them by position).
    const order = [...html.matchAll(/id="(tab-[^"]+|[^"]+-root)"/g)].map((m) => m[1]);
    assert.deepEqual(order, TABS.flatMap((t) => [`tab-${t}`, tabRootId(t)]));
    assert.ok(html.includes(tabsMarkup()));
  });
});

describe('saved panel state (untrusted)', () => {
  it('keeps a well-formed state as it is', () => {
    for (const tab of TABS) {
      const r = parseWebviewState({ tab, efuses: snapshot });
      assert.deepEqual(r, { state: { tab, efuses: snapshot } });
    }
    assert.deepEqual(parseWebviewState(undefined), { state: { tab: DEFAULT_TAB } }, 'no saved state is normal, not an error');
  });

  it('falls back to the default tab on anything odd, keeps what checks out, and says why in one sentence', () => {
    const bad: unknown[] = [
      null, 42, 'flash', [], ['flash'], {}, { tab: 'keys' }, { tab: 1 }, { tab: null }, { tab: ['flash'] }, { tab: { toString: 'flash' } },
      { tab: '<img src=x onerror=alert(1)>' }, { tab: 'x'.repeat(10_000) }, { tab: 'flash', efuses: 'no' }, { tab: 'flash', flash: { regions: 3 } },
      { tab: 'flash', extra: true }, JSON.parse('{"tab":"__proto__","__proto__":{"polluted":true}}'), { tab: 10n },
    ];
    for (const raw of bad) {
      let r: ReturnType<typeof parseWebviewState> | undefined;
      assert.doesNotThrow(() => (r = parseWebviewState(raw)));
      assert.ok(r?.error, `an error for ${String(raw)}`);
      assert.ok(!r.error.includes('\n') && r.error.length < 200, `one short sentence: ${r.error}`);
      assert.match(r.error, /^saved panel state /);
      assert.ok((TABS as readonly string[]).includes(r.state.tab));
    }
    assert.equal(parseWebviewState({ tab: 'keys', efuses: snapshot }).state.tab, DEFAULT_TAB);
    assert.deepEqual(parseWebviewState({ tab: 'keys', efuses: snapshot }).state.efuses, snapshot, 'the valid snapshot is not lost');
    assert.deepEqual(parseWebviewState({ tab: 'flash', efuses: 'no' }).state, { tab: 'flash' }, 'a good tab survives a bad snapshot');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('the panel after a window reload', () => {
  // Loaded here, not at the top: only these tests need the vscode stand-in.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mock = require('./helpers/vscode-mock') as typeof import('./helpers/vscode-mock');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { PycomPanel, registerPanelSerializer, PANEL_VIEW_TYPE } = require('../../src/extension/panel') as typeof import('../../src/extension/panel');

  function setUp() {
    const seen = { messages: [] as unknown[], invalidMessages: [] as string[], invalidStates: [] as string[] };
    const panel = new PycomPanel(mock.Uri.file('/ext') as never, {
      initialMessages: () => [{ type: 'efuses', snapshot }],
      onMessage: (m) => seen.messages.push(m),
      onInvalidMessage: (e) => seen.invalidMessages.push(e),
      onInvalidState: (e) => seen.invalidStates.push(e),
    });
    const registration = registerPanelSerializer(panel);
    const serializer = mock.panelSerializers.get(PANEL_VIEW_TYPE);
    assert.ok(serializer, `a serializer for ${PANEL_VIEW_TYPE}`);
    const revive = async (state: unknown) => {
      const fake = new mock.FakeWebviewPanel();
      await serializer.deserializeWebviewPanel(fake, state);
      return fake;
    };
    return { panel, seen, revive, registration };
  }
  const nonceOf = (html: string): string => /script-src 'nonce-([^']+)'/.exec(html)?.[1] ?? '';

  it('registers a serializer for the panel view type, and activation can be triggered by it', () => {
    const { registration } = setUp();
    registration.dispose();
    assert.equal(mock.panelSerializers.has(PANEL_VIEW_TYPE), false);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require('../../package.json') as { activationEvents: string[] };
    assert.ok(pkg.activationEvents.includes(`onWebviewPanel:${PANEL_VIEW_TYPE}`));
  });

  it('gives the revived panel the HTML with a fresh nonce, the handlers and the saved tab', async () => {
    const { panel, seen, revive, registration } = setUp();
    const first = await revive({ tab: 'flash', efuses: snapshot });
    const html = first.webview.html;
    assert.match(html, /<vscode-tabs id="tabs">/);
    const nonce = nonceOf(html);
    assert.ok(nonce.length >= 16, 'a nonce in the CSP');
    assert.ok(!/<script(?![^>]*nonce=")/.test(html) && html.includes(`<script nonce="${nonce}"`), 'the script carries it');
    assert.deepEqual((first.webview as { options?: { enableScripts?: boolean } }).options?.enableScripts, true);
    assert.equal(panel.visible, true);

    first.fromWebview({ type: 'ready' });
    assert.deepEqual(first.posted, [{ type: 'efuses', snapshot }, { type: 'showTab', tab: 'flash' }]);
    first.fromWebview({ type: 'tabChanged', tab: 'efuses' });
    first.fromWebview({ type: 'burnKeys' });
    assert.deepEqual(seen.messages, [{ type: 'ready' }, { type: 'tabChanged', tab: 'efuses' }]);
    assert.equal(seen.invalidMessages.length, 1, 'the revived panel checks messages too');
    assert.deepEqual(seen.invalidStates, []);
    // The host posts to the revived panel, and showing the panel reuses it.
    panel.show('efuses');
    assert.deepEqual(first.posted.at(-1), { type: 'showTab', tab: 'efuses' });

    // Another reload: a new load, so a new nonce.
    first.dispose();
    assert.equal(panel.visible, false);
    const second = await revive({ tab: 'efuses' });
    assert.notEqual(nonceOf(second.webview.html), nonce);
    second.fromWebview({ type: 'ready' });
    assert.deepEqual(second.posted.at(-1), { type: 'showTab', tab: 'efuses' });
    second.dispose();
    registration.dispose();
  });

  it('opens a revived panel with a bad saved state on the default tab, without throwing, and logs it once', async () => {
    const { seen, revive, registration } = setUp();
    const bad: unknown[] = [null, 'flash', 7, [], { tab: 'keys' }, { tab: 3 }, { tab: null }, { tab: 'flash', flash: 'no' }];
    for (const state of bad) {
      const fake = await revive(state);
      assert.match(fake.webview.html, /<vscode-tabs id="tabs">/, 'the panel still works');
      fake.fromWebview({ type: 'ready' });
      const tab = state && typeof state === 'object' && !Array.isArray(state) && (state as { tab?: unknown }).tab === 'flash' ? 'flash' : DEFAULT_TAB;
      assert.deepEqual(fake.posted.at(-1), { type: 'showTab', tab });
      fake.dispose();
    }
    assert.equal(seen.invalidStates.length, bad.length, 'one sentence per bad state');
    for (const e of seen.invalidStates) assert.ok(!e.includes('\n') && /^saved panel state /.test(e), e);
    // No saved state at all is normal: default tab, nothing logged.
    const fresh = await revive(undefined);
    fresh.fromWebview({ type: 'ready' });
    assert.deepEqual(fresh.posted.at(-1), { type: 'showTab', tab: DEFAULT_TAB });
    assert.equal(seen.invalidStates.length, bad.length);
    fresh.dispose();
    registration.dispose();
  });

  it('keeps the one panel when a command opened it before VS Code revived the old one', async () => {
    const { panel, registration } = setUp();
    panel.show('flash');
    const opened = mock.createdPanels.at(-1)!;
    let revivedDisposed = false;
    const fake = new mock.FakeWebviewPanel();
    fake.onDidDispose(() => (revivedDisposed = true));
    await mock.panelSerializers.get(PANEL_VIEW_TYPE)!.deserializeWebviewPanel(fake, { tab: 'efuses' });
    assert.ok(revivedDisposed, 'the late revived panel is closed');
    assert.equal(fake.webview.html, '');
    panel.post({ type: 'showTab', tab: 'efuses' });
    assert.deepEqual(opened.posted.at(-1), { type: 'showTab', tab: 'efuses' }, 'the host still talks to the open panel');
    assert.equal(panel.visible, true);
    opened.dispose();
    registration.dispose();
  });
});
