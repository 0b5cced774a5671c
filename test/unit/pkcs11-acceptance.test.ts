import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { cli } from './helpers/cli';
import { makeToken, SOFTHSM_MODULE, USER_PIN, type SoftHsmToken } from './helpers/softhsm';
import { tmpDir } from './flash-harness';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { KeyStore } from '../../src/core/keystore/key-store';
import { runBuild } from '../../src/core/firmware/build-runner';
import { bundleCli } from './vectors/cli-harness';
import { verifySignedData } from '../../src/core/crypto/signature';
import { FIXTURE_IDF, FIXTURE_TOOLCHAIN_BIN, fixtureApp } from '../../scripts/make-fixture-firmware';

/**
 * Issue 16's acceptance on a virtual GPy: the signing key is made in a SoftHSM2 token and never
 * leaves it, the secure boot key is random in the key store, Burn Keys burns it, a build signed
 * through the token is flashed and the board boots it, and neither a private key nor the PIN is
 * in any file the product wrote or in anything it printed.
 */

const URI = 'pkcs11:token=pycom;object=secure-boot';
const ROOT = path.join(__dirname, '..', '..');

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('a signing key that never leaves the token, from key generation to a booting virtual GPy', function () {
  this.timeout(120000);
  let token: SoftHsmToken;
  let server: SimServer;
  let port: string;
  let store: KeyStore;
  let buildDir: string;
  let sampleTree: string;
  /** The sample tree's files before the build, with their mtimes (the tree itself holds fixture files, a sample PEM among them). */
  let treeBefore = new Map<string, number>();
  const printed: string[] = [];
  const saved = { module: process.env.PYCOM_PKCS11_MODULE, pin: process.env.PYCOM_PKCS11_PIN };

  async function run(argv: string[], code = 0): Promise<string> {
    const r = await cli(argv);
    printed.push(r.out, r.err);
    assert.equal(r.code, code, `${argv.join(' ')}\n${r.out}${r.err}`);
    return r.out + r.err;
  }

  before(async () => {
    token = makeToken();
    process.env.PYCOM_PKCS11_MODULE = SOFTHSM_MODULE;
    process.env.PYCOM_PKCS11_PIN = USER_PIN;
    store = new KeyStore(path.join(tmpDir('hsm-acceptance-'), 'secure'));
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'pkcs11-acceptance', bootPredictor: bootPredictorForVirtual });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    port = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    token.remove();
    for (const [k, v] of [['PYCOM_PKCS11_MODULE', saved.module], ['PYCOM_PKCS11_PIN', saved.pin]] as const) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  it('generates the signing key in the token, a random secure boot key and a flash key in the store', async () => {
    await run(['generate-signing-key', URI, '--key-store', store.dir]);
    await run(['generate-secure-boot-key', store.secureBootKeyPath]);
    await run(['generate-flash-encryption-key', store.sharedFlashKeyPath]);
  });

  it('burns the keys; the plan says BLOCK2 gets the random key file', async () => {
    const summary = JSON.parse(await run(['efuse', 'summary', '--json', '--port', port]).then((t) => t.slice(0, t.lastIndexOf('}') + 1))) as Record<string, { value: unknown }>;
    const mac = String(summary['MAC']!.value).split(' ')[0]!;
    const out = await run(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--secure-boot-key', store.secureBootKeyPath, '--confirm', mac, '--key-store', store.dir]);
    assert.match(out, /The reflashable secure boot key \(the secure boot key file .*secure_boot_key\.bin \(fingerprint [0-9a-f]+\)\)/);
    // Refused: the derived key cannot come from a token key.
    const r = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyRefPath, '--dry-run', '--key-store', store.dir]);
    printed.push(r.out, r.err);
    assert.equal(r.code, 2);
    assert.match(r.err, /stays in a PKCS#11 token, so the secure boot key \(pass --secure-boot-key with the key from generate-secure-boot-key instead\) cannot be derived from it/);
  });

  it('builds the sample firmware with make through the token (pycom-secure build), flashes it, and the board boots it', async () => {
    // The sample tree `npm run sample-firmware` makes: its Makefile derives secure-bootloader-key.bin
    // by a file rule and signs with $(SIGN_BINARY) as Pycom's application.mk does.
    const root = tmpDir('hsm-sample-');
    const made = spawnSync('bash', ['-c', 'source scripts/code-server.sh && cs_workspace "$1" ""', 'ws', root], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(made.status, 0, made.stderr);
    treeBefore = new Map(filesUnder(root).map((f) => [f, fs.statSync(f).mtimeMs]));
    const fw = path.join(root, 'firmware');
    const esp32 = path.join(fw, 'pycom-micropython-sigfox', 'esp32');
    const env = { ...process.env, PATH: `${path.join(fw, 'toolchain', 'bin')}${path.delimiter}${process.env.PATH}`, IDF_PATH: path.join(fw, 'esp-idf'), PYCOM_PKCS11_MODULE: SOFTHSM_MODULE, PYCOM_PKCS11_PIN: USER_PIN };
    const built = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'pycom-secure.js'), 'build', '--board', 'GPY', '--project', esp32, '--key-store', store.dir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('close', (code) => resolve({ code, out }));
    });
    printed.push(built.out);
    assert.equal(built.code, 0, built.out);
    assert.match(built.out, /The signing key stays in the token/);
    buildDir = path.join(esp32, 'build', 'GPY', 'release');
    sampleTree = root;
    const predicted = await run(['predict-boot', '--port', port, '--build', buildDir, '--key-store', store.dir]);
    assert.match(predicted, /after flashing release: WILL BOOT/);
    const flashed = await run(['flash', '--port', port, '--build', buildDir, '--key-store', store.dir, '--boot-log-ms', '500']);
    assert.match(flashed, /Loaded app from partition at offset 0x10000/);
    const j = JSON.parse(await run(['predict-boot', '--port', port, '--key-store', store.dir, '--json']).then((t) => t.slice(0, t.lastIndexOf('}') + 1))) as { boots: boolean; outcome: string };
    assert.equal(j.boots, true);
    assert.equal(j.outcome, 'app-running');
  });

  it('no private signing key and no PIN in any file the product wrote, nor in anything it printed', () => {
    // Everything in the store, and every file of the sample tree the build wrote or changed (the
    // tree's own fixture files, a sample PEM among them, were there before this tool ran).
    const written = filesUnder(sampleTree).filter((f) => treeBefore.get(f) !== fs.statSync(f).mtimeMs);
    assert.ok(written.some((f) => f.endsWith('gpy.bin_enc')), 'the build wrote its outputs');
    const files = [...filesUnder(store.dir), ...written];
    const names = filesUnder(store.dir).map((f) => path.basename(f));
    for (const n of ['secure_boot_signing_key.pkcs11', 'secure_boot_key.bin', 'flash_encryption_key.bin', 'audit.jsonl']) assert.ok(names.includes(n), `${n} in the store`);
    assert.ok(!names.some((n) => n.endsWith('.pem')), 'no PEM key in the store');
    for (const f of files) {
      const text = fs.readFileSync(f).toString('latin1');
      assert.ok(!text.includes(USER_PIN), `the PIN is in ${f}`);
      assert.ok(!/PRIVATE KEY/.test(text), `a private key is in ${f}`);
    }
    for (const p of printed) assert.ok(!p.includes(USER_PIN), `the PIN was printed: ${p}`);
  });
});

