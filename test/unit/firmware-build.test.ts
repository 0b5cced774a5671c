import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runBuild, type BuildOptions } from '../../src/core/firmware/build-runner';
import { parseDiagnostic } from '../../src/core/firmware/diagnostics';
import { detectProject, generationFromMakefiles } from '../../src/core/firmware/project';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { generationForVersion } from '../../src/core/firmware/generations';
import { FIXTURE_IDF, FIXTURE_TOOLCHAIN_BIN, FIXTURE_TREE } from '../../scripts/make-fixture-firmware';
import { KEYS, tmpDir } from './flash-harness';
import { allCommands } from '../../src/cli/main';
import { cli } from './helpers/cli';
import { readSigningKeyFile } from '../../src/core/keys/key-files';
import { fingerprint } from '../../src/core/util/fingerprint';

/** Runs `fn` with the fixture toolchain on PATH and IDF_PATH set (as a user's shell has them), then restores both. */
async function withToolchain<T>(fn: () => Promise<T>): Promise<T> {
  const saved = { PATH: process.env.PATH, IDF_PATH: process.env.IDF_PATH };
  process.env.PATH = ENV.PATH;
  process.env.IDF_PATH = ENV.IDF_PATH;
  try {
    return await fn();
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.IDF_PATH === undefined) delete process.env.IDF_PATH;
    else process.env.IDF_PATH = saved.IDF_PATH;
  }
}

function copyTree(): string {
  const dst = path.join(tmpDir('fw-'), 'pycom-micropython-sigfox');
  fs.cpSync(FIXTURE_TREE, dst, { recursive: true });
  fs.rmSync(path.join(dst, 'esp32', 'build'), { recursive: true, force: true });
  return dst;
}

const ENV = { ...process.env, PATH: `${FIXTURE_TOOLCHAIN_BIN}${path.delimiter}${process.env.PATH}`, IDF_PATH: FIXTURE_IDF };

function opts(root: string, over: Partial<BuildOptions> = {}): BuildOptions {
  return { esp32Dir: path.join(root, 'esp32'), board: 'GPY', target: 'boot_app', signingKey: 'secure_boot_signing_key.pem', flashKey: 'flash_encryption_key.bin', env: ENV, ...over };
}

