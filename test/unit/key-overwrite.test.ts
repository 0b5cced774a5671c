import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { fixtureStore, secureBuild, tmpDir } from './flash-harness';
import type { KeyStore } from '../../src/core/keystore/key-store';

/**
 * Issue 18 (part): an output path that names an existing key is refused at the one write path,
 * whatever the command, and the key stays byte for byte what it was. A key is recognised by the
 * store's file names, a PEM private key, a raw 24/32-byte owner-only file, or any binary file of
 * exactly a raw key's size (a backup copy under another name).
 */
describe('outputs never write over a key', function () {
  this.timeout(60_000);
  let store: KeyStore;
  let dir: string;
  let data: string;
  let before: Map<string, Buffer>;

  const snapshot = (files: string[]) => new Map(files.map((f) => [f, fs.readFileSync(f)]));
  /** Every key is byte-identical, and the folders hold no temporary or lock file. */
  const keysIntact = () => {
    for (const [f, bytes] of before) assert.ok(fs.readFileSync(f).equals(bytes), `${f} changed`);
    for (const d of [store.dir, dir]) {
      const stray = fs.readdirSync(d).filter((n) => n.endsWith('.tmp') || n.endsWith('.lock'));
      assert.deepEqual(stray, [], `stray files in ${d}`);
    }
  };
  const refusal = (cmd: string, file: string, what: string, why: string) =>
    `pycom-secure ${cmd}: Cannot write the ${what} ${file}: that file holds a key (${why}) and this tool never writes over a key; choose another path for the ${what}.\n`;
  const byName = (file: string) => `its name ${path.basename(file)} is that of a key store's key file`;

  beforeEach(() => {
    store = fixtureStore();
    dir = tmpDir('key-overwrite-');
    data = path.join(dir, 'data.bin');
    fs.writeFileSync(data, Buffer.alloc(100, 0x5a));
    before = snapshot([store.sharedFlashKeyPath, store.signingKeyPath]);
  });
  afterEach(() => {
    fs.rmSync(path.dirname(store.dir), { recursive: true, force: true });
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('sim reset-state refuses the flash key and the signing key PEM as its state file', async () => {
    for (const key of [store.sharedFlashKeyPath, store.signingKeyPath]) {
      const r = await cli(['sim', 'reset-state', '--state', key]);
      assert.equal(r.code, 2);
      assert.equal(r.err, refusal('sim reset-state', key, 'virtual board state file', byName(key)));
      assert.equal(r.out, '');
    }
    keysIntact();
  });

  it('sim serve on a key file says it is a key, not a board state, and never advises deleting or resetting it', async () => {
    const key = store.sharedFlashKeyPath;
    const r = await cli(['sim', 'serve', '--port', '0', '--state', key]);
    assert.equal(r.code, 2);
    assert.equal(
      r.err,
      `pycom-secure sim serve: The file ${key} is a key file (${byName(key)}), not a virtual board state, and this tool never writes over a key; leave it as it is and give another --state path.\n`,
    );
    assert.doesNotMatch(r.err, /delete|reset-state/);
    keysIntact();
  });

  it('extract-public-key refuses the flash key as its output', async () => {
    const key = store.sharedFlashKeyPath;
    const r = await cli(['extract-public-key', '--keyfile', store.signingKeyPath, key]);
    assert.equal(r.code, 2);
    assert.equal(r.err, refusal('extract-public-key', key, 'public key file', byName(key)));
    keysIntact();
  });

  it('sign-data refuses its own signing key as --output, recognised as a PEM private key under any name', async () => {
    const pem = path.join(dir, 'K.pem');
    assert.equal((await cli(['generate-signing-key', pem])).code, 0);
    before = snapshot([store.sharedFlashKeyPath, store.signingKeyPath, pem]);
    const r = await cli(['sign-data', '--keyfile', pem, '--output', pem, data]);
    assert.equal(r.code, 2);
    assert.equal(r.err, refusal('sign-data', pem, 'output file', 'it is a PEM private key'));
    // A PEM private key made readable to others is still a key.
    fs.chmodSync(pem, 0o644);
    const r2 = await cli(['sign-data', '--keyfile', store.signingKeyPath, '--output', pem, data]);
    assert.equal(r2.err, refusal('sign-data', pem, 'output file', 'it is a PEM private key'));
    keysIntact();
  });

  it('encrypt-flash-data refuses the store flash key and a raw owner-only key of any name as --output', async () => {
    const key = store.sharedFlashKeyPath;
    const r = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', key, data]);
    assert.equal(r.code, 2);
    assert.equal(r.err, refusal('encrypt-flash-data', key, 'output file', byName(key)));
    for (const keylen of ['256', '192']) {
      const raw = path.join(dir, `my-${keylen}.key`);
      assert.equal((await cli(['generate-flash-encryption-key', '--keylen', keylen, raw])).code, 0);
      before.set(raw, fs.readFileSync(raw));
      const r2 = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', raw, data]);
      assert.equal(r2.code, 2);
      assert.equal(r2.err, refusal('encrypt-flash-data', raw, 'output file', `it is a ${Number(keylen) / 8}-byte file readable only by its owner, as raw keys are kept`));
    }
    keysIntact();
  });

  it('ota-image refuses the flash key as --output', async () => {
    const build = secureBuild('GPY');
    const key = store.sharedFlashKeyPath;
    const r = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', key, '--key-store', store.dir]);
    assert.equal(r.code, 2);
    assert.equal(r.err, refusal('ota-image', key, 'output file', byName(key)));
    keysIntact();
    fs.rmSync(path.resolve(build, '../../..'), { recursive: true, force: true });
  });

  it('a raw key backed up under another name with ordinary permissions (0644) is refused as an output (a new user\'s trial: ota-image wrote over it)', async () => {
    const build = secureBuild('GPY');
    for (const bytes of [32, 24]) {
      const backup = path.join(dir, `backupkey-${bytes}.bin`);
      fs.writeFileSync(backup, fs.readFileSync(store.sharedFlashKeyPath).subarray(0, bytes), { mode: 0o644 });
      fs.chmodSync(backup, 0o644);
      before.set(backup, fs.readFileSync(backup));
      const r = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', backup, '--key-store', store.dir]);
      assert.equal(r.code, 2);
      assert.equal(r.err, refusal('ota-image', backup, 'output file', `it is a ${bytes}-byte binary file, the size of a raw ESP32 key`));
    }
    // A 32-byte text file is not a key: it is replaced as any earlier output is.
    const note = path.join(dir, 'note.txt');
    fs.writeFileSync(note, 'just a 32-byte note, not a key..', { mode: 0o644 });
    assert.equal(fs.statSync(note).size, 32);
    const r = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', note, '--key-store', store.dir]);
    assert.equal(r.code, 0, r.err);
    assert.ok(fs.statSync(note).size > 32);
    keysIntact();
    fs.rmSync(path.resolve(build, '../../..'), { recursive: true, force: true });
  });

  it('an output path that is a folder is refused in one sentence naming a file path, and nothing is written into it', async () => {
    const build = secureBuild('GPY');
    const r = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', dir, '--key-store', store.dir]);
    assert.equal(r.code, 2);
    assert.equal(r.err, `pycom-secure ota-image: Cannot write the output file ${dir}: that is a folder; give the path of a file in it (for example ${path.join(dir, 'out.bin')}).\n`);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['data.bin']);
    keysIntact();
    fs.rmSync(path.resolve(build, '../../..'), { recursive: true, force: true });
  });

  it('a key backed up as DER (SEC1 or PKCS#8), hex or base64 text under any name is refused as an output', async () => {
    const { generateKeyPairSync, randomBytes: rnd } = await import('node:crypto');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const backups: Array<[string, Buffer, string]> = [
      ['sign.der', privateKey.export({ format: 'der', type: 'sec1' }), 'it is an EC private key in DER'],
      ['sign-pkcs8.der', privateKey.export({ format: 'der', type: 'pkcs8' }), 'it is an EC private key in DER'],
      ['key.hex', Buffer.from(`${rnd(32).toString('hex')}\n`), "it is hex text of a raw ESP32 key's size"],
      ['key192.hex', Buffer.from(rnd(24).toString('hex')), "it is hex text of a raw ESP32 key's size"],
      ['key.b64', Buffer.from(`${rnd(32).toString('base64')}\n`), "it is base64 text of a raw ESP32 key's size"],
    ];
    for (const [name, bytes, why] of backups) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, bytes, { mode: 0o644 });
      before.set(f, bytes);
      const r = await cli(['encrypt-flash-data', '--keyfile', store.sharedFlashKeyPath, '--address', '0x10000', '--output', f, data]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, refusal('encrypt-flash-data', f, 'output file', why));
    }
    keysIntact();
  });

  it('the key store\'s records and a virtual board\'s state are never replaced by an output: audit log, config-sector backup, flash journal, lock, state file', async () => {
    const build = secureBuild('GPY');
    const dev = path.join(store.dir, 'devices', '24-0a-c4-00-00-01');
    fs.mkdirSync(dev, { recursive: true });
    const files: Array<[string, string]> = [
      [store.auditPath, "it is a key store's audit log (board records and the evidence of every Burn Keys run)"],
      [path.join(dev, 'config-0x3FF000.bin'), "it is a board's config-sector backup (its LoRa/Sigfox identity, saved before the first write)"],
      [path.join(dev, 'flash-journal.json'), "it is a board's flash journal (the regions a cut-off flash left incomplete)"],
      [path.join(store.dir, '.pycom-secure.lock'), "it is a key store's lock file"],
    ];
    fs.writeFileSync(files[0]![0], '{"id":"x","operation":"burn-keys"}\n');
    fs.writeFileSync(files[1]![0], Buffer.alloc(4096, 0x42));
    fs.writeFileSync(files[2]![0], '{"incomplete":[]}\n');
    fs.writeFileSync(files[3]![0], '{"pid":1}');
    const state = path.join(dir, 'board.json');
    assert.equal((await cli(['sim', 'reset-state', '--state', state, '--seed', 'rec'])).code, 0);
    files.push([state, "it is a virtual board's state file (the board's eFuses and flash)"]);
    for (const [f] of files) before.set(f, fs.readFileSync(f));
    for (const [f, why] of files) {
      const r = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', f, '--key-store', store.dir]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, `pycom-secure ota-image: Cannot write the output file ${f}: ${why}, which this tool never writes over; choose another path for the output file.\n`);
    }
    // Their owners still write them: sim reset-state over its state file.
    assert.equal((await cli(['sim', 'reset-state', '--state', state, '--seed', 'rec2'])).code, 0);
    before.delete(state);
    for (const [f] of files.slice(0, 4)) assert.ok(fs.readFileSync(f).equals(before.get(f)!), `${f} changed`);
    fs.rmSync(files[3]![0]);
    before.delete(files[3]![0]);
    keysIntact();
    fs.rmSync(path.resolve(build, '../../..'), { recursive: true, force: true });
  });

  it('a re-run still replaces its own previous output: encrypt-flash-data twice (a 32-byte output), sim reset-state twice', async () => {
    const plain = path.join(dir, 'block.bin');
    fs.writeFileSync(plain, Buffer.alloc(32, 0x11));
    const out = path.join(dir, 'block.enc');
    const args = ['encrypt-flash-data', '--keyfile', store.sharedFlashKeyPath, '--address', '0x10000', '--output', out, plain];
    assert.equal((await cli(args)).code, 0);
    const first = fs.readFileSync(out);
    assert.equal(first.length, 32);
    fs.writeFileSync(out, 'stale');
    const again = await cli(args);
    assert.equal(again.code, 0, again.err);
    assert.ok(fs.readFileSync(out).equals(first));
    const state = path.join(dir, 'board.json');
    for (const seed of ['one', 'two']) {
      const r = await cli(['sim', 'reset-state', '--state', state, '--seed', seed]);
      assert.equal(r.code, 0, r.err);
      assert.equal(JSON.parse(fs.readFileSync(state, 'utf8')).seed, seed);
    }
    keysIntact();
  });
});
