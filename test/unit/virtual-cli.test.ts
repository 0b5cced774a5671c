import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/command';
import { loadStateFile } from '../../src/core/virtual/state-file';
import { burnKeys, withBoard, scriptedUi, KeyStore, digestPrivateKey, readSigningKeyFile, readHardwareKeyFile } from '../../src/core';
import { generateMissingKeys } from '../../src/extension/keys-actions';

function io(): CliIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

describe('sim CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simcli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('sim reset-state writes a fresh board file', async () => {
    const file = path.join(dir, 'b.json');
    const o = io();
    assert.equal(await runCli(['sim', 'reset-state', '--state', file, '--profile', 'fipy', '--coding-scheme', '3/4'], o), 0);
    assert.match(o.outLines.join('\n'), /fresh FiPy board \(MAC [0-9a-f:]{17}, 8 MB flash\)/);
    const dev = loadStateFile(file);
    assert.equal(dev.module.id, 'FIPY');
    assert.equal(dev.efuse.codingScheme, 1);
  });

  it('every new board has its own MAC unless --seed asks for the same one (burn records name MACs)', async () => {
    const macOf = async (argv: string[]): Promise<string> => {
      const o = io();
      assert.equal(await runCli(['sim', 'reset-state', '--state', path.join(dir, `${Math.random()}.json`), ...argv], o), 0);
      return /MAC ([0-9a-f:]{17})/.exec(o.outLines.join('\n'))![1]!;
    };
    assert.notEqual(await macOf([]), await macOf([]));
    assert.equal(await macOf(['--seed', 'same']), await macOf(['--seed', 'same']));
  });

  it('refuses bad options with one sentence', async () => {
    const o = io();
    assert.equal(await runCli(['sim', 'reset-state', '--state', path.join(dir, 'x.json'), '--profile', 'NOPE'], o), 2);
    assert.match(o.errLines.join('\n'), /Unknown board profile NOPE/);
    const p = io();
    assert.equal(await runCli(['sim', 'serve', '--coding-scheme', '2/3'], p), 2);
    assert.match(p.errLines.join('\n'), /--coding-scheme must be none or 3\/4/);
  });
});

describe('sim serve: an existing state file keeps its board; options that shape a new board only are refused, not ignored', () => {
  let dir: string;
  let state: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simopts-'));
    state = path.join(dir, 'gpy.json');
    assert.equal(await runCli(['sim', 'reset-state', '--state', state, '--profile', 'GPY', '--seed', 'kept'], io()), 0);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const c of [
    { argv: ['--coding-scheme', '3/4'], holds: 'a board with coding scheme none', option: '--coding-scheme', redo: '--coding-scheme 3/4' },
    { argv: ['--profile', 'lopy4'], holds: 'a GPY board', option: '--profile', redo: '--profile lopy4' },
    { argv: ['--seed', 'other'], holds: 'a board made from another seed \\(MAC [0-9a-f:]{17}\\)', option: '--seed', redo: '--seed other' },
  ]) {
    it(`${c.argv.join(' ')} on an existing state file: one sentence, the file untouched, nothing served`, async () => {
      const before = fs.readFileSync(state);
      const o = io();
      assert.equal(await runCli(['sim', 'serve', '--port', '0', '--state', state, ...c.argv], o), 2);
      const esc = (t: string) => t.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
      assert.match(o.errLines.join('\n'), new RegExp(`^pycom-secure sim serve: the state file ${esc(state)} already holds ${c.holds} and ${c.option} shapes a new board only; give a new --state file, or make this one afresh with \`pycom-secure sim reset-state --state ${esc(state)} ${esc(c.redo)}\` \\(its burns and flash are lost\\), or leave out ${c.option}\\.$`));
      assert.deepEqual(o.outLines, [], 'nothing listening');
      assert.ok(fs.readFileSync(state).equals(before), 'the state file is untouched');
      assert.equal(fs.existsSync(`${state}.lock`), false, 'no lock left behind');
      assert.equal(fs.existsSync(`${state}.journal`), false, 'no journal started');
    });
  }

  it('options naming what the board already is, and the timing options, are taken', async function () {
    this.timeout(30_000);
    const { spawn } = await import('node:child_process');
    const bin = path.join(__dirname, '..', '..', 'bin', 'pycom-secure.js');
    const server = spawn(process.execPath, [bin, 'sim', 'serve', '--port', '0', '--state', state, '--profile', 'gpy', '--coding-scheme', 'none', '--seed', 'kept', '--timing-profile', 'block64k'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (d: Buffer) => { if (/listening on/.test(d.toString())) resolve(); });
        server.on('exit', (code) => reject(new Error(`sim serve exited with ${code}`)));
      });
    } finally {
      server.kill('SIGINT');
      await new Promise((r) => server.once('exit', r));
    }
  });
});

