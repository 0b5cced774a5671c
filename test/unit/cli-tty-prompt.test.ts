import { strict as assert } from 'node:assert';
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { KeyStore } from '../../src/core/keystore/key-store';
import { fixtureStore, secureBuild } from './flash-harness';

const root = path.join(__dirname, '..', '..');

/**
 * Runs `argv` on a real pseudo-terminal (Python's pty module: the child's stdin, stdout and stderr
 * are the pty's slave side, so `process.stdin.isTTY` is true in it), answers `reply` once `expect`
 * appears, and returns everything the terminal showed and the exit code.
 */
function onTerminal(argv: string[], expect: RegExp, reply: string | undefined): Promise<{ code: number; screen: string }> {
  const driver = [
    'import os, pty, subprocess, sys, select, re, json',
    'argv, expect, reply = json.loads(sys.argv[1]), re.compile(sys.argv[2]), json.loads(sys.argv[3])',
    'm, s = pty.openpty()',
    'p = subprocess.Popen(argv, stdin=s, stdout=s, stderr=s, close_fds=True)',
    'os.close(s)',
    'out = b""',
    'sent = False',
    'while True:',
    '    r, _, _ = select.select([m], [], [], 60)',
    '    if not r: break',
    '    try: d = os.read(m, 4096)',
    '    except OSError: break',
    '    if not d: break',
    '    out += d',
    '    if not sent and expect.search(out.decode("utf-8", "replace")):',
    '        sent = True',
    '        os.write(m, (reply + "\\n").encode() if reply is not None else b"\\x04")',
    'sys.stdout.write(out.decode("utf-8", "replace"))',
    'sys.exit(p.wait())',
  ].join('\n');
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', driver, JSON.stringify(argv), expect.source, JSON.stringify(reply ?? null)], { cwd: root });
    let screen = '';
    child.stdout.on('data', (d: Buffer) => { screen += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { screen += d.toString(); });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, screen }));
  });
}

describe('CLI on a terminal: efuse burn-keys shows the plan and asks for the MAC', function () {
  this.timeout(120_000);
  let dir: string;
  let dev: VirtualEsp32;
  let server: SimServer;
  let store: KeyStore;
  let mac: string;

  before(() => {
    if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root });
  });
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-tty-'));
    store = new KeyStore(path.join(dir, 'secure'));
    generateMissingKeys(store.dir, false, fs.existsSync);
    dev = new VirtualEsp32({ profile: 'GPY', seed: `cli-tty-${Math.random()}` });
    mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    server = await startSimServer(dev, { port: 0 });
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const argv = () => [process.execPath, 'bin/pycom-secure.js', 'efuse', 'burn-keys', '--port', `socket://127.0.0.1:${server.port}`, '--baud', '115200',
    '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--key-store', store.dir];

  it('the MAC typed at the prompt burns the plan it follows', async () => {
    const r = await onTerminal(argv(), /Type this board's MAC/, mac.toUpperCase());
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /BLOCK1/, 'the plan is shown before the question');
    assert.ok(r.screen.indexOf('BLOCK1') < r.screen.indexOf("Type this board's MAC"));
    assert.match(r.screen, /Done: \d+ step\(s\) burned and verified/);
    assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n);
  });

  it('another MAC at the prompt burns nothing and says so', async () => {
    const before = dev.efuse.rawWords().map((b) => [...b]);
    const r = await onTerminal(argv(), /Type this board's MAC/, '00:11:22:33:44:55');
    assert.equal(r.code, 2, r.screen);
    assert.match(r.screen, /Nothing was burned: confirm by repeating the MAC of the connected board .*"00:11:22:33:44:55" does not match/);
    assert.deepEqual(dev.efuse.rawWords().map((b) => [...b]), before);
  });

  it('Ctrl-D at the prompt burns nothing and says so', async () => {
    const before = dev.efuse.rawWords().map((b) => [...b]);
    const r = await onTerminal(argv(), /Type this board's MAC/, undefined);
    assert.equal(r.code, 2, r.screen);
    assert.match(r.screen, /Nothing was burned/);
    assert.deepEqual(dev.efuse.rawWords().map((b) => [...b]), before);
  });
});

/**
 * provision without --board on a terminal: the plan names the build's module, then the question
 * does ("These boards are GPy modules?"); anything but yes stops the run before any board is opened.
 */
describe('CLI on a terminal: provision without --board asks for the module', function () {
  this.timeout(180_000);
  let dev: VirtualEsp32;
  let server: SimServer;
  let mac: string;
  let connections = 0;
  const build = secureBuild('GPY', 24 * 1024, 'tty-module-app');

  before(async () => {
    if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: root });
    dev = new VirtualEsp32({ profile: 'LOPY4', seed: 'cli-tty-module' });
    mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    server = await startSimServer(dev, { port: 0, onDisconnect: () => { connections++; } });
  });
  after(() => server.close());

  const argv = (ks: string) => [process.execPath, 'bin/pycom-secure.js', 'provision', '--port', `socket://127.0.0.1:${server.port}`, '--build', build,
    '--key-store', ks, '--confirm-macs', mac, '--boot-log-ms', '0'];

  it('"no" stops the run: no board opened, nothing burned, written or recorded', async () => {
    const ks = fixtureStore();
    const files = fs.readdirSync(ks.dir).sort();
    const efuse = JSON.stringify(dev.efuse.rawWords().map(String));
    const before = connections;
    const r = await onTerminal(argv(ks.dir), /These boards are GPy modules\? \[yes\/no\]/, 'no');
    assert.equal(r.code, 2, r.screen);
    assert.ok(r.screen.indexOf(`Plan: GPy firmware (${build}) for each approved board.`) >= 0, r.screen);
    assert.ok(r.screen.indexOf('Plan: GPy firmware') < r.screen.indexOf('These boards are GPy modules?'), 'the plan comes before the question');
    assert.match(r.screen, /runs only on a GPy/);
    assert.match(r.screen, /You did not confirm that the boards are GPy modules, so nothing was burned or written/);
    assert.equal(connections, before, 'no board was opened');
    assert.equal(JSON.stringify(dev.efuse.rawWords().map(String)), efuse);
    assert.deepEqual(fs.readdirSync(ks.dir).sort(), files);
  });

  it('"yes" provisions the board (the chip cannot tell a LoPy4 from a GPy: the answer is the operator\'s word)', async () => {
    const r = await onTerminal(argv(fixtureStore().dir), /These boards are GPy modules\? \[yes\/no\]/, 'yes');
    assert.equal(r.code, 0, r.screen);
    assert.match(r.screen, /Module: GPy, confirmed for every board of this run\./);
    assert.match(r.screen, /All 1 approved board\(s\) finished/);
    assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n);
  });
});
