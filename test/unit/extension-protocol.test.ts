import * as assert from 'node:assert/strict';
import { parseWebviewMessage, isHostMessage, overallPercent, type FlashProgressView } from '../../webview/src/protocol';
import { panelCsp, panelHtml } from '../../src/extension/panel-html';

describe('webview message protocol', () => {
  it('accepts every well-formed webview message', () => {
    for (const m of [{ type: 'ready' }, { type: 'refreshEfuses' }, { type: 'cancelFlash' }, { type: 'tabChanged', tab: 'flash' }]) {
      const r = parseWebviewMessage(m);
      assert.ok(r.ok, JSON.stringify(r));
      assert.deepEqual(r.message, m);
    }
  });

  it('rejects malformed messages with a clear error', () => {
    const cases: [unknown, RegExp][] = [
      [null, /not an object/],
      [[], /not an object/],
      [{}, /no string "type"/],
      [{ type: 'burnEverything' }, /unknown webview message type/],
      [{ type: 'ready', extra: 1 }, /unexpected field\(s\): extra/],
      [{ type: 'tabChanged', tab: 'keys' }, /unknown tab/],
      [{ type: 'tabChanged' }, /unknown tab/],
    ];
    for (const [raw, err] of cases) {
      const r = parseWebviewMessage(raw);
      assert.equal(r.ok, false);
      if (!r.ok) assert.match(r.error, err);
    }
  });

  it('checks host messages before the webview renders them', () => {
    assert.ok(isHostMessage({ type: 'showTab', tab: 'efuses' }));
    assert.ok(!isHostMessage({ type: 'showTab', tab: 'x' }));
    assert.ok(!isHostMessage({ type: 'efuses', snapshot: { fields: 'no' } }));
  });

  it('computes overall flash progress from the regions', () => {
    const p: FlashProgressView = { board: 'GPy', state: 'running', log: [], regions: [{ name: 'a', address: 0, size: 100, written: 100 }, { name: 'b', address: 0x1000, size: 300, written: 100 }] };
    assert.equal(overallPercent(p), 50);
    assert.equal(overallPercent({ ...p, regions: [], state: 'done' }), 100);
  });
});

describe('webview panel HTML', () => {
  it('has a strict CSP: nothing remote, scripts only with the nonce', () => {
    const csp = panelCsp('https://file+.vscode-resource.vscode-cdn.net', 'N0nce');
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'nonce-N0nce'/);
    assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(csp));
    const html = panelHtml('vscode-resource://main.js', 'vscode-resource:', 'N0nce');
    assert.ok(!/<script(?![^>]*nonce="N0nce")/.test(html), 'every script carries the nonce');
    assert.ok(!/https?:\/\//.test(html), 'no remote resources');
  });
});