describe('sim serve: one process per state file', () => {
  it('a second sim serve on the same state file is refused while the first runs, and the lock goes with it', async function () {
    this.timeout(30_000);
    const { spawn } = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simlock-'));
    const state = path.join(dir, 's.json');
    const bin = path.join(__dirname, '..', '..', 'bin', 'pycom-secure.js');
    const first = spawn(process.execPath, [bin, 'sim', 'serve', '--port', '0', '--state', state, '--seed', 'lock'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        first.stdout.on('data', (d: Buffer) => { if (/listening on/.test(d.toString())) resolve(); });
        first.on('exit', (c) => reject(new Error(`sim serve exited with ${c}`)));
      });
      const o = io();
      assert.equal(await runCli(['sim', 'serve', '--port', '0', '--state', state], o), 2);
      // sim reset-state too: the running server would write its board back over the fresh one.
      const before = fs.readFileSync(state);
      const r = io();
      assert.equal(await runCli(['sim', 'reset-state', '--state', state, '--seed', 'other'], r), 2);
      assert.match(r.errLines.join('\n'), new RegExp(`is in use by another sim serve \\(process ${first.pid}\\)`));
      assert.ok(fs.readFileSync(state).equals(before), 'the state file is untouched');
      assert.match(o.errLines.join('\n'), new RegExp(`The state file .*s\\.json is in use by another sim serve \\(process ${first.pid}\\); stop that one first, or give this board another --state file\\.`));
    } finally {
      first.kill('SIGINT');
      await new Promise((r) => first.once('exit', r));
    }
    assert.equal(fs.existsSync(`${state}.lock`), false, 'the lock is released on exit');
    // A lock left by a process that is gone is taken over.
    fs.writeFileSync(`${state}.lock`, '999999');
    const again = spawn(process.execPath, [bin, 'sim', 'serve', '--port', '0', '--state', state], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise<void>((resolve) => again.stdout.on('data', (d: Buffer) => { if (/listening on/.test(d.toString())) resolve(); }));
    again.kill('SIGINT');
    await new Promise((r) => again.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('sim serve --state: nothing acknowledged is forgotten (issue 18)', () => {
  it('killed with SIGKILL while a client is connected, the state file still has every burn and flash write the board acknowledged', async function () {
    this.timeout(60_000);
    const { spawn } = await import('node:child_process');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simkill-'));
    const state = path.join(dir, 's.json');
    const bin = path.join(__dirname, '..', '..', 'bin', 'pycom-secure.js');
    const server = spawn(process.execPath, [bin, 'sim', 'serve', '--port', '0', '--state', state, '--seed', 'killed'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const port = await new Promise<number>((resolve, reject) => {
        server.stdout.on('data', (d: Buffer) => {
          const m = /listening on .*:(\d+)/.exec(d.toString());
          if (m) resolve(Number(m[1]));
        });
        server.on('exit', (c) => reject(new Error(`sim serve exited with ${c}`)));
      });
      const store = new KeyStore(path.join(dir, 'secure'));
      generateMissingKeys(store.dir, false, fs.existsSync);
      const keys = ({ threeFour }: { threeFour: boolean }) => ({
        flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'),
        secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), threeFour ? 192 : 256),
      });
      const block = Buffer.alloc(0x400, 0x5a);
      await withBoard({ port: `socket://127.0.0.1:${port}`, reset: 'auto', baud: 115200 }, scriptedUi(), async (b) => {
        assert.equal((await burnKeys(b, { store, keys, hardening: false, showPlan: () => undefined }, scriptedUi())).kind, 'burned');
        await b.conn.loader.flashBegin(0x1000, 1, 0x400, 0x300000, 3000);
        await b.conn.loader.flashData(block, 0);
        // Still connected (no disconnect save): the server dies as a power cut would take it.
        server.kill('SIGKILL');
        await new Promise((r) => server.once('exit', r));
      }).catch(() => undefined);
      const dev = loadStateFile(state);
      assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n, 'ABS_DONE_0 kept');
      assert.equal(dev.efuse.rawField('FLASH_CRYPT_CONFIG'), 0xfn, 'FLASH_CRYPT_CONFIG kept');
      assert.equal(dev.efuse.rawField('RD_DIS') & 3n, 3n, 'key blocks read-protected');
      assert.ok(dev.efuse.rawWords()[1]!.some((w) => w !== 0) && dev.efuse.rawWords()[2]!.some((w) => w !== 0), 'both keys kept');
      assert.deepEqual(dev.flash.read(0x300000, 0x400), block, 'the acknowledged FLASH_DATA block kept');
    } finally {
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
