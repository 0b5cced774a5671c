import { settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import { readBoard, type FlowContext } from '../../src/extension/flows';
import { UiState, LAST_READINGS_KEY, type ChipView, type ReadingStore } from '../../src/extension/state';
import { deviceNodes, readTime, shortPort } from '../../src/extension/trees/device-nodes';
import { NodeTreeProvider } from '../../src/extension/trees/node-tree';
import type { UiNode } from '../../src/extension/trees/node-tree';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';

type Keys = ChipView['security']['keys'];
function chip(keys: Partial<Keys> = {}, over: Partial<ChipView> = {}): ChipView {
  return {
    description: 'ESP32-D0WDQ6 (revision v1.0)', revision: 'v1.0', mac: '24:0a:c4:00:00:01', flashSize: '8MB', crystalMhz: 40, virtual: true,
    readAt: new Date().toISOString(),
    security: {
      flashEncryption: { enabled: false, cryptCnt: 0, plaintextFlashesLeft: 3, config: 0 },
      secureBoot: { v1Enabled: false, v2Enabled: false },
      keys: { flashEncryption: 'empty', secureBoot: 'empty', block3: 'empty', ...keys },
      downloadMode: { encryptDisabled: false, decryptDisabled: false, cacheDisabled: false, uartDownloadDisabled: false },
      jtagDisabled: false, consoleDebugDisabled: false,
    },
    ...over,
  };
}
const URL = 'socket://127.0.0.1:37727';
const port = { path: URL, virtual: true, board: 'GPy' };
const rows = (nodes: UiNode[]): Record<string, UiNode> => Object.fromEntries(nodes[0]!.children!.map((c) => [c.id, c]));

/** A workspaceState that outlives the UiState (as VS Code's does across a window reload). */
function memento(): ReadingStore & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return { data, get: <T>(k: string) => data.get(k) as T | undefined, update: async (k: string, v: unknown) => { data.set(k, JSON.parse(JSON.stringify(v))); } };
}

describe('the Device view does not cut off what matters', () => {
  it('splits the long lines into short descriptions and keeps the whole text in tooltips', () => {
    const nodes = deviceNodes(port, chip());
    assert.equal(nodes[0]!.description, '127.0.0.1:37727', 'the port without socket://');
    assert.equal(nodes[0]!.tooltip, `Selected virtual board: ${URL}`);
    const r = rows(nodes);
    assert.equal(r['device/encryption']!.description, 'off');
    assert.match(r['device/encryption']!.tooltip!, /Flash encryption off; 3 plaintext reflashes left/);
    assert.equal(r['device/reflashes']!.description, '3 left');
    assert.equal(r['device/chip']!.description, 'ESP32-D0WDQ6', 'the revision has its own row');
    assert.equal(r['device/chip']!.tooltip, 'ESP32-D0WDQ6 (revision v1.0)');
    assert.equal(r['device/flash']!.description, '8MB');
    // What a 1400x900 sidebar shows whole: label and description within about 32 characters.
    for (const n of nodes[0]!.children!) assert.ok(`${n.label} ${n.description ?? ''}`.length <= 32, `${n.label} ${n.description}`);
    assert.equal(shortPort('/dev/serial/by-id/usb-Microchip_Technology_Inc._Pycom_Expansion-if00'), 'usb-Microchip_Technology_Inc._Pycom_Expansion-if00');
    assert.equal(shortPort('/dev/ttyACM0'), '/dev/ttyACM0');
  });

  it('a row without a tooltip of its own shows its whole text in one', () => {
    const p = new NodeTreeProvider(() => [{ id: 'x', label: 'MAC', description: '24:0a:c4:00:00:01' }, { id: 'y', label: 'Keys', description: 'd', tooltip: 'own' }]);
    const [a, b] = p.getChildren();
    assert.equal(p.getTreeItem(a!).tooltip, 'MAC: 24:0a:c4:00:00:01');
    assert.equal(p.getTreeItem(b!).tooltip, 'own');
  });

  it('warns about keys only when there is something to warn about, and says what', () => {
    for (const k of [{ flashEncryption: 'data' as const, secureBoot: 'data' as const }, { flashEncryption: 'protected' as const }]) {
      const n = rows(deviceNodes(port, chip(k)))['device/keys']!;
      assert.ok(`${n.label} ${n.description}`.length <= 32, n.description);
    }
    const before = rows(deviceNodes(port, chip()))['device/keys']!;
    assert.equal(before.description, 'not burned yet');
    assert.notEqual(before.icon, 'warning', 'no warning before any burn');
    assert.ok(!deviceNodes(port, chip())[0]!.children!.some((n) => /see details|⚠/.test(`${n.label} ${n.description ?? ''}`)));
    assert.equal(rows(deviceNodes(port, chip({ flashEncryption: 'protected', secureBoot: 'protected' })))['device/keys']!.description, 'present & protected');
    const readable = rows(deviceNodes(port, chip({ flashEncryption: 'data', secureBoot: 'protected' })))['device/keys']!;
    assert.equal(readable.description, 'BLOCK1 not protected');
    assert.equal(readable.icon, 'warning');
    const half = rows(deviceNodes(port, chip({ flashEncryption: 'protected', secureBoot: 'empty' })))['device/keys']!;
    assert.equal(half.description, 'BLOCK2 still empty');
  });

  it('marks a reading with its time, and a restored one as saved', () => {
    const at = new Date(2024, 0, 2, 14, 2, 30);
    assert.equal(readTime(at.toISOString(), new Date(2024, 0, 2, 18, 0)), '14:02');
    assert.equal(readTime(at.toISOString(), new Date(2024, 0, 3, 9, 0)), '2024-01-02 14:02');
    const fresh = rows(deviceNodes(port, chip({}, { readAt: at.toISOString() })))['device/read']!;
    assert.match(fresh.label, /^Read (2024-01-02 )?14:02$/);
    assert.equal(fresh.description, undefined);
    const saved = rows(deviceNodes(port, chip({}, { readAt: at.toISOString(), restored: true })))['device/read']!;
    assert.equal(saved.description, 'saved reading');
    assert.match(saved.tooltip!, /kept across a window reload; the board may have changed since/);
    assert.equal(saved.command?.command, 'pycom.readEfuses');
  });
});

