import './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { describePort } from '../../src/core/transport/ports';
import { VirtualBoards } from '../../src/extension/virtual-boards';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';


describe('what a newcomer reads', () => {
  it('an error names its command once', async () => {
    const r = await cli(['device', 'info']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure device info: --port is required.\n');
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
    const os = await import('node:os');
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
