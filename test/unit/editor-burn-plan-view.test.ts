import { strict as assert } from 'node:assert';
import { planSnapshot } from '../../src/extension/sources/efuse-snapshot';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { planLayout, planPoints } from '../../webview/src/plan-view';
import type { EfuseSnapshot } from '../../webview/src/protocol';
import { FakeNode, fakeDocument } from './helpers/fake-dom';

/*
 * The renderer is typed against the browser's DOM, which the root project (Node) does not load:
 * it is required untyped here (the webview's own tsconfig checks it), and runs on FakeNode (helpers/fake-dom).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { renderEfuses } = require('../../webview/src/efuse-tab') as { renderEfuses(root: unknown, s: EfuseSnapshot | undefined): void };

function plannedSnapshot(hardening: boolean): EfuseSnapshot {
  const dev = new VirtualEsp32({ profile: 'GPY', seed: 'plan-view' });
  const words = dev.efuse.rawWords();
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const plan = planBurnKeys({ words, decStatus: 0 }, {
    target: { chip: 'ESP32', revision: dev.chipRevision, mac },
    flashKey: Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i), secureBootKey: Uint8Array.from({ length: 32 }, (_, i) => i + 1), hardening, history: [],
  });
  return planSnapshot(words, 'GPy (virtual) on socket://127.0.0.1:1', plan);
}

describe('the burn plan in the eFuse inspector', () => {
  fakeDocument();

  it('nests each step\'s protections under it instead of listing them as top-level points', () => {
    const s = plannedSnapshot(true);
    const points = s.plan!.irreversible;
    assert.ok(points.every((p) => !/^then /.test(p.text)), 'no sub-point is a top-level point');
    const protect = points.find((p) => /protect both key blocks/.test(p.text))!;
    assert.deepEqual(protect.sub, ['BLOCK1 and BLOCK2 read as zeros from now on', 'BLOCK1 and BLOCK2 can never be changed']);
    assert.ok(points.find((p) => /^Hardening/.test(p.text))!.sub.some((t) => /^JTAG_DISABLE: /.test(t)));

    const root = new FakeNode('div');
    renderEfuses(root, s);
    const list = root.byTestId('burn-plan')!.all('ol')[0]!;
    assert.equal(list.children.length, points.length, 'one top-level item per step');
    const protectItem = list.children.find((li) => /protect both key blocks/.test(li.textContent))!;
    assert.deepEqual(protectItem.all('li').map((li) => li.textContent), protect.sub, 'sub-points in a nested list');
  });

  it('shows the rows the burn changes first, with before and after, and the unchanged fields after', () => {
    const s = plannedSnapshot(false);
    const layout = planLayout(s);
    assert.deepEqual(layout.changed.map((f) => f.name), ['ABS_DONE_0', 'BLOCK1', 'BLOCK2', 'FLASH_CRYPT_CNT', 'FLASH_CRYPT_CONFIG', 'WR_DIS', 'RD_DIS']);
    assert.ok(layout.unchanged.every(([, fs]) => fs.every((f) => f.after === f.value)));
    assert.deepEqual(layout.blocks.slice(0, 3).map((b) => b.block), [0, 1, 2], 'changed blocks first');
    // After-burn values read like a read of the board would show them.
    assert.equal(layout.changed[0]!.after, 'True');
    assert.match(layout.changed[1]!.after!, /^will hold key [0-9a-f]{16}$/);

    const root = new FakeNode('div');
    renderEfuses(root, s);
    const plan = root.byTestId('burn-plan')!;
    assert.equal(root.children.indexOf(plan), 1, 'the plan comes right after the source line');
    const order = plan.children.map((c) => c.attrs.get('data-testid') ?? c.tag);
    assert.ok(order.indexOf('plan-changes') < order.indexOf('ol'), 'the before/after rows come before the list of what cannot be undone');
    const rows = plan.byTestId('plan-changes')!.all('vscode-table-row');
    assert.deepEqual(rows.map((r) => r.children[0]!.textContent), layout.changed.map((f) => f.name));
    assert.deepEqual(rows[0]!.children.map((c) => c.textContent).slice(0, 3), ['ABS_DONE_0', 'False', 'True']);
    assert.ok(plan.all('vscode-table-header-cell').some((h) => h.textContent === 'After burn'));
    // Below the plan, the category tables hold only what the burn leaves alone.
    const below = root.children.slice(2).flatMap((c) => c.all('vscode-table-row')).map((r) => r.children[0]!.textContent);
    for (const f of layout.changed.filter((x) => x.block === 0)) assert.ok(!below.includes(f.name), `${f.name} is not repeated below`);
  });

  it('a panel state saved by an older version (a flat list) is shown nested', () => {
    assert.deepEqual(planPoints(['Protect the keys — why', 'then BLOCK1 reads as zeros', 'Enable secure boot — why']), [
      { text: 'Protect the keys — why', sub: ['BLOCK1 reads as zeros'] },
      { text: 'Enable secure boot — why', sub: [] },
    ]);
    assert.deepEqual(planPoints([{ text: 'a', sub: ['b', 3] }, 7, null]), [{ text: 'a', sub: ['b'] }]);
  });

  it('without a plan, the inspector lists every field by category with no after-burn column', () => {
    const s = plannedSnapshot(false);
    const root = new FakeNode('div');
    renderEfuses(root, { ...s, plan: undefined, fields: s.fields.map(({ after: _a, ...f }) => f), blocks: s.blocks.map(({ afterHex: _h, ...b }) => b) });
    assert.equal(root.byTestId('burn-plan'), undefined);
    assert.ok(!root.all('vscode-table-header-cell').some((h) => h.textContent === 'After burn'));
    const tables = root.all('vscode-table');
    assert.equal(tables.slice(0, -1).flatMap((t) => t.all('vscode-table-row')).length, s.fields.length, 'every field once, above the raw blocks');
  });
});
