import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { burnKeys as editorBurnKeys, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { burnKeys, withBoard, scriptedUi, KeyStore, digestPrivateKey, readSigningKeyFile, readHardwareKeyFile, type BurnKeysOutcome } from '../../src/core';

/**
 * A new-user editor trial: Burn Keys on a board already burned by key store `secure/`, with
 * pycom.keyStorePath pointing at another store (another one's keys, or an empty folder). The
 * refusal names the wrong key store as the cause and the editor's setting, never a CLI flag as
 * the editor's way, nor "Generate Keys"; nothing is burned or recorded.
 */
describe('Burn Keys with a key store that did not burn the board names the store as the cause', function () {
  this.timeout(60_000);
  let dir: string;
  let store: KeyStore;
  let dev: VirtualEsp32;
  let server: SimServer;
  let url: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wrong-store-'));
    store = new KeyStore(path.join(dir, 'secure'));
    generateMissingKeys(store.dir, false, fs.existsSync);
    dev = new VirtualEsp32({ profile: 'GPY', seed: `wrong-store-${Math.random()}` });
    server = await startSimServer(dev, { port: 0 });
    url = `socket://127.0.0.1:${server.port}`;
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, baudRate: 115200, resetMode: 'auto' });
    user.shown.length = 0;
    user.asked.length = 0;
    user.pick = (items) => items[0];
    user.type = () => assert.fail('the MAC was asked: a burn was about to start');
    // The store that burned the board: the CLI's way, scripted.
    const keys = () => ({ flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'), secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), 256) });
    const r: BurnKeysOutcome = await withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), (b) => burnKeys(b, { store, keys, hardening: false, showPlan: () => undefined }, scriptedUi()));
    assert.equal(r.kind, 'burned');
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ctx = (): FlowContext => ({
    log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never,
    virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0,
  }) as never;
  const port = () => ({ path: url, virtual: true, board: 'GPy' });
  const words = () => JSON.stringify(dev.efuse.rawWords());

  it('another key store with its own keys: the refusal names pycom.keyStorePath, and the CLI command for keys burned elsewhere', async () => {
    const other = new KeyStore(path.join(dir, 'secrue'));
    generateMissingKeys(other.dir, false, fs.existsSync);
    settings.keyStorePath = other.dir;
    const before = words();
    await assert.rejects(editorBurnKeys(ctx(), port()), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEY_BLOCK_PROTECTED');
      assert.match(e.message, /^BLOCK1 is already read-protected and no verified record in this key store says it holds this key \(fingerprint [0-9a-f]{16}\), so it cannot be checked; if another key store burned it, use that one \(set pycom\.keyStorePath\); if espefuse or another workstation burned it, run `pycom-secure efuse burn-keys --keys-burned-elsewhere` from a terminal to finish only the steps that do not write BLOCK1, the key then NOT verified; nothing was burned\.$/);
      assert.doesNotMatch(e.message, /run again with --keys-burned-elsewhere/);
      return true;
    });
    assert.equal(words(), before);
    assert.equal(fs.existsSync(other.auditPath), false);
  });

  it('the CLI\'s wording is unchanged in substance: --key-store DIR and "run again with --keys-burned-elsewhere"', async () => {
    const other = new KeyStore(path.join(dir, 'secrue'));
    generateMissingKeys(other.dir, false, fs.existsSync);
    const keys = () => ({ flashKey: readHardwareKeyFile(other.sharedFlashKeyPath, 'flash-encryption'), secureBootKey: digestPrivateKey(readSigningKeyFile(other.signingKeyPath), 256) });
    await assert.rejects(withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), (b) => burnKeys(b, { store: other, keys, hardening: false, showPlan: () => undefined }, scriptedUi())),
      /if another key store burned it, use that one \(--key-store DIR\); if espefuse or another workstation burned it, run again with --keys-burned-elsewhere to finish/);
  });

  for (const [name, prepare] of [
    ['an empty folder', (_s: KeyStore) => undefined],
    ['a folder with only a signing key', (s: KeyStore) => {
      const full = new KeyStore(path.join(dir, 'full'));
      generateMissingKeys(full.dir, false, fs.existsSync);
      fs.mkdirSync(s.dir, { recursive: true });
      fs.copyFileSync(full.signingKeyPath, s.signingKeyPath);
    }],
  ] as const) {
    it(`a key store without keys (${name}): says the board has keys burned and this store does not hold them, not "Generate Keys"`, async () => {
      const empty = new KeyStore(path.join(dir, 'mistyped'));
      prepare(empty);
      settings.keyStorePath = empty.dir;
      const before = words();
      await assert.rejects(editorBurnKeys(ctx(), port()), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_NO_KEY');
        assert.ok(e.message.startsWith(Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':')), e.message);
        assert.match(e.message, /already has keys burned \(BLOCK1 and BLOCK2\), but this key store \(.*mistyped\) does not hold them \(there is no .*\), so it is not the key store that burned this board; use the key store that burned it \(set pycom\.keyStorePath\); generating new keys would not help, as a burned key block keeps its key; nothing was burned\.$/);
        assert.match(e.message, /flash-encryption key at .*mistyped.*flash_encryption_key\.bin/);
        assert.doesNotMatch(e.message, /Generate Keys|--key-store|--keys-burned-elsewhere/);
        return true;
      });
      assert.equal(words(), before);
      assert.equal(fs.existsSync(empty.auditPath), false);
    });
  }

  it('on a fresh board a key store without keys still says to generate them first', async () => {
    const fresh = new VirtualEsp32({ profile: 'GPY', seed: 'wrong-store-fresh' });
    const srv = await startSimServer(fresh, { port: 0 });
    try {
      settings.keyStorePath = path.join(dir, 'new-store');
      await assert.rejects(editorBurnKeys(ctx(), { path: `socket://127.0.0.1:${srv.port}`, virtual: true, board: 'GPy' }), /There is no signing key at .*new-store.*: run "Pycom: Generate Keys" first\./);
      assert.equal(JSON.stringify(fresh.efuse.rawWords()), JSON.stringify(new VirtualEsp32({ profile: 'GPY', seed: 'wrong-store-fresh' }).efuse.rawWords()));
    } finally {
      await srv.close();
    }
  });
});
