import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { KeyStore } from '../../src/core/keystore/key-store';
import { readAudit } from '../../src/core/audit/audit-log';
import { fingerprint } from '../../src/core/util/fingerprint';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { fixtureStore, tmpDir } from './flash-harness';

/**
 * `efuse burn-keys --per-device-keys`: one board, its own flash-encryption key (what provision
 * --per-device-keys does for many), made in KEY_STORE/devices/<MAC>/ the first time, 0600, never
 * overwritten; a dry run makes none; a board already carrying another key is refused.
 */
describe('efuse burn-keys --per-device-keys', function () {
  this.timeout(60_000);
  const servers: SimServer[] = [];
  async function board(seed: string): Promise<{ dev: VirtualEsp32; port: string; mac: string }> {
    const dev = new VirtualEsp32({ profile: 'GPY', seed, bootPredictor: bootPredictorForVirtual });
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    servers.push(server);
    const mac = [...dev.mac].map((b) => b.toString(16).padStart(2, '0')).join(':');
    return { dev, port: `socket://127.0.0.1:${server.port}`, mac };
  }
  after(async () => Promise.all(servers.map((s) => s.close())));

  function store(): KeyStore {
    const dir = path.join(tmpDir('burn-per-device-'), 'secure');
    fs.cpSync(fixtureStore().dir, dir, { recursive: true });
    const s = new KeyStore(dir);
    fs.rmSync(s.sharedFlashKeyPath); // no shared key: every board gets its own
    return s;
  }

  it('makes the board\'s own key (0600), burns it into BLOCK1 and records its fingerprint; a second run makes no new key', async () => {
    const { dev, port, mac } = await board('per-device-1');
    const ks = store();
    const r = await cli(['efuse', 'burn-keys', '--port', port, '--per-device-keys', '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', mac]);
    assert.equal(r.code, 0, r.out + r.err);
    const file = ks.deviceFlashKeyPath(mac);
    assert.equal(fs.statSync(file).mode & 0o777, 0o600);
    const key = fs.readFileSync(file);
    assert.equal(key.length, 32);
    assert.match(r.err, new RegExp(`Made this board's own flash-encryption key .*\\(fingerprint ${fingerprint(key)}\\)`));
    assert.ok(!(r.out + r.err).includes(key.toString('hex')), 'no key bytes printed');
    assert.deepEqual(dev.efuse.rawWords()[1], keyFileToBlockWords(key, { reverse: true, coding: 'none' }), 'BLOCK1 holds the board\'s own key');
    const audit = fs.readFileSync(ks.auditPath, 'utf8');
    assert.ok(audit.includes(fingerprint(key)), 'the record names the key by its fingerprint');
    assert.ok(!audit.includes(key.toString('hex')), 'never by its bytes');
    assert.equal(readAudit(ks.auditPath).records.at(-1)!.phase, 'done');
    const again = await cli(['efuse', 'burn-keys', '--port', port, '--per-device-keys', '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', mac]);
    assert.equal(again.code, 0, again.out + again.err);
    assert.doesNotMatch(again.err, /Made this board's own/);
    assert.deepEqual(fs.readFileSync(file), key, 'the key file is never replaced');
  });

  it('--dry-run makes no key file and burns nothing, and says the real run makes one', async () => {
    const { dev, port, mac } = await board('per-device-2');
    const ks = store();
    const before = dev.efuse.rawWords();
    const r = await cli(['efuse', 'burn-keys', '--port', port, '--per-device-keys', '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--dry-run']);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out + r.err, /no key of its own yet; the real run makes .*devices.*flash_encryption_key\.bin/);
    assert.equal(fs.existsSync(ks.deviceFlashKeyPath(mac)), false);
    assert.deepEqual(dev.efuse.rawWords(), before);
  });

  it('a burn refused at the confirmation (another MAC typed) makes no key file and burns nothing', async () => {
    const { dev, port, mac } = await board('per-device-wrong-mac');
    const ks = store();
    const before = dev.efuse.rawWords();
    const r = await cli(['efuse', 'burn-keys', '--port', port, '--per-device-keys', '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', '24:0a:c4:00:00:00']);
    assert.notEqual(r.code, 0, r.out + r.err);
    assert.doesNotMatch(r.err, /Made this board's own/);
    assert.equal(fs.existsSync(ks.deviceFlashKeyPath(mac)), false, 'no key made for a burn that did not happen');
    assert.deepEqual(dev.efuse.rawWords(), before);
  });

  it('refuses a board that already has a key in BLOCK1 but none of its own in the store: nothing burned, no key made', async () => {
    const { dev, port, mac } = await board('per-device-3');
    const ks = store();
    const shared = path.join(tmpDir('burn-per-device-shared-'), 'flash_encryption_key.bin');
    fs.copyFileSync(fixtureStore().sharedFlashKeyPath, shared);
    const first = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', shared, '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', mac]);
    assert.equal(first.code, 0, first.out + first.err);
    const before = dev.efuse.rawWords();
    const audit = fs.readFileSync(ks.auditPath, 'utf8');
    const r = await cli(['efuse', 'burn-keys', '--port', port, '--per-device-keys', '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', mac]);
    assert.notEqual(r.code, 0);
    assert.match(r.err, new RegExp(`${mac} already has a flash-encryption key in BLOCK1, but the key store .* has no key of its own for it in devices/; burn it with --flash-key and the key it was burned with; nothing was burned\\.`));
    assert.equal(fs.existsSync(ks.deviceFlashKeyPath(mac)), false, 'no key made');
    assert.deepEqual(dev.efuse.rawWords(), before);
    assert.equal(fs.readFileSync(ks.auditPath, 'utf8'), audit);
  });

  it('another flash key given for a board this store burned: the store\'s record names the key the block holds, with or without --keys-burned-elsewhere; nothing burned', async () => {
    const { dev, port, mac } = await board('record-says');
    const ks = fixtureStore();
    const first = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', ks.sharedFlashKeyPath, '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', mac]);
    assert.equal(first.code, 0, first.out + first.err);
    const other = path.join(tmpDir('record-says-'), 'other.bin');
    assert.equal((await cli(['generate-flash-encryption-key', other])).code, 0);
    const before = dev.efuse.rawWords();
    const audit = fs.readFileSync(ks.auditPath, 'utf8');
    for (const extra of [[], ['--keys-burned-elsewhere']]) {
      const r = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', other, '--signing-key', ks.signingKeyPath, '--key-store', ks.dir, '--confirm', mac, ...extra]);
      assert.notEqual(r.code, 0);
      assert.match(r.err, new RegExp(`BLOCK1 is read-protected, and this key store's verified Burn Keys record for this board says it holds the key with fingerprint ${fingerprint(fs.readFileSync(ks.sharedFlashKeyPath))}, not this one \\(${fingerprint(fs.readFileSync(other))}\\); give that key \\(the one this store burned into this board\\); nothing was burned\\.`));
      assert.doesNotMatch(r.err, /run again with --keys-burned-elsewhere/);
    }
    assert.deepEqual(dev.efuse.rawWords(), before);
    assert.equal(fs.readFileSync(ks.auditPath, 'utf8').split('\n').filter((l) => l.includes('"phase":"step-done"')).length, audit.split('\n').filter((l) => l.includes('"phase":"step-done"')).length, 'no step burned');
  });

  it('--flash-key and --per-device-keys together, or neither: one sentence naming both, before the port is opened', async () => {
    const ks = store();
    for (const keyArgs of [['--flash-key', fixtureStore().sharedFlashKeyPath, '--per-device-keys'], []]) {
      const r = await cli(['efuse', 'burn-keys', '--port', 'socket://127.0.0.1:1', ...keyArgs, '--signing-key', ks.signingKeyPath, '--key-store', ks.dir]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /give exactly one of --flash-key FLASH_KEY\.bin .* or --per-device-keys/);
      assert.doesNotMatch(r.err, /127\.0\.0\.1:1/, 'refused before connecting');
    }
  });
});
