import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { saveStateFile } from '../../src/core/virtual/state-file';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { KeyStore } from '../../src/core/keystore/key-store';
import { readHardwareKeyFile, readSigningKeyFile } from '../../src/core/keys/key-files';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { keyFileToReadWords } from '../../src/core/crypto/efuse-key-layout';
import { secureSet } from '../../src/core/secure-build/process';
import { parsePartitionCsv, formatPartitionCsv } from '../../src/core/partition/csv';
import { writePartitionTable } from '../../src/core/partition/table';
import { layout as layoutFacts } from '../../src/core/boards/catalog';
import { readEfuses } from '../../src/core/efuse/access';
import { directAccess } from '../../src/core/efuse/controller-access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { snapshotFromWords, planSnapshot } from '../../src/extension/sources/efuse-snapshot';
import { cksumOf, FIXTURE_APP_SIZE, FIXTURE_IDF, FIXTURE_IV, FIXTURE_TOOLCHAIN_BIN, FIXTURE_TREE, fixtureApp, fixtureBootloader } from '../../scripts/make-fixture-firmware';

/** Every form key bytes could take in text or a file: hex (either case, either byte order), base64 at each alignment, eFuse register words. */
function keyForms(key: Uint8Array): string[] {
  const b = Buffer.from(key);
  const forms = [b.toString('hex'), Buffer.from(b).reverse().toString('hex')];
  // base64 of the key inside longer data depends on its offset mod 3: the middle of each alignment.
  for (const skip of [0, 1, 2]) forms.push(b.subarray(skip).toString('base64').slice(4, 24));
  for (const coding of key.length === 24 ? (['3/4'] as const) : (['none'] as const)) {
    const words = keyFileToReadWords(key, { reverse: true, coding }).map((w) => (w >>> 0).toString(16).padStart(8, '0'));
    forms.push(words.join(''), words.slice(0, 3).join(' '), words.slice(0, 3).join(' 0x'), words.slice(0, 3).join(', 0x'), words.slice(0, 3).join('","'));
    // The same words as little-endian bytes (a register dump written as a file).
    forms.push(Buffer.from(Uint32Array.from(words.map((w) => parseInt(w, 16))).buffer).toString('hex'));
  }
  return forms;
}

function findForms(text: string, forms: string[]): string[] {
  const t = text.toLowerCase();
  return forms.filter((f) => t.includes(f.toLowerCase()));
}

/** Regular files under `dir` (symlinks are paths, not copies; directories that vanish meanwhile are skipped). */
function walk(dir: string, depth = 8): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return depth > 0 ? walk(p, depth - 1) : [];
    return e.isFile() ? [p] : [];
  });
}

function readIfSmall(f: string): Buffer | undefined {
  try {
    return fs.statSync(f).size <= 16 * 1024 * 1024 ? fs.readFileSync(f) : undefined;
  } catch {
    return undefined;
  }
}

interface Run { argv: string[]; code: number; out: string; err: string }

/**
 * Issue 7 security review over a full CLI pipeline in one temporary directory, with keys the CLI
 * generates into a key store whose path has spaces, quotes and shell/make syntax: generate keys →
 * served virtual GPy → efuse burn-keys → build (fixture tree, plain make) → flash --build →
 * predict-boot → ota-image → monitor / device info / efuse summary / efuse dump. Then every file
 * left (outside the key files) and every line printed is searched for the keys in every form, the
 * inspector data the extension would post is checked the same way, and os.tmpdir() is searched
 * for a copy of the signing key.
 */
