import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { KeyStore } from '../../src/core/keystore/key-store';
import { fixtureStore, tmpDir } from './flash-harness';

const run = promisify(execFile);
const bin = path.join(__dirname, '..', '..', 'bin', 'pycom-secure.js');

/**
 * A new user ran `efuse burn-keys` from another folder, giving the key files by path and no
 * --key-store: the run was recorded in a new secure/ of that folder, away from the keys, so
 * `flash` from the keys' folder then found no Burn Keys record. The record goes beside the key.
 */
describe('efuse burn-keys without --key-store records in the store the flash key lives in', () => {
  let server: SimServer;
  let port: string;
  let dev: VirtualEsp32;
  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'store-default', bootPredictor: bootPredictorForVirtual });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    port = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => server.close());

  it('KeyStore.holding: the store of KEY_STORE/flash_encryption_key.bin and of devices/<MAC>/, nothing for other names', () => {
    assert.equal(KeyStore.holding('/x/keys/flash_encryption_key.bin'), '/x/keys');
    assert.equal(KeyStore.holding('/x/keys/devices/24-0a-c4-00-00-01/flash_encryption_key.bin'), '/x/keys');
    assert.equal(KeyStore.holding('/x/keys/my-key.bin'), undefined);
  });

  it('burns from another folder and records beside the keys; nothing is made in the current folder', async () => {
    const src = fixtureStore();
    const keys = path.join(tmpDir('store-default-'), 'my keys');
    fs.cpSync(src.dir, keys, { recursive: true });
    const store = new KeyStore(keys);
    const elsewhere = tmpDir('store-default-cwd-');
    const info = await run(process.execPath, [bin, 'device', 'info', '--port', port], { cwd: elsewhere });
    const boardMac = /([0-9a-f]{2}:){5}[0-9a-f]{2}/.exec(info.stdout)![0];
    const r = await run(process.execPath, [bin, 'efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', boardMac], { cwd: elsewhere });
    assert.match(r.stdout + r.stderr, new RegExp(`Recorded in ${store.auditPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.ok(fs.existsSync(store.auditPath), 'the audit log is beside the keys');
    assert.deepEqual(fs.readdirSync(elsewhere), [], 'no secure/ made in the current folder');
  });
});