describe('firmware build runner (fixture tree, plain make)', () => {
  it('recognises the checkout and its generation', () => {
    const p = detectProject(path.join(FIXTURE_TREE, 'esp32', 'lib'));
    assert.equal(p.generation.id, 'D');
    assert.equal(p.version, '1.20.2.r4');
    assert.equal(generationFromMakefiles(fs.readFileSync(path.join(FIXTURE_TREE, 'esp32', 'Makefile'), 'utf8'))?.id, 'D');
    assert.throws(() => detectProject(tmpDir('nope-')), /not inside a pycom-micropython-sigfox checkout/);
  });

  it('maps versions and makefile texts to the generations', () => {
    assert.equal(generationForVersion('1.18.2.r7'), 'B');
    assert.equal(generationForVersion('1.20.0.rc3'), 'C-rc1-4');
    assert.equal(generationForVersion('1.20.0.rc11'), 'C-rc5-11');
    assert.equal(generationForVersion('1.20.0.rc13'), 'C-rc12-13');
    assert.equal(generationForVersion('1.20.2.r4'), 'D');
    assert.equal(generationForVersion('1.16.0'), undefined);
    assert.equal(generationFromMakefiles('SECURE ?= off\nENCRYPT ?= off\n')?.id, 'A');
    assert.equal(generationFromMakefiles('SECURE ?= off\n$(APP_BIN)_enc_0x1A0000')?.id, 'B');
    assert.equal(generationFromMakefiles('SECURE ?= off\n$(APP_BIN)_enc_0x1A0000\nboot_app')?.id, 'B19');
    assert.equal(generationFromMakefiles('SECURE ?= off\n$(APP_BIN)_enc_0x1C0000')?.id, 'C-rc5-11');
    assert.equal(generationFromMakefiles('SECURE ?= off\npartitions_8MB.csv')?.id, 'C-rc12-13');
  });

  it('builds, streams output, parses the gcc warning, and the outputs classify as the secure set', async () => {
    const root = copyTree();
    const lines: string[] = [];
    const res = await runBuild(opts(root, { onLine: (l) => lines.push(l) }));
    assert.equal(res.exitCode, 0);
    assert.ok(lines.some((l) => l.includes('CC mods/modpycom.c')));
    assert.deepEqual(res.diagnostics, [{ kind: 'compiler', file: 'mods/modpycom.c', line: 118, column: 9, severity: 'warning', message: "unused variable 'slot' [-Wunused-variable]", text: "mods/modpycom.c:118:9: warning: unused variable 'slot' [-Wunused-variable]" }]);
    assert.ok(res.argv.includes('SECURE=on') && res.argv.includes('BOARD=GPY') && res.argv.includes('TARGET=boot_app'));
    const out = findBuildOutputs(path.join(root, 'esp32', 'build', 'GPY', 'release'), { flashKey: KEYS.flashKey });
    assert.equal(out.generation, 'D');
    assert.deepEqual(out.outputs.map((o) => [o.role, o.address, o.encrypted, o.decryptsValid]), [
      ['bootloader-digest', 0x0, true, true],
      // 1.20.1+ builds write both tables for every board (v1.20.2.r4 application.mk about 572-575).
      ['partition-table', 0x8000, true, true],
      ['partition-table', 0x8000, true, true],
      ['app', 0x10000, true, true],
      ['ota-copy', 0x210000, true, true],
    ]);
    assert.ok(out.outputs.filter((o) => o.role !== 'bootloader-digest').every((o) => o.signed === true));
  });

  it('reports compiler errors with a non-zero exit', async () => {
    const res = await runBuild(opts(copyTree(), { extraVars: { FIXTURE_FAIL: 'compile' } }));
    assert.notEqual(res.exitCode, 0);
    assert.ok(res.diagnostics.some((d) => d.severity === 'error' && d.file === 'main.c' && d.line === 42));
  });

  it('cancels a running build', async () => {
    const ac = new AbortController();
    const p = runBuild(opts(copyTree(), { extraVars: { FIXTURE_SLOW: '1' }, signal: ac.signal, onLine: (l) => l.startsWith('CC') && ac.abort() }));
    await assert.rejects(p, /cancelled/);
  });

  it('says clearly when the toolchain, IDF_PATH or a key file is missing', async () => {
    const root = copyTree();
    await assert.rejects(runBuild(opts(root, { env: { ...ENV, PATH: path.dirname(execFileSync('which', ['make']).toString().trim()) } })), /xtensa-esp32-elf-gcc\) is not on PATH/);
    await assert.rejects(runBuild(opts(root, { env: { ...ENV, IDF_PATH: '' } })), /IDF_PATH is not set/);
    await assert.rejects(runBuild(opts(root, { env: { ...ENV, IDF_PATH: '/nonexistent/idf' } })), /does not exist/);
    await assert.rejects(runBuild(opts(root, { flashKey: 'missing.bin' })), /flash encryption key .*missing\.bin does not exist/);
    await assert.rejects(runBuild(opts(root, { make: 'no-such-make' })), /was not found on PATH/);
  });

  it('reports every missing prerequisite at once (toolchain, Python, IDF_PATH, both keys), builds and writes nothing', async () => {
    const root = copyTree();
    // A real checkout's py/mkenv.mk names the Python the makefiles run (PYTHON = python).
    fs.mkdirSync(path.join(root, 'py'));
    fs.writeFileSync(path.join(root, 'py', 'mkenv.mk'), 'ECHO = @echo\nPYTHON = python\n');
    // PATH with make and nothing else: no toolchain, no python.
    const bin = tmpDir('only-make-');
    fs.symlinkSync(execFileSync('which', ['make']).toString().trim(), path.join(bin, 'make'));
    const store = path.join(tmpDir('no-keys-'), 'secure');
    const saved = { PATH: process.env.PATH, IDF_PATH: process.env.IDF_PATH };
    process.env.PATH = bin;
    delete process.env.IDF_PATH;
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await cli(['build', '--board', 'GPY', '--project', root, '--key-store', store]);
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.IDF_PATH === undefined) delete process.env.IDF_PATH;
      else process.env.IDF_PATH = saved.IDF_PATH;
    }
    assert.equal(r.code, 2);
    // The checkout's generation is said first; the refusal follows, one line per missing prerequisite.
    assert.match(r.err, /^Firmware 1\.20\.2\.r4: generation D/);
    const lines = r.err.trimEnd().split('\n').slice(1);
    assert.equal(lines[0], 'pycom-secure build: The build cannot start: 5 prerequisites are missing (nothing was built):');
    assert.equal(lines.length, 6, r.err);
    assert.match(lines[1]!, /xtensa-esp32-elf-gcc\) is not on PATH; install .* add its bin\/ directory to PATH \(in the editor: the pycom\.toolchainPath setting\)/);
    assert.match(lines[2]!, /`python` .* was not found on PATH; install Python/);
    assert.match(lines[3]!, /IDF_PATH is not set; .* set IDF_PATH to it \(in the editor: the pycom\.idfPath setting\)/);
    assert.ok(lines[4]!.includes(`\`pycom-secure generate-signing-key ${path.join(store, 'secure_boot_signing_key.pem')}\``), lines[4]);
    assert.ok(lines[5]!.includes(`\`pycom-secure generate-flash-encryption-key ${path.join(store, 'flash_encryption_key.bin')}\``), lines[5]);
    // A key missing from the key store names the store looked in and --key-store before creating a new key.
    for (const l of [lines[4]!, lines[5]!]) {
      assert.ok(l.includes(`is not in the key store ${store} (that folder does not exist)`), l);
      assert.ok(l.indexOf('--key-store DIR (or run this tool from the folder that holds secure/)') < l.indexOf('only for a new project create it with'), l);
    }
    assert.equal(r.out, '', 'no make summary: make never ran');
    assert.equal(fs.existsSync(path.join(root, 'esp32', 'build')), false, 'nothing was built');
    assert.equal(fs.existsSync(path.join(store, 'secure_boot_signing_key.pem')) || fs.existsSync(path.join(store, 'flash_encryption_key.bin')), false, 'no key was written');
    // With PYTHON on make's command line the makefile's own is not needed; a key folder is not a key file.
    await assert.rejects(runBuild(opts(root, { env: { ...ENV, PATH: bin }, extraVars: { PYTHON: '/usr/bin/env' }, flashKey: root })), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_BUILD_PREREQUISITES');
      assert.ok(!/`python`|mkenv/.test(e.message), e.message);
      assert.match(e.message, /flash encryption key .* is not a regular file/);
      return true;
    });
  });

  it('a successful build says where its outputs are', async () => {
    const root = copyTree();
    const esp32 = path.join(root, 'esp32');
    const r = await withToolchain(() => cli(['build', '--board', 'GPY', '--project', root, '--signing-key', path.join(esp32, 'secure_boot_signing_key.pem'), '--flash-key', path.join(esp32, 'flash_encryption_key.bin')]));
    assert.equal(r.code, 0, r.err);
    const out = r.out.trimEnd().split('\n');
    assert.equal(out[0], 'make exited with 0: 0 error(s), 1 warning(s).');
    const where = /^Outputs \(in (.+)\): (.+)\.$/.exec(out[1] ?? '');
    assert.ok(where, r.out);
    assert.equal(where[1], path.join(esp32, 'build', 'GPY', 'release'));
    for (const f of where[2]!.split(', ')) assert.ok(fs.statSync(path.join(where[1]!, f)).isFile(), `${f} exists`);
    assert.ok(where[2]!.split(', ').includes('gpy.bin_enc'), where[2]);
    // Which keys made it, by fingerprint (a new user had to read .pycom-secure-keys.json to know).
    const flashKey = fs.readFileSync(path.join(esp32, 'flash_encryption_key.bin'));
    const pub = readSigningKeyFile(path.join(esp32, 'secure_boot_signing_key.pem')).publicKey;
    assert.equal(out[2], `Keys used (fingerprints): signing key ${fingerprint(pub)} (its public key), flash-encryption key ${fingerprint(flashKey)}.`);
    assert.ok(!r.out.includes(flashKey.toString('hex')));
  });

  it('a failed make exits 2, as make does and docs/safety.md says (third new-user trial), and writes no app', async () => {
    const root = copyTree();
    const esp32 = path.join(root, 'esp32');
    const keys = ['--signing-key', path.join(esp32, 'secure_boot_signing_key.pem'), '--flash-key', path.join(esp32, 'flash_encryption_key.bin')];
    process.env.FIXTURE_FAIL = 'compile';
    let r: Awaited<ReturnType<typeof cli>>;
    try {
      r = await withToolchain(() => cli(['build', '--board', 'GPY', '--project', root, ...keys]));
    } finally {
      delete process.env.FIXTURE_FAIL;
    }
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.out, /^make exited with 2: \d+ error\(s\), \d+ warning\(s\)\.\nFirst error: main\.c:42:5: error: expected ';' before 'return'\n$/);
    assert.equal(fs.existsSync(path.join(esp32, 'build', 'GPY', 'release', 'gpy.bin_enc')), false, 'no app was written');
  });

  it('a --flash-key that is no key is refused before the previous build\'s outputs are removed', async () => {
    const root = copyTree();
    const esp32 = path.join(root, 'esp32');
    const short = path.join(tmpDir('short-key-'), 'short.bin');
    fs.writeFileSync(short, Buffer.alloc(16, 7), { mode: 0o600 });
    const keys = ['--signing-key', path.join(esp32, 'secure_boot_signing_key.pem')];
    const good = await withToolchain(() => cli(['build', '--board', 'GPY', '--project', root, ...keys, '--flash-key', path.join(esp32, 'flash_encryption_key.bin')]));
    assert.equal(good.code, 0, good.err);
    const bad = await withToolchain(() => cli(['build', '--board', 'GPY', '--project', root, ...keys, '--flash-key', short]));
    assert.equal(bad.code, 2, bad.out + bad.err);
    assert.match(bad.err, /short\.bin/);
    assert.match(bad.err, /16 bytes/);
    assert.doesNotMatch(bad.out + bad.err, /Removed/);
    // The last good build is still there.
    assert.ok(fs.statSync(path.join(esp32, 'build', 'GPY', 'release', 'gpy.bin_enc')).isFile());
  });

  it('a build with an empty key store names the real commands that create each key (issue #12 E), and builds nothing', async () => {
    const root = copyTree();
    const store = tmpDir('empty-store-');
    const sk = path.join(store, 'secure_boot_signing_key.pem');
    const fk = path.join(store, 'flash_encryption_key.bin');
    const names = new Set(allCommands.map((c) => c.name));
    await assert.rejects(runBuild(opts(root, { signingKey: sk, flashKey: fk })), (e: Error) => {
      const m = /`pycom-secure ([a-z-]+) (\S+)`/.exec(e.message);
      assert.ok(m, e.message);
      assert.equal(m[1], 'generate-signing-key');
      assert.ok(names.has(m[1]!), `${m[1]} is a CLI command`);
      assert.equal(m[2], sk);
      assert.match(e.message, /"Pycom: Generate Keys"/);
      return true;
    });
    fs.writeFileSync(sk, 'placeholder');
    await assert.rejects(runBuild(opts(root, { signingKey: sk, flashKey: fk })), (e: Error) => {
      assert.ok(e.message.includes(`\`pycom-secure generate-flash-encryption-key ${fk}\``), e.message);
      assert.ok(names.has('generate-flash-encryption-key'));
      return true;
    });
    assert.equal(fs.existsSync(path.join(root, 'esp32', 'build')), false, 'nothing was built');
    assert.equal(fs.existsSync(fk), false, 'no key was written');
  });

  it('parses gcc diagnostics, with and without column, and ignores other lines', () => {
    assert.deepEqual(parseDiagnostic('a/b.c:3: error: boom'), { kind: 'compiler', file: 'a/b.c', line: 3, severity: 'error', message: 'boom', text: 'a/b.c:3: error: boom' });
    assert.equal(parseDiagnostic('C:\\x\\y.c:1:2: fatal error: no.h: No such file')?.severity, 'error');
    assert.equal(parseDiagnostic('make: *** [all] Error 2')?.consequence, true);
    assert.equal(parseDiagnostic('CC mods/modpycom.c'), undefined);
  });
});