describe('security review: key material over a full CLI pipeline run', function () {
  this.timeout(60_000);
  // Files written since the run began are the ones it could have copied a key into; older files in
  // os.tmpdir() (other programs', earlier runs') are not read, which keeps the scan short on a
  // machine whose /tmp holds many thousands of files.
  const started = Date.now() - 2000;
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-pipeline-'));
  const storeDir = path.join(work, `my keys`, `it's "the store" $(touch PWNED1); touch PWNED2`);
  const store = new KeyStore(storeDir);
  const stateFile = path.join(work, 'sim', 'board.json');
  const runs: Run[] = [];
  const env = { PATH: process.env.PATH, IDF_PATH: process.env.IDF_PATH };
  let dev: VirtualEsp32;
  let server: SimServer;
  let port = '';
  let buildDir = '';

  /** `expect` null: the exit code is not the point (the output is still searched). */
  async function cli(argv: string[], expect: number | null = 0): Promise<Run> {
    let out = '';
    let err = '';
    const code = await runCli(argv, { out: (l) => (out += l + '\n'), err: (l) => (err += l + '\n') });
    const r = { argv, code, out, err };
    runs.push(r);
    if (expect !== null) assert.equal(code, expect, `${argv.join(' ')}\n${out}${err}`);
    return r;
  }

  before(async () => {
    fs.mkdirSync(path.dirname(stateFile));
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'sec-pipeline', bootPredictor: bootPredictorForVirtual });
    // As `sim serve --state` does: the board is saved to its state file after every disconnect.
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1', onDisconnect: () => saveStateFile(stateFile, dev) });
    port = `socket://127.0.0.1:${server.port}`;
    process.env.PATH = `${FIXTURE_TOOLCHAIN_BIN}${path.delimiter}${process.env.PATH}`;
    process.env.IDF_PATH = FIXTURE_IDF;
  });
  after(async () => {
    await server.close();
    process.env.PATH = env.PATH;
    if (env.IDF_PATH === undefined) delete process.env.IDF_PATH;
    else process.env.IDF_PATH = env.IDF_PATH;
    fs.rmSync(work, { recursive: true, force: true });
  });

  it('runs the whole pipeline through the CLI with key paths holding spaces, quotes and shell syntax', async () => {
    fs.mkdirSync(storeDir, { recursive: true });
    await cli(['generate-signing-key', store.signingKeyPath]);
    await cli(['generate-flash-encryption-key', store.sharedFlashKeyPath]);
    for (const f of [store.signingKeyPath, store.sharedFlashKeyPath]) assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);

    // The fixture tree, re-prepared for these fresh keys (its makefile only copies prepared
    // outputs). Its key check compares against fixture-keys/: symlinks here, so no copy of a key
    // exists outside the store even in the test's own scaffolding.
    const root = path.join(work, 'fw');
    fs.cpSync(FIXTURE_TREE, root, { recursive: true });
    const esp32 = path.join(root, 'esp32');
    fs.rmSync(path.join(esp32, 'build'), { recursive: true, force: true });
    for (const f of ['secure_boot_signing_key.pem', 'flash_encryption_key.bin']) fs.rmSync(path.join(esp32, f), { force: true });
    fs.rmSync(path.join(esp32, 'fixture-keys'), { recursive: true, force: true });
    fs.mkdirSync(path.join(esp32, 'fixture-keys'));
    fs.symlinkSync(store.signingKeyPath, path.join(esp32, 'fixture-keys', 'secure_boot_signing_key.pem'));
    fs.symlinkSync(store.sharedFlashKeyPath, path.join(esp32, 'fixture-keys', 'flash_encryption_key.bin'));
    const signingKey = readSigningKeyFile(store.signingKeyPath);
    const keys = { signingKey, flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'), secureBootKey: digestPrivateKey(signingKey, 256) };
    const prep = path.join(esp32, 'prepared');
    fs.rmSync(prep, { recursive: true, force: true });
    fs.mkdirSync(prep);
    for (const layout of ['4MB', '8MB'] as const) {
      const table = writePartitionTable(parsePartitionCsv(formatPartitionCsv(layoutFacts(layout).entries), `partitions_${layout}.csv`));
      const set = secureSet({ bootloader: fixtureBootloader(undefined, signingKey.publicKey), partitionTable: table, app: fixtureApp(FIXTURE_APP_SIZE), iv: FIXTURE_IV }, keys, [0x1c0000, 0x210000]);
      fs.writeFileSync(path.join(prep, `partitions_${layout}.bin`), set.signedPartitionTable);
      fs.writeFileSync(path.join(prep, `partitions_${layout}.bin_enc`), set.partitionTable);
      fs.writeFileSync(path.join(prep, 'bootloader-reflash-digest.bin_enc'), set.digest);
      fs.writeFileSync(path.join(prep, 'app.bin_enc'), set.app);
      fs.writeFileSync(path.join(prep, 'app.bin'), set.signedApp);
      for (const [a, data] of set.otaCopies) fs.writeFileSync(path.join(prep, `app.bin_enc_0x${a.toString(16).toUpperCase()}`), data);
    }
    // The fixture makefile "derives" keys by copying prepared/derived/<cksum of the PEM>/ (what
    // espsecure writes); that scaffolding holds key material, so it is removed right after the build.
    const derived = path.join(prep, 'derived', String(cksumOf(fs.readFileSync(store.signingKeyPath))));
    fs.mkdirSync(derived, { recursive: true });
    fs.writeFileSync(path.join(derived, 'signature_verification_key.bin'), signingKey.publicKey);
    fs.writeFileSync(path.join(derived, 'secure-bootloader-key.bin'), keys.secureBootKey);

    const summary = JSON.parse((await cli(['efuse', 'summary', '--json', '--port', port])).out) as Record<string, { value: unknown }>;
    const mac = String(summary['MAC']!.value).split(' ')[0]!;
    await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir]);
    await cli(['build', '--board', 'GPY', '--project', esp32, '--signing-key', store.signingKeyPath, '--flash-key', store.sharedFlashKeyPath]);
    fs.rmSync(path.join(prep, 'derived'), { recursive: true, force: true });
    buildDir = path.join(esp32, 'build', 'GPY', 'release');
    const flash = await cli(['flash', '--port', port, '--build', buildDir, '--key-store', store.dir, '--boot-log-ms', '300']);
    assert.match(flash.out, /Loaded app from partition at offset 0x10000/);
    const predicted = JSON.parse((await cli(['predict-boot', '--port', port, '--key-store', store.dir, '--json'])).out) as { boots: boolean };
    assert.equal(predicted.boots, true);
    await cli(['predict-boot', '--port', port, '--key-store', store.dir, '--signing-key', store.signingKeyPath, '--flash-key', store.sharedFlashKeyPath]);
    fs.mkdirSync(path.join(work, 'out'));
    await cli(['ota-image', '--board', 'GPY', '--build', buildDir, '--slot', '0x210000', '--output', path.join(work, 'out', 'ota.bin'), '--key-store', store.dir]);
    await cli(['monitor', '--port', port, '--seconds', '1']);
    await cli(['device', 'info', '--port', port]);
    await cli(['device', 'info', '--port', port, '--json']);
    await cli(['efuse', 'summary', '--json', '--port', port]);
    await cli(['efuse', 'summary', '--port', port]);
    await cli(['efuse', 'dump', '--port', port]);
    // A refused second burn prints its plan and error: those must be clean too.
    await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', '00:00:00:00:00:00', '--key-store', store.dir], null);
    await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--dry-run', '--key-store', store.dir], null);
    assert.deepEqual(walk(work).filter((f) => path.basename(f).startsWith('PWNED')), [], 'no shell ran the key paths');
  });

  function allForms(): { forms: string[]; signingForms: string[] } {
    const signingKey = readSigningKeyFile(store.signingKeyPath);
    const flashKey = readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption');
    const der = Buffer.from(fs.readFileSync(store.signingKeyPath, 'latin1').replace(/-----[^-]+-----|\s/g, ''), 'base64');
    // The DER's first bytes are the same for every key (version, OID); its tail holds the scalar and public point.
    const signingForms = [...keyForms(signingKey.d), der.subarray(7).toString('hex'), fs.readFileSync(store.signingKeyPath, 'latin1').split('\n')[2]!.slice(0, 40)];
    return { forms: [...signingForms, ...keyForms(flashKey), ...keyForms(digestPrivateKey(signingKey, 256))], signingForms };
  }

  it('no key bytes in any stdout/stderr or any file the run left (outside the key files and the board state)', () => {
    assert.ok(runs.length >= 14, 'the pipeline ran');
    const { forms } = allForms();
    for (const r of runs) assert.deepEqual(findForms(r.out + r.err, forms), [], `output of ${r.argv.slice(0, 2).join(' ')}`);
    const keyFiles = new Set([store.signingKeyPath, store.sharedFlashKeyPath]);
    const files = walk(work).filter((f) => !keyFiles.has(f) && f !== stateFile);
    assert.ok(files.includes(store.auditPath), 'the audit log is searched too');
    assert.ok(files.some((f) => f.endsWith('ota.bin')) && files.some((f) => f.endsWith('gpy.bin_enc')));
    for (const f of files) assert.deepEqual(findForms(fs.readFileSync(f, 'latin1') + fs.readFileSync(f).toString('hex'), forms), [], f);
  });

  it('the virtual board state file holds the raw key blocks: it is the device (its eFuses), 0600, and excluded for that reason only', () => {
    const st = fs.readFileSync(stateFile, 'latin1');
    assert.equal(fs.statSync(stateFile).mode & 0o777, 0o600);
    assert.notDeepEqual(findForms(st, allForms().forms), [], 'the eFuse blocks are in the state file');
  });

  it('the eFuse inspector data the extension posts for the burned board carries no key bytes, even from raw (unprotected) block words', async () => {
    const { forms } = allForms();
    const raw = dev.efuse.rawWords();
    const posted = JSON.stringify({ type: 'state', efuses: snapshotFromWords(raw, 'virtual GPy') });
    assert.match(posted, /fingerprint/);
    assert.deepEqual(findForms(posted, forms), []);
    // The plan view, built from the key bytes for a fresh board of the same kind.
    const fresh = new VirtualEsp32({ profile: 'GPY', seed: 'sec-pipeline-fresh' });
    const words = await readEfuses(directAccess(fresh.efuse));
    const signingKey = readSigningKeyFile(store.signingKeyPath);
    const macText = Array.from(fresh.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const plan = planBurnKeys(words, { target: { chip: 'ESP32', revision: fresh.chipRevision, mac: macText }, flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'), secureBootKey: digestPrivateKey(signingKey, 256), hardening: true, history: [] });
    const planPosted = JSON.stringify({ type: 'state', efuses: planSnapshot(fresh.efuse.rawWords(), 'virtual GPy', plan) });
    assert.match(planPosted, /will hold key/);
    assert.deepEqual(findForms(planPosted, forms), []);
  });

  it('the signing key is never copied outside the key store: no file under the run or os.tmpdir() holds its scalar or DER', () => {
    const { signingForms } = allForms();
    const hits = [...new Set([...walk(work), ...walk(os.tmpdir(), 4)])]
      .filter((f) => f !== store.signingKeyPath)
      .filter((f) => { try { return fs.statSync(f).mtimeMs >= started; } catch { return false; } })
      .filter((f) => {
        const b = readIfSmall(f);
        return b !== undefined && findForms(b.toString('latin1') + (b.length <= 1 << 20 ? b.toString('hex') : ''), signingForms).length > 0;
      });
    assert.deepEqual(hits, []);
  });
});
