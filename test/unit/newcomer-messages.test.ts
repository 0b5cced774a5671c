import './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { describePort } from '../../src/core/transport/ports';
import { VirtualBoards } from '../../src/extension/virtual-boards';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { checkKeys } from '../../src/core/efuse/burn/key-checks';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { makeDirs } from '../../src/core/util/atomic-file';
import { fixtureStore, secureBuild } from './flash-harness';


describe('what a newcomer reads', () => {
  it('an error names its command once', async () => {
    const r = await cli(['device', 'info']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure device info: --port is required; `pycom-secure device info --help` says what it takes.\n');
    const s = await cli(['efuse', 'summary', '--prot', 'x']);
    assert.equal(s.code, 2);
    assert.ok(s.err.startsWith('pycom-secure efuse summary: '), s.err);
    assert.ok(!/efuse summary: efuse summary:/.test(s.err), s.err);
  });

  it('HOST:PORT given as a serial port suggests socket://HOST:PORT', async () => {
    const r = await cli(['device', 'info', '--port', '127.0.0.1:1']);
    assert.equal(r.code, 2);
    assert.match(r.err, /There is no serial port 127\.0\.0\.1:1: for a board served over TCP \(pycom-secure sim serve\) write it as socket:\/\/127\.0\.0\.1:1\./);
  });

  it('a port without USB ids says so instead of ????:????', () => {
    assert.equal(describePort({ path: '/dev/ttyS0' }), '/dev/ttyS0  no USB ids (not a USB serial adapter)');
    assert.equal(describePort({ path: '/dev/ttyACM0', vendorId: 0x04d8, productId: 0xf013 }).split('  ')[1], '04D8:F013');
  });

  it('every virtual board the editor starts has its own MAC', async () => {
    const boards = new VirtualBoards();
    try {
      const a = await boards.start('GPY');
      const b = await boards.start('GPY');
      assert.notDeepEqual([...a.dev.mac], [...b.dev.mac]);
      assert.notEqual(a.url, b.url);
    } finally {
      boards.dispose();
    }
  });

  it('the extension activates on its own things (views, commands, tasks, a Pycom firmware tree), not in every window', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { activationEvents: string[] };
    assert.ok(!pkg.activationEvents.includes('onStartupFinished') && !pkg.activationEvents.includes('*'), pkg.activationEvents.join(', '));
    assert.ok(pkg.activationEvents.includes('onTaskType:pycom'));
    // The firmware tree the sample workspace (npm start, e2e) is made from activates it.
    const globs = pkg.activationEvents.filter((e) => e.startsWith('workspaceContains:**/')).map((e) => e.slice('workspaceContains:**/'.length));
    const esp32 = path.join(__dirname, '..', 'fixtures', 'firmware', 'pycom-micropython-sigfox', 'esp32');
    assert.ok(globs.some((g) => g.startsWith('esp32/') && fs.existsSync(path.join(esp32, g.slice('esp32/'.length)))), globs.join(', '));
  });
});