describe('the Device view keeps the last reading across a window reload', function () {
  this.timeout(60_000);

  it('Read eFuses on a board, reload: the reading is back, marked with its time, not "Chip not read yet"', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'reload-test' });
    const server = await startSimServer(dev, { port: 0 });
    const url = `socket://127.0.0.1:${server.port}`;
    const store = memento();
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { baudRate: 115200, resetMode: 'auto' });
    try {
      const state = new UiState(store);
      state.update({ port: { path: url, virtual: true, board: 'GPy' } });
      const ctx = { log: fakeLog(), state, panel: { show: () => undefined }, virtuals: { find: () => undefined, list: () => [] }, refreshAll: () => undefined, runBuildTask: async () => 0 } as unknown as FlowContext;
      await readBoard(ctx);
      assert.ok(state.chip && !state.chip.restored);
      const mac = state.chip.mac;

      // The window reloads: a new extension host, a new UiState over the same workspaceState.
      const after = new UiState(store);
      after.update({ port: { path: url, virtual: true, board: 'GPy' } });
      assert.equal(after.chip?.mac, mac);
      assert.equal(after.chip?.restored, true);
      const r = rows(deviceNodes(after.port, after.chip));
      assert.equal(r['device/unread'], undefined, 'not "Chip not read yet"');
      assert.equal(r['device/read']!.label, `Read ${readTime(state.chip.readAt)}`);
      assert.equal(r['device/read']!.description, 'saved reading');
      assert.equal(r['device/mac']!.description, mac);

      // Another port has no reading: it says so; back on the first port, the reading is back.
      after.update({ port: { path: 'socket://127.0.0.1:1', virtual: true } });
      assert.equal(after.chip, undefined);
      after.update({ port: { path: url, virtual: true, board: 'GPy' } });
      assert.equal((after.chip as ChipView | undefined)?.mac, mac);
      // What is stored is the display view: no key block, word or key file content.
      const saved = JSON.stringify(store.data.get(LAST_READINGS_KEY));
      assert.deepEqual(Object.keys(JSON.parse(saved)[url]).sort(), ['crystalMhz', 'description', 'flashSize', 'mac', 'readAt', 'revision', 'security', 'virtual']);
      assert.ok(!/restored/.test(saved));
    } finally {
      await server.close();
    }
  });

  it('a saved reading that does not check out is dropped, not shown', () => {
    const store = memento();
    store.data.set(LAST_READINGS_KEY, { [URL]: { mac: 1 }, 'socket://127.0.0.1:2': 'x' });
    const s = new UiState(store);
    s.update({ port });
    assert.equal(s.chip, undefined);
    store.data.set(LAST_READINGS_KEY, 'nonsense');
    assert.equal(new UiState(store).savedReading(URL), undefined);
  });
});