describe('the build with a token key: make as Pycom\'s makefiles run it, SIGN_BINARY signing through the token', function () {
  this.timeout(120000);
  let token: SoftHsmToken;
  /** This tool's CLI, bundled from the sources into a temporary folder (dist/ is neither used nor overwritten). */
  let BIN: string;
  const savedNodePath = process.env.NODE_PATH;
  before(async () => {
    token = makeToken();
    const dir = tmpDir('hsm-cli-');
    await bundleCli(dir);
    BIN = path.join(dir, 'pycom-secure.js');
    fs.writeFileSync(BIN, "require('./cli.js').main();\n");
    process.env.NODE_PATH = path.join(ROOT, 'node_modules');
  });
  after(() => {
    token.remove();
    if (savedNodePath === undefined) delete process.env.NODE_PATH;
    else process.env.NODE_PATH = savedNodePath;
  });

  /**
   * An esp32/ folder whose Makefile has the key rules of Pycom's application.mk as they are in every
   * generation (1.18.2.r7 about 419-472 and 588, 1.20.3.b3 about 691-760 and 881): ESPSECUREPY,
   * SIGN_BINARY, the two derived key files made from SECURE_KEY, and `$(SIGN_BINARY) $@` on the app.
   * ESPSECUREPY is `false` here (no espsecure on this machine): any espsecure call on the
   * token reference would fail the build.
   */
  function esp32Dir(): string {
    const dir = path.join(tmpDir('hsm-make-'), 'esp32');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'Makefile'), [
      'BUILD = build/$(BOARD)/release',
      'ESPSECUREPY = false espsecure.py',
      'SIGN_BINARY = $(ESPSECUREPY) sign_data --keyfile $(SECURE_KEY)',
      'all: $(BUILD)/application.bin',
      'signature_verification_key.bin: $(SECURE_KEY)',
      '\t$(ESPSECUREPY) extract_public_key --keyfile $< $@',
      'secure-bootloader-key.bin: $(SECURE_KEY)',
      '\t$(ESPSECUREPY) digest_private_key --keyfile $< $@',
      '$(BUILD)/application.bin: signature_verification_key.bin secure-bootloader-key.bin',
      '\tmkdir -p $(BUILD) && cp app-plain.bin $@ && cp signature_verification_key.bin $(BUILD)/embedded-key.bin && cp secure-bootloader-key.bin $(BUILD)/digest-key.bin',
      '\t$(SIGN_BINARY) $@',
      '',
    ].join('\n'));
    fs.writeFileSync(path.join(dir, 'app-plain.bin'), fixtureApp(8 * 1024, 'make'));
    return dir;
  }

  it('signs the app in place through the token, embeds the token\'s public key, digests with the random key, and leaves no key copy', async () => {
    const store = new KeyStore(path.join(tmpDir('hsm-make-store-'), 'secure'));
    const env = { ...process.env, PYCOM_PKCS11_MODULE: SOFTHSM_MODULE, PYCOM_PKCS11_PIN: USER_PIN };
    const g = spawnSync(process.execPath, [BIN, 'generate-signing-key', URI, '--key-store', store.dir], { env, encoding: 'utf8' });
    assert.equal(g.status, 0, g.stderr);
    assert.equal(spawnSync(process.execPath, [BIN, 'generate-secure-boot-key', store.secureBootKeyPath], { encoding: 'utf8' }).status, 0);
    assert.equal(spawnSync(process.execPath, [BIN, 'generate-flash-encryption-key', store.sharedFlashKeyPath], { encoding: 'utf8' }).status, 0);
    const dir = esp32Dir();
    const lines: string[] = [];
    const makeEnv: NodeJS.ProcessEnv = { ...process.env, PATH: `${FIXTURE_TOOLCHAIN_BIN}${path.delimiter}${process.env.PATH}`, IDF_PATH: FIXTURE_IDF, PYCOM_PKCS11_MODULE: SOFTHSM_MODULE };
    delete makeEnv.PYCOM_PKCS11_PIN;
    const res = await runBuild({
      esp32Dir: dir, board: 'GPY', target: 'app', signingKey: store.signingKeyRefPath, flashKey: store.sharedFlashKeyPath, env: makeEnv,
      token: { signCommand: [process.execPath, BIN], secureBootKeyFile: store.secureBootKeyPath, access: { pin: USER_PIN } },
      onLine: (l) => lines.push(l),
    });
    assert.equal(res.exitCode, 0, lines.join('\n'));
    const out = path.join(dir, 'build', 'GPY', 'release');
    const pub = new Uint8Array(fs.readFileSync(path.join(out, 'embedded-key.bin')));
    assert.equal(pub.length, 64);
    assert.ok(verifySignedData(fs.readFileSync(path.join(out, 'application.bin')), pub), 'the app is signed by the token key the bootloader embeds');
    assert.deepEqual(fs.readFileSync(path.join(out, 'digest-key.bin')), fs.readFileSync(store.secureBootKeyPath));
    assert.ok(!fs.existsSync(path.join(dir, 'secure-bootloader-key.bin')), 'the secure boot key copy is removed after the build');
    assert.match(res.argv.join(' '), new RegExp(`SIGN_BINARY=\\S+ \\S+pycom-secure\\.js sign-data --keyfile \\S+secure_boot_signing_key\\.pkcs11`));
    assert.ok(!res.argv.join(' ').includes(USER_PIN) && !lines.join('\n').includes(USER_PIN), 'the PIN is never on make\'s command line nor in its output');

    // A wrong PIN is found before make runs: nothing is built.
    const dir2 = esp32Dir();
    await assert.rejects(runBuild({
      esp32Dir: dir2, board: 'GPY', target: 'app', signingKey: store.signingKeyRefPath, flashKey: store.sharedFlashKeyPath, env: makeEnv,
      token: { signCommand: [process.execPath, BIN], secureBootKeyFile: store.secureBootKeyPath, access: { pin: '000000' } },
    }), /The token refused the PIN/);
    assert.ok(!fs.existsSync(path.join(dir2, 'build')));
    assert.ok(!fs.existsSync(path.join(dir2, 'secure-bootloader-key.bin')));
  });

  it('without the random secure boot key the build says how to make it, before make runs', async () => {
    const store = new KeyStore(path.join(tmpDir('hsm-make-store-'), 'secure'));
    const env = { ...process.env, PYCOM_PKCS11_MODULE: SOFTHSM_MODULE, PYCOM_PKCS11_PIN: USER_PIN };
    assert.equal(spawnSync(process.execPath, [BIN, 'generate-signing-key', 'pkcs11:token=pycom;object=second', '--key-store', store.dir], { env, encoding: 'utf8' }).status, 0);
    assert.equal(spawnSync(process.execPath, [BIN, 'generate-flash-encryption-key', store.sharedFlashKeyPath], { encoding: 'utf8' }).status, 0);
    const dir = esp32Dir();
    await assert.rejects(runBuild({
      esp32Dir: dir, board: 'GPY', target: 'app', signingKey: store.signingKeyRefPath, flashKey: store.sharedFlashKeyPath,
      env: { ...process.env, PATH: `${FIXTURE_TOOLCHAIN_BIN}${path.delimiter}${process.env.PATH}`, IDF_PATH: FIXTURE_IDF, PYCOM_PKCS11_MODULE: SOFTHSM_MODULE },
      token: { signCommand: [process.execPath, BIN], secureBootKeyFile: store.secureBootKeyPath, access: { pin: USER_PIN } },
    }), /the secure boot key cannot be derived from it and .*secure_boot_key\.bin is needed; create it with `pycom-secure generate-secure-boot-key /);
    assert.ok(!fs.existsSync(path.join(dir, 'build')));
  });
});
