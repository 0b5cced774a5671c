import './helpers/vscode-mock';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { NodeTreeProvider } from '../../src/extension/trees/node-tree';
import { deviceNodes } from '../../src/extension/trees/device-nodes';
import { keysNodes } from '../../src/extension/trees/keys-nodes';
import { efuseNodes } from '../../src/extension/trees/efuse-nodes';
import { buildsNodes } from '../../src/extension/trees/builds-nodes';
import { listKeyStore } from '../../src/extension/sources/key-listing';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { fieldTableSnapshot, snapshotFromWords, planSnapshot } from '../../src/extension/sources/efuse-snapshot';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { emptyWords, withField, field } from '../../src/core/efuse/fields';

describe('extension tree providers', () => {
  it('show nothing (so the welcome content appears) when there is no data', () => {
    assert.deepEqual(deviceNodes(undefined, undefined), []);
    assert.deepEqual(keysNodes(undefined), []);
    assert.deepEqual(efuseNodes(undefined, undefined), []);
    assert.deepEqual(efuseNodes(fieldTableSnapshot(), undefined), [], 'the field table alone has no values to list');
    assert.deepEqual(buildsNodes(undefined), []);
  });

  it('mark a virtual board as virtual and say what is not read yet', () => {
    const [n] = deviceNodes({ path: "socket://127.0.0.1:5555", virtual: true, board: "GPy" }, undefined);
    assert.equal(n!.label, 'GPy (virtual)');
    assert.equal(n!.icon, 'beaker');
    assert.match(n!.children![0]!.label, /not read yet/);
    assert.equal(n!.children![0]!.command?.command, 'pycom.readEfuses');
  });

  it('show the chip and its security state once read, and other ports (virtual ones marked)', () => {
    const security = {
      flashEncryption: { enabled: true, cryptCnt: 1, plaintextFlashesLeft: 3, config: 'protected' as const },
      secureBoot: { v1Enabled: true, v2Enabled: false },
      keys: { flashEncryption: 'protected' as const, secureBoot: 'protected' as const, block3: 'empty' as const },
      downloadMode: { encryptDisabled: false, decryptDisabled: false, cacheDisabled: false, uartDownloadDisabled: false },
      jtagDisabled: false, consoleDebugDisabled: false,
    };
    const chip = { description: 'ESP32-D0WDQ6 (revision v1.0)', revision: 'v1.0', mac: '24:0a:c4:00:00:01', flashSize: '8MB', crystalMhz: 40, security, virtual: true, readAt: '' };
    const nodes = deviceNodes({ path: 'socket://127.0.0.1:1', virtual: true, board: 'GPy' }, chip, [{ path: 'socket://127.0.0.1:1', virtual: true }, { path: '/dev/ttyACM0', virtual: false, board: 'Pysense' }, { path: 'socket://127.0.0.1:2', virtual: true, board: 'GPy' }]);
    const rows = Object.fromEntries(nodes[0]!.children!.map((c) => [c.label, c.description]));
    assert.equal(rows.MAC, '24:0a:c4:00:00:01');
    assert.equal(rows.Revision, 'v1.0');
    assert.match(rows['Flash size']!, /8MB/);
    assert.equal(rows['Flash encryption'], 'on');
    assert.equal(rows['Plaintext reflashes'], '3 left');
    assert.equal(rows['Secure boot v1'], 'on');
    assert.equal(rows.Keys, 'present & protected');
    const others = nodes[1]!.children!;
    assert.deepEqual(others.map((o) => o.label), ['Pysense', 'GPy (virtual)'], 'the selected port is not repeated');
  });

  it('show each build output with the role, address and state the core verified', () => {
    const [n] = buildsNodes({ project: '/x/pycom-micropython-sigfox/esp32', board: 'GPY', generation: 'D', outputs: [
      { name: 'gpy.bin_enc', path: '/b/gpy.bin_enc', size: 10, role: 'app', address: 0x10000, encrypted: true, decryptsValid: true },
      { name: 'lib/partitions_8MB.bin', path: '/b/p', size: 10, role: 'partition-table', address: 0x8000, encrypted: false, signed: false },
    ] });
    assert.equal(n!.description, 'GPY · generation D');
    assert.equal(n!.children![0]!.description, 'app · @ 0x10000 · encrypted · decrypts with your key');
    assert.equal(n!.children![0]!.icon, 'lock');
    assert.equal(n!.children![1]!.icon, 'warning', 'an unsigned table is flagged');
  });

  it('show a burn plan with after-burn values and never a key byte', () => {
    const flashKey = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i);
    const sbk = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'tree-test' });
    const words = dev.efuse.rawWords();
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const plan = planBurnKeys({ words, decStatus: 0 }, { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey, secureBootKey: sbk, hardening: false, history: [] });
    const s = planSnapshot(words, 'test', plan);
    assert.equal(s.plan!.mac, mac);
    assert.ok(s.plan!.irreversible.length >= 3);
    assert.notEqual(s.fields.find((f) => f.name === 'ABS_DONE_0')!.after, s.fields.find((f) => f.name === 'ABS_DONE_0')!.value, 'ABS_DONE_0 changes');
    assert.notEqual(s.blocks[0]!.afterHex, s.blocks[0]!.hex, 'BLOCK0 words change');
    assert.match(s.blocks[1]!.afterHex!, /will hold key [0-9a-f]{16}/);
    const text = JSON.stringify(s).toLowerCase();
    for (const k of [flashKey, sbk]) {
      const hex = Buffer.from(k).toString('hex');
      // Neither the bytes nor any 4-byte run of them (as a BLOCK word would show, in either order).
      for (let i = 0; i + 4 <= 32; i += 4) {
        assert.ok(!text.includes(hex.slice(i * 2, i * 2 + 8)) && !text.includes(Buffer.from(k.subarray(i, i + 4)).reverse().toString('hex')), 'no key bytes');
      }
    }
  });

  it('turn nodes into tree items with icons and expandable parents', () => {
    const p = new NodeTreeProvider(() => keysNodes({ dir: '/k', deviceKeys: [{ mac: '24:0a:c4:00:00:01', path: '/k/d', fingerprint: '0011223344556677' }] }));
    const [parent] = p.getChildren();
    const item = p.getTreeItem(parent!);
    assert.equal(item.collapsibleState, 2);
    const [child] = p.getChildren(parent);
    assert.equal(p.getTreeItem(child!).description, '0011223344556677');
  });

  it('list generated keys by fingerprint only and warn when the store is tracked by git', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-keys-'));
    try {
      const { created } = generateMissingKeys(path.join(dir, 'secure'), false, fs.existsSync);
      assert.equal(created.length, 2);
      const listing = listKeyStore(path.join(dir, 'secure'))!;
      assert.equal(listing.signingKey!.fingerprint, created[0]!.fingerprint);
      assert.equal(listing.flashKey!.fingerprint, created[1]!.fingerprint);
      const nodes = keysNodes(listing);
      const text = JSON.stringify(nodes);
      const keyHex = Buffer.from(fs.readFileSync(listing.flashKey!.path)).toString('hex');
      assert.ok(!text.includes(keyHex), 'no key bytes in the view');
      assert.deepEqual(nodes.map((n) => n.label).filter((l) => l.includes('key')), ['Secure boot signing key', 'Flash encryption key (shared)']);
      assert.deepEqual(nodes[0]!.children!.map((c) => c.label), ['Public key (verifies signatures)', 'Derived secure boot key (BLOCK2)']);
      assert.match(listing.secureBootKey!, /^[0-9a-f]{16}$/);
      // A second run keeps the existing keys (the core never overwrites key files).
      assert.equal(generateMissingKeys(path.join(dir, 'secure'), false, fs.existsSync).created.length, 0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
    assert.equal(keysNodes({ dir: '/k', deviceKeys: [], gitWarning: 'tracked' })[0]!.icon, 'warning');
  });

  it('group eFuses by category, lock protected fields and highlight changes since the last read', () => {
    const before = snapshotFromWords(emptyWords(), 'test');
    let words = withField(emptyWords(), field('FLASH_CRYPT_CNT'), 1);
    words = withField(words, field('WR_DIS'), 1 << 2);
    const after = snapshotFromWords(words, 'test');
    const nodes = efuseNodes(after, before);
    const flash = nodes.find((n) => n.label === 'flash')!.children!;
    const cnt = flash.find((n) => n.label === 'FLASH_CRYPT_CNT')!;
    assert.equal(cnt.icon, 'diff-modified');
    assert.match(cnt.description!, /was 0/);
    const unchanged = efuseNodes(after, after).find((n) => n.label === 'flash')!.children!.find((n) => n.label === 'FLASH_CRYPT_CNT')!;
    assert.equal(unchanged.icon, 'lock', 'WR_DIS bit 2 protects FLASH_CRYPT_CNT');
  });

  it('never put key block bytes into an eFuse snapshot', () => {
    const key = Buffer.alloc(32, 0xa5);
    const s = snapshotFromWords(withField(emptyWords(), field('BLOCK1'), key), 'test');
    const text = JSON.stringify(s);
    assert.ok(!text.toLowerCase().includes('a5a5a5a5'), 'key bits are masked');
    assert.match(s.fields.find((f) => f.name === 'BLOCK1')!.value, /fingerprint [0-9a-f]{16}/);
  });

  it('list a firmware project with its build outputs', () => {
    const [n] = buildsNodes({ project: '/x/pycom-micropython-sigfox/esp32', board: 'GPy', outputs: [] });
    assert.equal(n!.label, 'pycom-micropython-sigfox/esp32');
    assert.equal(n!.children![0]!.label, 'No build outputs yet');
  });
});
