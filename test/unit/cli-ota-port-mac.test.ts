import { strict as assert } from 'node:assert';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { cliLauncher, serveSimProcess } from './helpers/sim-process';
import { fixtureStore, secureBuild, tmpDir } from './flash-harness';
import { fingerprint } from '../../src/core/util/fingerprint';
import type { KeyStore } from '../../src/core/keystore/key-store';

/** A board's own key in the store (what provision --per-device-keys makes): devices/<MAC>/, 0600. */
function addDeviceKey(store: KeyStore, mac: string): { file: string; key: Buffer } {
  const file = store.deviceFlashKeyPath(mac);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  fs.writeFileSync(file, key, { mode: 0o600 });
  return { file, key };
}

/**
 * `ota-image --port`: the MAC of a board with its own key (per-device keys) read from the board
 * served by `pycom-secure sim serve` in another process, with --mac checked against it; a
 * per-device store without either option is refused, naming both. Every refusal writes no image
 * and no record.
 */
describe('CLI: ota-image takes the board\'s MAC from --port (a served virtual GPy)', function () {
  this.timeout(120_000);
  let server: ChildProcessWithoutNullStreams | undefined;
  let url: string;
  let mac: string;
  let store: KeyStore;
  let own: { file: string; key: Buffer };
  const build = secureBuild('GPY');
  const work = tmpDir('ota-port-mac-');
  const audit = (): string => (fs.existsSync(store.auditPath) ? fs.readFileSync(store.auditPath, 'utf8') : '');
  const ota = (out: string, ...extra: string[]) => cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', out, '--key-store', store.dir, ...extra]);

  before(async () => {
    let port: number;
    ({ server, port } = await serveSimProcess(await cliLauncher(), ['--profile', 'GPY', '--seed', 'ota-port-mac']));
    url = `socket://127.0.0.1:${port}`;
    const info = await cli(['device', 'info', '--json', '--port', url]);
    assert.equal(info.code, 0, info.err);
    mac = (JSON.parse(info.out) as { mac: { address: string } }).mac.address;
    store = fixtureStore();
    own = addDeviceKey(store, mac);
  });
  after(async () => {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await gone;
    }
  });

  it('a per-device key store and neither --mac nor --port: refused naming both; no image, no record', async () => {
    const out = path.join(work, 'neither.bin');
    const r = await ota(out);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.err, `pycom-secure ota-image: The key store ${store.dir} holds per-device keys (devices/<MAC>/), so an OTA image must be made with the key of the board it is for, not the build key; give the board's MAC with --mac MAC, or --port PORT to read it from the board; nothing was written.\n`);
    assert.equal(r.out, '');
    assert.ok(!fs.existsSync(out));
    assert.equal(audit(), '');
  });

  it('--port reads the MAC: the image is encrypted with that board\'s own key (the one --mac makes), and recorded for it', async () => {
    const out = path.join(work, 'port.bin');
    const r = await ota(out, '--port', url, '--json');
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.err, new RegExp(`The board on ${url.replace(/[.]/g, '\\.')} is ${mac}\\.`));
    const j = JSON.parse(r.out) as { mac: string; flashKey: string; recordId: string; source: string };
    assert.equal(j.mac, mac);
    assert.equal(j.flashKey, fingerprint(own.key));
    assert.match(j.source, /build key/);
    const records = JSON.parse((await cli(['records', '--key-store', store.dir, '--mac', mac])).out) as { id: string; operation: string }[];
    assert.ok(records.some((x) => x.id === j.recordId && x.operation === 'ota-image'));
    // The same image as --mac gives (its key vouched for: no burn record yet), and not the build key's.
    const byMac = path.join(work, 'mac.bin');
    assert.equal((await ota(byMac, '--mac', mac.toUpperCase().replace(/:/g, '-'), '--trust-key-store')).code, 0);
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(byMac)));
    const other = sharedOnlyCopy(store);
    const shared = path.join(work, 'shared.bin');
    assert.equal((await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', shared, '--key-store', other])).code, 0);
    assert.ok(!fs.readFileSync(out).equals(fs.readFileSync(shared)), 'not the build key\'s image');
    const text = r.out + r.err;
    assert.ok(!text.includes(own.key.toString('hex')));
  });

  it('--mac and --port that disagree: refused naming both MACs; no image, no record', async () => {
    const before = audit();
    const out = path.join(work, 'disagree.bin');
    const r = await ota(out, '--port', url, '--mac', '24:0a:c4:00:00:99');
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, new RegExp(`^pycom-secure ota-image: --mac 24:0a:c4:00:00:99 is not the board on ${url.replace(/[.]/g, '\\.')}, whose MAC is ${mac}; give that board's MAC, or leave --mac out to take it from the board; nothing was written\\.\\n$`, 'm'));
    assert.equal(r.out, '');
    assert.ok(!fs.existsSync(out));
    assert.equal(audit(), before);
    // Agreeing (in another spelling) is fine.
    const ok = await ota(path.join(work, 'agree.bin'), '--port', url, '--mac', mac.toUpperCase());
    assert.equal(ok.code, 0, ok.out + ok.err);
  });

  it('--baud, --reset and --allow-remote without --port are refused: no image', async () => {
    const out = path.join(work, 'stray.bin');
    const r = await ota(out, '--mac', mac, '--baud', '921600', '--reset', 'none');
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure ota-image: --baud and --reset go with --port PORT (the board to connect to); give --port, or leave them out.\n');
    assert.ok(!fs.existsSync(out));
    const bad = await ota(out, '--port', url, '--baud', '12345');
    assert.equal(bad.code, 2);
    assert.match(bad.err, /The baud rate "12345" is not one this tool uses/);
    assert.ok(!fs.existsSync(out));
  });

  it('keys burned (BLOCK1 read-protected): --port takes the burn record as evidence; another store with another key for that MAC is refused, nothing written', async () => {
    const burn = await cli(['efuse', 'burn-keys', '--port', url, '--flash-key', own.file, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir]);
    assert.equal(burn.code, 0, burn.out + burn.err);
    const r = await ota(path.join(work, 'burned.bin'), '--port', url, '--baud', '115200', '--reset', 'auto');
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.err, /Key evidence: the verified Burn Keys run \S+ \([^)]*\) in .*audit\.jsonl burned the flash-encryption key [0-9a-f]+ in BLOCK1\./);

    const wrong = fixtureStore();
    addDeviceKey(wrong, mac);
    const out = path.join(work, 'wrong.bin');
    const w = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', out, '--key-store', wrong.dir, '--port', url]);
    assert.equal(w.code, 2, w.out + w.err);
    assert.match(w.err, /ota-image: nothing shows that this key store holds the board's keys .*; nothing was written\.\n$/);
    assert.ok(!fs.existsSync(out));
    assert.ok(!fs.existsSync(wrong.auditPath));
  });
});

/** A copy of a store without its devices/ folder (the signing key and the shared build key only); its folder. */
function sharedOnlyCopy(store: KeyStore): string {
  const dir = path.join(tmpDir('shared-only-'), 'secure');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (const f of [store.signingKeyPath, store.sharedFlashKeyPath]) fs.copyFileSync(f, path.join(dir, path.basename(f)));
  return dir;
}
