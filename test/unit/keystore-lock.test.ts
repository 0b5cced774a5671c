import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { cli } from './helpers/cli';
import { burnKeys, withBoard, scriptedUi, KeyStore, digestPrivateKey, readSigningKeyFile, readHardwareKeyFile, readAudit, LOCK_FILE, lockKeyStore, processAlive, type BurnKeysOutcome } from '../../src/core';

/**
 * Issue 18 point 4: the key store is locked for the whole of a run that writes it, per process and
 * re-entrant; files in it are opened without following links; loose permissions are warned about.
 */
describe('key store: one writer process at a time, no links, private', function () {
  this.timeout(60_000);
  let dir: string;
  let store: KeyStore;
  const servers: SimServer[] = [];
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ks-lock-'));
    store = new KeyStore(path.join(dir, 'secure'));
    generateMissingKeys(store.dir, false, fs.existsSync);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    for (const s of servers.splice(0)) await s.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const keys = ({ threeFour }: { threeFour: boolean }) => ({
    flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'),
    secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), threeFour ? 192 : 256),
  });
  async function board(seed: string): Promise<{ dev: VirtualEsp32; url: string }> {
    const dev = new VirtualEsp32({ profile: 'GPY', seed });
    const server = await startSimServer(dev, { port: 0 });
    servers.push(server);
    return { dev, url: `socket://127.0.0.1:${server.port}` };
  }
  const burn = (url: string, warnings: string[] = []): Promise<BurnKeysOutcome> =>
    withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), (b) => burnKeys(b, { store, keys, hardening: false, showPlan: () => undefined }, scriptedUi({ log: (level, l) => void (level === 'warn' && warnings.push(l)) })));

  /** Another process holding the store's lock (a node running the core's lockKeyStore). */
  async function otherProcessHolds(lockDir = store.dir): Promise<ChildProcess> {
    const code = `require(${JSON.stringify(path.resolve('src/core/keystore/lock.ts'))}).lockKeyStore(${JSON.stringify(lockDir)}, 'Burn Keys on 24:0a:c4:00:00:01'); console.log('held'); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['-r', 'tsx/cjs', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('held') && resolve());
      child.on('exit', (c) => reject(new Error(`the lock holder exited (${c})`)));
    });
    return child;
  }

  it('two Burn Keys runs at once in one process on one store (two boards with one MAC) share the lock and never close each other', async () => {
    const a = await board('same-mac');
    const b = await board('same-mac');
    const [ra, rb] = await Promise.all([burn(a.url), burn(b.url)]);
    assert.equal(ra.kind, 'burned');
    assert.equal(rb.kind, 'burned');
    const records = readAudit(store.auditPath).records;
    const ids = records.filter((r) => r.phase === 'intent').map((r) => r.id);
    assert.equal(ids.length, 2);
    for (const id of ids) assert.equal(records.filter((r) => r.id === id && r.phase === 'done').length, 1, `run ${id} has one done line`);
    assert.deepEqual(records.filter((r) => /closed by later run/.test(r.message ?? '')), [], 'no run closed a run still going');
    assert.equal(fs.existsSync(path.join(store.dir, LOCK_FILE)), false, 'the lock is gone once both ended');
  });

  it('a second process gets one sentence naming the holder, burns nothing and writes nothing; after the holder is killed the lock is stale and taken over', async () => {
    const { dev, url } = await board('locked');
    const holder = await otherProcessHolds();
    const before = dev.efuse.rawWords();
    await assert.rejects(burn(url), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEY_STORE_LOCKED');
      assert.match(e.message, new RegExp(`^The key store ${store.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by another run of this tool \\(process ${holder.pid}: Burn Keys on 24:0a:c4:00:00:01, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); wait for it to finish and run the command again \\(only if that process is gone, delete .*${LOCK_FILE.replace('.', '\\.')}\\)\\.$`));
      return true;
    });
    assert.deepEqual(dev.efuse.rawWords(), before, 'nothing burned');
    assert.equal(fs.existsSync(store.auditPath), false, 'nothing recorded');
    // kill -9: no chance to release; the next run finds a lock of a process that no longer runs.
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    assert.ok(fs.existsSync(path.join(store.dir, LOCK_FILE)));
    assert.equal((await burn(url)).kind, 'burned');
    assert.equal(fs.existsSync(path.join(store.dir, LOCK_FILE)), false);
  });

  it('key generation (the CLI\'s generate-… and digest-private-key, the editor\'s Generate Keys) is refused by a store another process holds, writing nothing; it runs once the holder is gone', async () => {
    const fresh = path.join(dir, 'fresh');
    fs.mkdirSync(fresh, { mode: 0o700 });
    const holder = await otherProcessHolds(fresh);
    const esc = (t: string): string => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    const sentence = `The key store ${esc(fresh)} is in use by another run of this tool \\(process ${holder.pid}: Burn Keys on 24:0a:c4:00:00:01, since \\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\); wait for it to finish and run the command again \\(only if that process is gone, delete ${esc(path.join(fresh, LOCK_FILE))}\\)\\.`;
    const runs: string[][] = [
      ['generate-flash-encryption-key', path.join(fresh, 'flash_encryption_key.bin')],
      ['generate-secure-boot-key', '--keylen', '192', path.join(fresh, 'secure_boot_key.bin')],
      ['generate-signing-key', path.join(fresh, 'secure_boot_signing_key.pem')],
      ['digest-private-key', '--keyfile', store.signingKeyPath, path.join(fresh, 'digest.bin')],
    ];
    for (const argv of runs) {
      const r = await cli(argv);
      assert.equal(r.code, 2, `${argv[0]}: ${r.err}`);
      assert.match(r.err, new RegExp(`^pycom-secure ${argv[0]}: ${sentence}\\n$`));
      assert.equal(r.out, '');
    }
    assert.throws(() => generateMissingKeys(fresh, false, fs.existsSync), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEY_STORE_LOCKED');
      assert.match(e.message, new RegExp(`^${sentence}$`));
      return true;
    });
    assert.deepEqual(fs.readdirSync(fresh), [LOCK_FILE], 'nothing written beside the holder\'s lock');

    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    for (const argv of runs) {
      const r = await cli(argv);
      assert.equal(r.code, 0, `${argv[0]}: ${r.err}`);
    }
    const made = generateMissingKeys(path.join(dir, 'fresh2'), false, fs.existsSync);
    assert.deepEqual(made.created.map((k) => k.what), ['signing key', 'flash-encryption key']);
    assert.deepEqual(fs.readdirSync(fresh).sort(), ['digest.bin', 'flash_encryption_key.bin', 'secure_boot_key.bin', 'secure_boot_signing_key.pem'], 'the stale lock was taken over and released');
    assert.deepEqual(fs.readdirSync(path.join(dir, 'fresh2')).sort(), ['flash_encryption_key.bin', 'secure_boot_signing_key.pem']);
  });

  it('the lock is re-entrant in one process and released only by its last user', () => {
    const r1 = lockKeyStore(store.dir, 'first');
    const r2 = lockKeyStore(store.dir, 'second');
    r1();
    r1(); // releasing twice counts once
    assert.ok(fs.existsSync(path.join(store.dir, LOCK_FILE)));
    r2();
    assert.equal(fs.existsSync(path.join(store.dir, LOCK_FILE)), false);
  });

  it('a symlinked audit.jsonl is refused with a sentence: nothing burned, nothing written outside the store', async () => {
    const { dev, url } = await board('symlink');
    const outside = path.join(dir, 'elsewhere.jsonl');
    fs.writeFileSync(outside, '');
    fs.symlinkSync(outside, store.auditPath);
    const before = dev.efuse.rawWords();
    await assert.rejects(burn(url), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_SYMLINK');
      assert.equal(e.message, `The audit log ${store.auditPath} is a symbolic link, and the key store's record is never written through a link (it would land outside the store); replace the link with a plain file (move the file it points to into its place) and run the command again.`);
      return true;
    });
    assert.deepEqual(dev.efuse.rawWords(), before);
    assert.equal(fs.readFileSync(outside, 'utf8'), '');
    assert.equal(fs.existsSync(path.join(store.dir, LOCK_FILE)), false, 'the lock is released on the refusal');
  });

  it('a key store folder other users can write and key files they can read are warned about', async () => {
    const { url } = await board('perms');
    fs.chmodSync(store.dir, 0o777);
    fs.chmodSync(store.signingKeyPath, 0o644);
    const warnings: string[] = [];
    assert.equal((await burn(url, warnings)).kind, 'burned');
    assert.ok(warnings.includes(`The key store folder ${store.dir} can be written by other users (mode 777), who could replace a key or the audit log; make it private with chmod 700 "${store.dir}".`), warnings.join('\n'));
    assert.ok(warnings.includes(`${store.signingKeyPath} can be read by other users (mode 644); make it private with chmod 600 "${store.signingKeyPath}".`), warnings.join('\n'));
  });
});

describe('a lock holder killed a moment ago (a zombie its parent has not collected) holds nothing', () => {
  it('processAlive is false for a zombie, true for a running process', async () => {
    // sh starts `sleep 30` in the background, prints its pid and becomes `sleep 60`, which never
    // collects it: killed, the first sleep stays a zombie (Linux /proc state Z) until its parent goes.
    const parent = spawn('sh', ['-c', 'sleep 30 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      const pid = Number(await new Promise<string>((resolve) => parent.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()))));
      assert.equal(processAlive(pid), true);
      process.kill(pid, 'SIGKILL');
      let state = '';
      for (let i = 0; i < 100 && state !== 'Z'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
        state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      }
      assert.equal(state, 'Z', 'the killed process is a zombie');
      assert.equal(processAlive(pid), false, 'a zombie holds no lock');
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