describe('generating keys into a folder that does not exist yet (the README\'s rehearsal)', () => {
  it('creates the folder 0700 and writes the key; a path under a file is refused with nothing left', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'newcomer-keys-'));
    try {
      const key = path.join(dir, 'secure', 'flash_encryption_key.bin');
      const r = await cli(['generate-flash-encryption-key', key]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.err, /Created the key folder .*secure \(only you can read it\)\./);
      assert.equal(fs.statSync(path.dirname(key)).mode & 0o777, 0o700);
      assert.equal(fs.statSync(key).mode & 0o777, 0o600);
      const pem = path.join(dir, 'other', 'deeper', 'secure_boot_signing_key.pem');
      assert.equal((await cli(['generate-signing-key', pem])).code, 0);
      assert.ok(fs.existsSync(pem));
      fs.writeFileSync(path.join(dir, 'plain'), 'x');
      const bad = await cli(['generate-flash-encryption-key', path.join(dir, 'plain', 'k.bin')]);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /Cannot write the key file .*k\.bin: .*plain is a file, not a folder; choose another path for the key file\./);
      assert.deepEqual(fs.readdirSync(dir).sort(), ['other', 'plain', 'secure']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('download mode on a served virtual board', () => {
  it('enter-download and exit-download say what is true for a socket:// board, not to move wires', async () => {
    const server = await startSimServer(new VirtualEsp32({ profile: 'GPY', seed: 'dl-msg' }), { port: 0 });
    try {
      const enter = await cli(['device', 'enter-download', '--port', `socket://127.0.0.1:${server.port}`]);
      assert.equal(enter.code, 0, enter.err);
      assert.match(enter.out, /reset into download mode whenever a client connects: nothing to do\./);
      const exit = await cli(['device', 'exit-download', '--port', `socket://127.0.0.1:${server.port}`]);
      assert.equal(exit.code, 0, exit.err);
      assert.match(exit.out, /has no reset lines: `pycom-secure monitor --port` starts its firmware/);
      assert.ok(!/P2|wire/.test(enter.out + exit.out));
    } finally {
      await server.close();
    }
  });
});

describe('what a wrong input is, said as what it is (issue 17, new-user findings)', () => {
  const scratch = () => fs.mkdtempSync(path.join(os.tmpdir(), 'newcomer-in-'));

  it('a hex-text key file is called hex text (never "the public key"), named, and refused before the board is touched', async () => {
    const dir = scratch();
    const raw = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
    const hexText = Buffer.from(raw).toString('hex');
    const files = {
      raw: path.join(dir, 'raw.bin'),
      hex: path.join(dir, 'key.hex'),
      hexNoNewline: path.join(dir, 'key64.hex'),
      flash: path.join(dir, 'flash.bin'),
    };
    fs.writeFileSync(files.raw, raw);
    fs.writeFileSync(files.hex, `${hexText}\n`);
    fs.writeFileSync(files.hexNoNewline, hexText);
    fs.writeFileSync(files.flash, new Uint8Array(32).map((_, i) => (i * 53 + 7) & 0xff));
    // Port 1 refuses connections: a message about the key proves no connection was tried.
    for (const sbk of [files.hex, files.hexNoNewline]) {
      const r = await cli(['efuse', 'burn-keys', '--port', 'socket://127.0.0.1:1', '--flash-key', files.flash, '--secure-boot-key', sbk, '--confirm', '24:0a:c4:00:00:01']);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, new RegExp(`secure boot key file ${sbk.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} holds 6[45] bytes .*it is hex text \\(64 hex digits: a 32-byte key written as text\\), not the raw key bytes; convert it \\(e\\.g\\. \`xxd -r -p `));
      assert.doesNotMatch(r.err, /public key|connect/i);
    }
    const fk = await cli(['efuse', 'burn-keys', '--port', 'socket://127.0.0.1:1', '--flash-key', files.hex, '--secure-boot-key', files.raw]);
    assert.match(fk.err, /flash encryption key file .*key\.hex holds 65 bytes .*it is hex text/);
    // The same words wherever a hardware key file is read, and in the burn checks of the core.
    const enc = await cli(['encrypt-flash-data', '--keyfile', files.hex, '--address', '0x10000', '--output', path.join(dir, 'out.bin'), files.raw]);
    assert.match(enc.err, /it is hex text/);
    assert.equal(fs.existsSync(path.join(dir, 'out.bin')), false);
    const plan = await cli(['predict-boot', '--plan', '--build', dir, '--secure-boot-key', files.hexNoNewline]);
    assert.match(plan.err, /it is hex text/);
    assert.doesNotMatch(plan.err, /public key/);
    assert.throws(() => checkKeys(raw, new Uint8Array(Buffer.from(hexText)), 32), (e: Error) => /hex text/.test(e.message) && !/public key/.test(e.message) && /nothing was burned/.test(e.message));
    // A real 64-byte binary (the raw public key's length) is still named as such.
    assert.throws(() => checkKeys(raw, new Uint8Array(64).fill(3), 32), /that is the public key/);
  });

  it('a build for another board is named as such, not blamed on the key, and nothing is written', async () => {
    const gpy = secureBuild('GPY');
    const out = path.join(scratch(), 'lopy-ota.bin');
    const r = await cli(['ota-image', '--board', 'LOPY', '--build', gpy, '--slot', '0x1C0000', '--output', out, '--key-store', fixtureStore().dir]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /is a build for GPy \(BOARD=GPY\), not for LoPy \(BOARD=LOPY\): it holds gpy\.bin.* and no lopy\.bin; give the folder of a LOPY build \(build\/LOPY\/release\), or name GPY as the board \(--board GPY\)/);
    assert.doesNotMatch(r.err, /key/i);
    assert.equal(fs.existsSync(out), false);
    // Every reader of a build given with a board says the same: flash, verify-flash, predict-boot.
    assert.throws(() => findBuildOutputs(gpy, { board: 'LOPY4' }), (e: Error & { code?: string }) => e.code === 'E_BUILD_BOARD' && /not for LoPy4/.test(e.message));
    assert.equal(findBuildOutputs(gpy, { board: 'GPY' }).board, 'GPY');
  });

  it('flash --build of a folder that is not a build (the key store) says so and names a release folder, not --board', async () => {
    const store = fixtureStore();
    for (const args of [['--dry-run'], ['--port', 'socket://127.0.0.1:1']]) {
      const r = await cli(['flash', ...args, '--build', store.dir, '--key-store', store.dir]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, `pycom-secure flash: ${store.dir} is not a build's output folder: it holds no app binary (such as gpy.bin_enc); give the release folder of a secure build, e.g. esp32/build/GPY/release.\n`);
    }
  });

  it('flash ADDR FILE and ota-image --output are checked before the board is opened (a port nothing listens on is never reached)', async () => {
    const store = fixtureStore();
    const port = 'socket://127.0.0.1:1';
    const bad = await cli(['flash', '--port', port, 'zz', __filename, '--key-store', store.dir]);
    assert.equal(bad.err, 'pycom-secure flash: ADDR must be a number in hex (0x...) or decimal, not "zz".\n');
    const missing = await cli(['flash', '--port', port, '0x10000', '/nonexistent/app.bin', '--key-store', store.dir]);
    assert.match(missing.err, /^pycom-secure flash: The file to flash \/nonexistent\/app\.bin does not exist/);
    const ota = await cli(['ota-image', '--board', 'GPY', '--build', secureBuild('GPY'), '--port', port, '--output', store.sharedFlashKeyPath, '--key-store', store.dir]);
    assert.match(ota.err, /^pycom-secure ota-image: Cannot write the output file .*flash_encryption_key\.bin: that file holds a key/);
    for (const r of [bad, missing, ota]) {
      assert.equal(r.code, 2, r.err);
      assert.doesNotMatch(r.err, /127\.0\.0\.1:1/, 'refused before connecting');
    }
  });

  it('a key file given as --key-store is named a file, not a folder, by every command (it was an internal error), and stays as it was', async () => {
    const store = fixtureStore();
    const key = store.sharedFlashKeyPath;
    const bytes = fs.readFileSync(key);
    for (const argv of [
      ['records', '--key-store', key],
      ['flash', '--dry-run', '--build', secureBuild('GPY'), '--key-store', key],
      ['efuse', 'burn-keys', '--port', 'socket://127.0.0.1:1', '--flash-key', key, '--signing-key', store.signingKeyPath, '--key-store', key],
    ]) {
      const r = await cli(argv);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, `pycom-secure ${argv[0] === 'efuse' ? 'efuse burn-keys' : argv[0]}: The key store ${key} is a file, not a folder: a key store is the folder that holds the keys (such as secure/, with flash_encryption_key.bin in it); give that folder.\n`);
    }
    assert.ok(fs.readFileSync(key).equals(bytes));
  });

  it('paths on the kernel\'s file systems (/proc) are named for what they are, and nothing hangs', async () => {
    const missing = await cli(['image-info', '/proc/x.bin']);
    assert.equal(missing.err, 'pycom-secure image-info: The image /proc/x.bin does not exist; check the path.\n');
    const made = await cli(['image-info', '/proc/self/status']);
    assert.equal(made.err, 'pycom-secure image-info: The image /proc/self/status is not a regular file: it is made up by the kernel (/proc); give the path of a file on a disk.\n');
    // Node's recursive mkdir spins for ever under /proc; the key folder is made one level at a time.
    const key = await cli(['generate-signing-key', '/proc/x/secure_boot_signing_key.pem']);
    assert.equal(key.code, 2);
    assert.equal(key.err, 'pycom-secure generate-signing-key: Cannot create the key folder /proc/x: the folder /proc takes no new files (a file system of the kernel\'s, such as /proc or /sys); choose a folder on a disk.\n');
    const state = await cli(['sim', 'reset-state', '--state', '/proc/x.json']);
    assert.match(state.err, /Cannot write the virtual board state file \/proc\/x\.json: the folder \/proc takes no new files/);
    assert.doesNotMatch(key.err + state.err + missing.err, /folder on its path does not exist|internal error/);
    assert.equal(fs.existsSync('/proc/x'), false);
  });

  it('makeDirs creates each missing level with its mode and refuses a file on the path in one sentence', () => {
    const dir = scratch();
    assert.equal(makeDirs(path.join(dir, 'a', 'b'), { mode: 0o700, what: 'key folder' }), true);
    assert.equal(fs.statSync(path.join(dir, 'a')).mode & 0o777, 0o700);
    assert.equal(fs.statSync(path.join(dir, 'a', 'b')).mode & 0o777, 0o700);
    assert.equal(makeDirs(path.join(dir, 'a', 'b')), false);
    fs.writeFileSync(path.join(dir, 'f'), 'x');
    assert.throws(() => makeDirs(path.join(dir, 'f', 'g'), { what: 'key folder' }), /Cannot create the key folder .*f\/g: /);
    assert.throws(() => makeDirs(path.join(dir, 'f')), /it exists and is a file, not a folder/);
  });
});
