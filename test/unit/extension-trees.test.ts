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
import { fieldTableSnapshot, snapshotFromWords } from '../../src/extension/sources/efuse-snapshot';
import { emptyWords, withField, field } from '../../src/core/efuse/fields';

describe('extension tree providers', () => {
  it('show nothing (so the welcome content appears) when there is no data', () => {
    assert.deepEqual(deviceNodes(undefined, false), []);
    assert.deepEqual(keysNodes(undefined), []);
    assert.deepEqual(efuseNodes(undefined, undefined), []);
    assert.deepEqual(efuseNodes(fieldTableSnapshot(), undefined), [], 'the field table alone has no values to list');
    assert.deepEqual(buildsNodes(undefined), []);
  });

  it('mark a virtual board as virtual and say what is not read yet', () => {
    const [n] = deviceNodes({ path: 'socket://127.0.0.1:5555', virtual: true, board: 'GPy' }, false);
    assert.equal(n!.label, 'GPy (virtual)');
    assert.equal(n!.icon, 'beaker');
    assert.match(n!.children![0]!.description!, /not available yet/);
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
