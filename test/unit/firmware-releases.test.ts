import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { KEY_STAMP_FILE, runBuild, syncDerivedKeys } from '../../src/core/firmware/build-runner';
import { firstError, parseDiagnostic, PROBLEM_MATCHERS } from '../../src/core/firmware/diagnostics';
import { detectProject, generationFromMakefiles } from '../../src/core/firmware/project';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { GENERATIONS, generationForVersion, type GenerationId } from '../../src/core/firmware/generations';
import { layout, otaSlots } from '../../src/core/boards/catalog';
import { checkSlot, makeOtaImage } from '../../src/core/ota/ota-image';
import { classifyContent } from '../../src/core/firmware/content';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { secureBuild } from '../../src/core/workflows/build';
import { KeyStore } from '../../src/core/keystore/key-store';
import { parseSigningKey } from '../../src/core/crypto/signing-key';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { FIXTURE_FAILURES, FIXTURE_IDF, FIXTURE_TOOLCHAIN_BIN, OTHER_SIGNING_KEY, cksumOf } from '../../scripts/make-fixture-firmware';
import { KEYS, tmpDir } from './flash-harness';

const FIRMWARE = path.join(__dirname, '..', 'fixtures', 'firmware');
const ENV = { ...process.env, PATH: `${FIXTURE_TOOLCHAIN_BIN}${path.delimiter}${process.env.PATH}`, IDF_PATH: FIXTURE_IDF };
const MAIN = 'pycom-micropython-sigfox';

/** A copy of the whole fixture firmware folder (the release trees share the main tree's prepared outputs); returns esp32/ of `tree`. */
function copy(tree: string): string {
  const dst = path.join(tmpDir('fwrel-'), 'firmware');
  fs.cpSync(FIRMWARE, dst, { recursive: true, filter: (src) => !/[\\/]build$/.test(src) });
  return path.join(dst, tree === MAIN ? MAIN : path.join('releases', tree), 'esp32');
}

/** The checkout's esp32/ as the key store: its secure_boot_signing_key.pem and flash_encryption_key.bin. */
function store(esp32: string): KeyStore {
  return new KeyStore(esp32);
}

interface Case {
  tree: string;
  board: string;
  generation: GenerationId;
  targets: string[];
  /** [role, rel, address] of every output found. */
  outputs: [string, string, number][];
  slots: number[];
  plainApp: boolean;
  extraArg?: string;
  /** The build dir alone cannot tell this generation from another (identical files and addresses for this board). */
  sameFilesAs?: GenerationId;
}

const CASES: Case[] = [
  {
    tree: 'v1.18.2.r7', board: 'GPY', generation: 'B', targets: ['boot', 'app'], plainApp: true, slots: [0x1a0000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions.bin_enc', 0x8000], ['app', 'gpy.bin_enc_0x10000', 0x10000], ['ota-copy', 'gpy.bin_enc_0x1A0000', 0x1a0000]],
  },
  {
    tree: 'v1.19.0.b4', board: 'GPY', generation: 'B19', targets: ['boot_app'], plainApp: false, slots: [0x1a0000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions.bin_enc', 0x8000], ['app', 'gpy.bin_enc_0x10000', 0x10000], ['ota-copy', 'gpy.bin_enc_0x1A0000', 0x1a0000]],
  },
  {
    tree: 'v1.20.0.rc1', board: 'GPY', generation: 'C-rc1-4', targets: ['boot_app'], plainApp: false, slots: [0x1c0000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions.bin_enc', 0x8000], ['app', 'gpy.bin_enc_0x10000', 0x10000], ['ota-copy', 'gpy.bin_enc_0x1A0000', 0x1a0000]],
  },
  {
    tree: 'v1.20.0.rc4-fixed', board: 'GPY', generation: 'C-rc5-11', targets: ['boot_app'], plainApp: false, slots: [0x1c0000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions.bin_enc', 0x8000], ['app', 'gpy.bin_enc_0x10000', 0x10000], ['ota-copy', 'gpy.bin_enc_0x1C0000', 0x1c0000]],
  },
  {
    tree: 'v1.20.0.rc13', board: 'GPY', generation: 'C-rc12-13', targets: ['boot_app'], plainApp: false, slots: [0x210000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions.bin_enc', 0x8000], ['app', 'gpy.bin_enc_0x10000', 0x10000], ['ota-copy', 'gpy.bin_enc_0x210000', 0x210000]],
  },
  {
    tree: 'v1.20.0.rc13', board: 'LOPY', generation: 'C-rc12-13', targets: ['boot_app'], plainApp: false, slots: [0x1c0000], sameFilesAs: 'C-rc5-11',
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions.bin_enc', 0x8000], ['app', 'lopy.bin_enc_0x10000', 0x10000], ['ota-copy', 'lopy.bin_enc_0x1C0000', 0x1c0000]],
  },
  {
    tree: MAIN, board: 'GPY', generation: 'D', targets: ['boot_app'], plainApp: false, slots: [0x210000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions_4MB.bin_enc', 0x8000], ['partition-table', 'lib/partitions_8MB.bin_enc', 0x8000], ['app', 'gpy.bin_enc', 0x10000], ['ota-copy', 'gpy.bin_enc_0x210000', 0x210000]],
  },
  {
    tree: MAIN, board: 'WIPY', generation: 'D', targets: ['boot_app'], plainApp: false, slots: [0x1c0000, 0x210000],
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions_4MB.bin_enc', 0x8000], ['partition-table', 'lib/partitions_8MB.bin_enc', 0x8000], ['app', 'wipy.bin_enc', 0x10000], ['ota-copy', 'wipy.bin_enc_0x1C0000', 0x1c0000], ['ota-copy', 'wipy.bin_enc_0x210000', 0x210000]],
  },
  {
    tree: 'v1.20.3.b3', board: 'GPY', generation: 'E', targets: ['boot_app'], plainApp: false, slots: [0x210000, 0x110000], extraArg: 'SMALL_FACTORY_FW_ENABLED=0',
    outputs: [['bootloader-digest', 'bootloader/bootloader-reflash-digest.bin_enc', 0], ['partition-table', 'lib/partitions_4MB.bin_enc', 0x8000], ['partition-table', 'lib/partitions_8MB_normal_factory_fw.bin_enc', 0x8000], ['app', 'gpy.bin_enc', 0x10000], ['ota-copy', 'gpy.bin_enc_0x210000', 0x210000]],
  },
];

describe('real Pycom releases: one fixture tree per generation through the build workflow', () => {
  for (const c of CASES) {
    it(`${c.tree} ${c.board}: generation ${c.generation}, make ${c.targets.map((t) => `TARGET=${t}`).join(' then ')}, outputs, addresses and OTA slots`, async () => {
      const esp32 = copy(c.tree);
      const lines: string[] = [];
      const res = await secureBuild({ project: esp32, board: c.board, target: 'boot_app', store: store(esp32), env: ENV, onLine: (l) => lines.push(l) });
      assert.equal(res.project.generation.id, c.generation);
      assert.equal(res.exitCode, 0, lines.join('\n'));
      assert.deepEqual(res.invocations.map((a) => a.find((x) => x.startsWith('TARGET='))), c.targets.map((t) => `TARGET=${t}`));
      for (const inv of res.invocations) assert.ok(inv.includes(`BOARD=${c.board}`) && inv.includes('SECURE=on'));
      if (c.extraArg) assert.ok(res.argv.includes(c.extraArg), res.argv.join(' '));
      assert.match(res.summary, /^make exited with 0: 0 error\(s\), 1 warning\(s\)\.\nOutputs \(in .*\): /);
      if (c.plainApp) {
        // 1.17-1.18: `$(MV) -f` with MV undefined fails and make ignores it; that is not a build error.
        assert.ok(lines.includes('make: f: No such file or directory'));
        assert.ok(res.diagnostics.some((d) => d.severity === 'note' && d.message.endsWith('(make ignored this failure)')));
      }
      const dir = path.join(esp32, 'build', c.board, 'release');
      if (c.sameFilesAs) assert.equal(findBuildOutputs(dir, { board: c.board }).generation, c.sameFilesAs);
      const out = findBuildOutputs(dir, { board: c.board, flashKey: KEYS.flashKey, ...(c.sameFilesAs ? { generation: c.generation } : {}) });
      assert.equal(out.generation, c.generation);
      assert.deepEqual(out.outputs.map((o) => [o.role, o.rel, o.address]), c.outputs);
      assert.ok(out.outputs.every((o) => o.encrypted && o.decryptsValid), 'every output decrypts at its address');
      for (const [, rel] of c.outputs) assert.ok(res.summary.includes(rel), `${rel} named in the summary`);
      assert.deepEqual(otaSlots(c.board, c.generation).sort(), [...c.slots].sort());
      assert.equal(out.plainApp !== undefined, c.plainApp, 'signed plaintext app kept');
      assert.equal(GENERATIONS[c.generation].plainAppKept, c.plainApp);
    });
  }

  it('point 1: TARGET=boot_app on a 1.18 makefile fails exactly as the real one; the runner runs boot then app instead', async () => {
    const esp32 = copy('v1.18.2.r7');
    const lines: string[] = [];
    const plain = await runBuild({ esp32Dir: esp32, board: 'GPY', target: 'boot_app', signingKey: 'secure_boot_signing_key.pem', flashKey: 'flash_encryption_key.bin', env: ENV, onLine: (l) => lines.push(l) });
    assert.equal(plain.exitCode, 2);
    assert.ok(lines.includes("make: *** No rule to make target 'build/GPY/release/bootloader/bootloader.bin', needed by 'all'.  Stop."));
    assert.equal(plain.diagnostics.filter((d) => d.severity === 'error').length, 1);
    const said: string[] = [];
    const res = await secureBuild({ project: esp32, board: 'GPY', target: 'boot_app', store: store(esp32), env: ENV, onLine: (l) => said.push(l) });
    assert.equal(res.exitCode, 0);
    assert.equal(res.invocations.length, 2);
    assert.ok(said.includes('note: firmware 1.17.2.b1 … 1.18.3 has no boot_app target (it arrived in 1.19.0.b2), so this tool runs make TARGET=boot, then make TARGET=app.'));
  });

  it('point 3: 1.20.3.b3 says plainly that Pycom\'s small-factory flow is inconsistent, builds the working layout, and refuses SIPY', async () => {
    const esp32 = copy('v1.20.3.b3');
    const lines: string[] = [];
    await secureBuild({ project: esp32, board: 'GPY', target: 'boot_app', store: store(esp32), env: ENV, onLine: (l) => lines.push(l) });
    assert.ok(lines.some((l) => /^note: Pycom's 1\.20\.3\.b3 secure flow is inconsistent .*0x110000.*0x210000.*SMALL_FACTORY_FW_ENABLED=0/.test(l)));
    const fresh = copy('v1.20.3.b3');
    await assert.rejects(secureBuild({ project: fresh, board: 'SIPY', target: 'boot_app', store: store(fresh), env: ENV, onLine: () => undefined }), /has no BOARD=SIPY .*build with one of WIPY, LOPY, GPY, FIPY, LOPY4/);
    assert.equal(fs.existsSync(path.join(fresh, 'build')), false, 'nothing built');
    // Pycom's own default build (make without the fix): the table is the small-factory one and gets a warning;
    // the board's real pycom.ota_slot() answer 0x110000 is a known slot of the release.
    execFileSync('make', ['BOARD=GPY', 'SECURE=on', `SECURE_KEY=${path.join(fresh, 'secure_boot_signing_key.pem')}`, `ENCRYPT_KEY=${path.join(fresh, 'flash_encryption_key.bin')}`], { cwd: fresh, stdio: 'ignore' });
    const out = findBuildOutputs(path.join(fresh, 'build', 'GPY', 'release'), { board: 'GPY' });
    assert.equal(out.generation, 'E');
    const small = out.outputs.find((o) => o.rel === 'lib/partitions_8MB_small_factory_fw.bin_enc');
    assert.match(small?.warning ?? '', /ota_0 at 0x110000 .*0x210000.*SMALL_FACTORY_FW_ENABLED=0/);
    assert.doesNotThrow(() => checkSlot('GPY', 'E', 0x110000, 'board'));
    // ota-image answers the board's 0x110000 with the app encrypted for 0x110000 (no copy for it exists in the build).
    const ota = makeOtaImage({ build: findBuildOutputs(path.join(fresh, 'build', 'GPY', 'release'), { board: 'GPY', flashKey: KEYS.flashKey }), slot: 0x110000, slotSource: 'board', flashKey: KEYS.flashKey });
    assert.equal(ota.slot, 0x110000);
    assert.equal(classifyContent(decryptFlashData(ota.data, { key: KEYS.flashKey, address: 0x110000, flashCryptConf: 0xf })).kind, 'image');
    assert.throws(() => checkSlot('GPY', 'D', 0x110000, 'board'), /not a slot of GPy/);
  });

  it('point 4: derived keys follow the signing key\'s content, not its timestamp', async () => {
    const esp32 = copy(MAIN);
    const derivedOf = (pem: Buffer) => {
      const k = parseSigningKey(pem, 'k');
      return { vk: Buffer.from(k.publicKey), dk: Buffer.from(digestPrivateKey(k, 256)) };
    };
    const dkPath = path.join(esp32, 'secure-bootloader-key.bin');
    const read = () => ({ vk: fs.readFileSync(path.join(esp32, 'signature_verification_key.bin')), dk: fs.readFileSync(dkPath) });
    const first = await runBuild({ esp32Dir: esp32, board: 'GPY', target: 'boot_app', signingKey: 'secure_boot_signing_key.pem', flashKey: 'flash_encryption_key.bin', env: ENV });
    assert.equal(first.exitCode, 0);
    assert.equal(fs.existsSync(dkPath), false, 'no copy of the secure boot key stays in the checkout after the build');
    // What make left before that removal (its derived files, by timestamp), as a previous build with Pycom's own make leaves them:
    execFileSync('make', ['BOARD=GPY', 'SECURE=on', `SECURE_KEY=${path.join(esp32, 'secure_boot_signing_key.pem')}`, 'signature_verification_key.bin', 'secure-bootloader-key.bin'], { cwd: esp32, stdio: 'ignore' });
    assert.deepEqual(read(), derivedOf(fs.readFileSync(path.join(esp32, 'secure_boot_signing_key.pem'))));
    // Switch to another, OLDER key file: make alone keeps the previous key's derived files (the bug the fixture imitates).
    const other = path.join(esp32, 'other.pem');
    fs.copyFileSync(OTHER_SIGNING_KEY, other);
    fs.utimesSync(other, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const before = read();
    execFileSync('make', ['BOARD=GPY', 'SECURE=on', `SECURE_KEY=${other}`, 'TARGET=boot', 'signature_verification_key.bin', 'secure-bootloader-key.bin'], { cwd: esp32, stdio: 'ignore' });
    assert.deepEqual(read(), before, 'plain make reuses the stale derived keys');
    const lines: string[] = [];
    const res = await runBuild({ esp32Dir: esp32, board: 'GPY', target: 'boot', signingKey: other, flashKey: 'flash_encryption_key.bin', env: ENV, onLine: (l) => lines.push(l) });
    assert.deepEqual(res.staleDerivedKeys.map((p) => path.basename(p)), ['signature_verification_key.bin', 'secure-bootloader-key.bin']);
    assert.ok(lines.includes(`espsecure.py digest_private_key --keyfile ${other} secure-bootloader-key.bin`), 'make derived the digest key again, from the new key');
    assert.deepEqual(fs.readFileSync(path.join(esp32, 'signature_verification_key.bin')), derivedOf(fs.readFileSync(other)).vk);
    assert.ok(lines.some((l) => /^Removed signature_verification_key\.bin and secure-bootloader-key\.bin: made from another signing key.*fingerprint/.test(l)));
    const keyHex = Object.values(derivedOf(fs.readFileSync(other))).concat(Object.values(before)).map((b) => b.toString('hex'));
    assert.ok(lines.every((l) => keyHex.every((h) => !l.includes(h))), 'no key bytes in the output');
    // A stale digest key alone is found by content too.
    fs.writeFileSync(dkPath, before.dk);
    assert.deepEqual(syncDerivedKeys(esp32, other).map((p) => path.basename(p)), ['secure-bootloader-key.bin']);
    fs.writeFileSync(dkPath, derivedOf(fs.readFileSync(other)).dk.subarray(0, 24));
    assert.deepEqual(syncDerivedKeys(esp32, other), [], 'a 192-bit digest key of the same signing key is in step');
    // Derived files that match the key are left alone (make's timestamps then decide nothing needs redoing).
    assert.deepEqual(syncDerivedKeys(esp32, other), []);
    assert.equal(cksumOf(fs.readFileSync(other)), Number(execFileSync('sh', ['-c', `cksum < '${other}'`]).toString().split(' ')[0]));
  });
});

describe('outputs follow the keys too (make re-signs and re-encrypts only by timestamps)', () => {
  it('outputs not recorded as made with these keys are removed before make runs; the same keys again remove nothing', async () => {
    const esp32 = copy(MAIN);
    const dir = path.join(esp32, 'build', 'GPY', 'release');
    const o = { esp32Dir: esp32, board: 'GPY', target: 'boot_app' as const, signingKey: 'secure_boot_signing_key.pem', flashKey: 'flash_encryption_key.bin', env: ENV };
    // Outputs of Pycom's own make (no record): removed once, redone by make, then recorded.
    execFileSync('make', ['BOARD=GPY', 'SECURE=on', `SECURE_KEY=${path.join(esp32, o.signingKey)}`, `ENCRYPT_KEY=${path.join(esp32, o.flashKey)}`], { cwd: esp32, stdio: 'ignore' });
    const first = await runBuild(o);
    assert.equal(first.exitCode, 0);
    assert.ok(first.staleOutputs.some((p) => p.endsWith('gpy.bin_enc')));
    assert.match(fs.readFileSync(path.join(dir, KEY_STAMP_FILE), 'utf8'), /^\{"signingKey":"[^"]+","flashKey":"[^"]+"\}\n$/);
    assert.deepEqual((await runBuild(o)).staleOutputs, [], 'same keys: nothing removed');
    // Another (older) flash key file: the outputs encrypted with the previous key must not survive.
    const other = path.join(esp32, 'other_flash_key.bin');
    fs.writeFileSync(other, Buffer.alloc(32, 9));
    fs.utimesSync(other, new Date(2000, 0, 1), new Date(2000, 0, 1));
    const lines: string[] = [];
    const res = await runBuild({ ...o, flashKey: other, onLine: (l) => lines.push(l) });
    assert.ok(res.staleOutputs.length >= 5);
    assert.ok(lines.some((l) => /^Removed \d+ signed or encrypted output\(s\) in .* not known to be made with these keys/.test(l)));
    assert.equal(fs.existsSync(path.join(dir, 'gpy.bin_enc')), false, 'no output of the old key is left to be flashed');
    assert.equal(fs.existsSync(path.join(dir, KEY_STAMP_FILE)), false, 'a failed build records no keys');
  });
});

/** Each failure class of point 2, and the line that must come out as the first error (`#` = any line number). */
const FAILURE_CASES: { name: string; fail?: string; first: string }[] = [
  ...Object.entries(FIXTURE_FAILURES).map(([k, line]) => ({ name: `${k}: ${line.trim()}`, fail: k, first: line.trimEnd() })),
  { name: 'PYGATE variant $(error) with a makefile location', fail: 'pygate', first: 'Makefile:#: *** PYGATE variant is not supported on GPY.  Stop.' },
  { name: 'Invalid BOARD $(error) with a makefile location', fail: 'board', first: 'Makefile:#: *** Invalid BOARD specified.  Stop.' },
  { name: "the fixture's own failure (make: *** [Makefile:N: keycheck] Error 2)", first: 'make: *** [Makefile:#: keycheck] Error 2' },
];

describe('build failures: every failure line of the real build is counted, quoted and ends the summary', () => {
  for (const c of FAILURE_CASES) {
    it(c.name, async () => {
      const esp32 = copy(MAIN);
      const otherFlashKey = path.join(esp32, 'other_flash_key.bin');
      fs.writeFileSync(otherFlashKey, Buffer.alloc(32, 7));
      const lines: string[] = [];
      const res = await secureBuild({
        project: esp32, board: 'GPY', target: 'boot_app', store: store(esp32), onLine: (l) => lines.push(l),
        // make takes FIXTURE_FAIL from the environment (`?=`), as a user's own settings would reach it.
        env: { ...ENV, ...(c.fail ? { FIXTURE_FAIL: c.fail } : {}) },
        ...(c.fail ? {} : { flashKey: otherFlashKey }),
      });
      assert.equal(res.exitCode, 2, lines.join('\n'));
      assert.ok(res.errors >= 1, `counted: ${res.summary}`);
      const first = res.firstError?.text.trimEnd() ?? '';
      assert.match(first, exact(c.first));
      assert.ok(lines.some((l) => l.trimEnd() === first), 'quoted as make printed it');
      const [head, second] = res.summary.split('\n');
      assert.match(head!, new RegExp(`^make exited with 2: ${res.errors} error\\(s\\), \\d+ warning\\(s\\)\\.$`));
      assert.equal(second, `First error: ${res.firstError!.text}`);
      assert.deepEqual(res.outputs, []);
      assert.equal(fs.existsSync(path.join(esp32, 'build', 'GPY', 'release', 'gpy.bin_enc')), false, 'no app was written');
      // The editor's problem matchers (package.json, from PROBLEM_MATCHERS) catch the same line.
      assert.ok(PROBLEM_MATCHERS.some((m) => new RegExp(m.pattern.regexp).test(first)), `a problem matcher catches ${first}`);
    });
  }

  it('make\'s "[target] Error N" lines are counted but the first error is the line that says why', () => {
    const ds = ['make[1]: *** [application.mk:660: build/GPY/release/gpy.bin] Error 1', 'A fatal error occurred: bad key', 'make: *** [all] Error 2']
      .map((l) => parseDiagnostic(l)!);
    assert.deepEqual(ds.map((d) => [d.kind, d.severity, d.consequence ?? false]), [['make', 'error', true], ['espsecure', 'error', false], ['make', 'error', true]]);
    assert.equal(firstError(ds)?.text, 'A fatal error occurred: bad key');
    assert.equal(firstError([ds[0]!])?.text, ds[0]!.text);
    assert.equal(parseDiagnostic('fixture: only the fixture flash key has prepared outputs'), undefined);
    assert.equal(parseDiagnostic('make[1]: Entering directory \'/x/esp32\''), undefined);
    assert.deepEqual(parseDiagnostic('xtensa-esp32-elf-ld: cannot find -lsigfox'), { kind: 'linker', severity: 'error', message: 'cannot find -lsigfox', text: 'xtensa-esp32-elf-ld: cannot find -lsigfox' });
  });
});

describe('generation table: versions and makefiles of the real tags', () => {
  it('maps every release line to its generation, and 1.20.0.rc4 by its makefile', () => {
    const cases: [string, GenerationId | undefined][] = [
      ['1.17.2.b1', 'B'], ['1.18.2.r7', 'B'], ['1.18.3', 'B'], ['1.19.0.b2', 'B19'], ['1.19.0.b4', 'B19'], ['1.20.0.rc0', 'C-rc1-4'], ['1.20.0.rc1', 'C-rc1-4'],
      ['1.20.0.rc7', 'C-rc5-11'], ['1.20.0.rc11.2', 'C-rc5-11'], ['1.20.0.rc12.1', 'C-rc12-13'], ['1.20.0.rc13', 'C-rc12-13'], ['1.20.1', 'D'], ['1.20.2.r4', 'D'],
      ['1.20.2.r6', 'D'], ['1.20.3.b3', 'E'], ['1.16.0', undefined], ['1.20.4', undefined],
    ];
    for (const [v, g] of cases) assert.equal(generationForVersion(v), g, v);
    assert.equal(detectProject(copy('v1.20.0.rc4-fixed')).generation.id, 'C-rc5-11');
    assert.match(detectProject(copy('v1.20.0.rc4-fixed')).evidence, /1\.20\.0\.rc4, which is ambiguous, and the makefile encrypts the OTA copy for 0x1C0000/);
    assert.equal(detectProject(copy('v1.20.0.rc1')).generation.id, 'C-rc1-4');
    assert.equal(generationFromMakefiles('SECURE ?= off\nSMALL_FACTORY_FW_ENABLED ?= 1\npartitions_4MB partitions_8MB PART_BIN_ENCRYPT_8MB')?.id, 'E');
    assert.equal(generationFromMakefiles('SECURE ?= off\nAPP_BIN_ENCRYPT_2 = $(APP_BIN)_enc_0x1A0000\nifeq ($(TARGET), boot_app)')?.id, 'B19');
    assert.equal(generationFromMakefiles('SECURE ?= off\nAPP_BIN_ENCRYPT_2 = $(APP_BIN)_enc_0x1A0000')?.id, 'B');
  });

  it('a release newer than the table is refused with how to report it, not mapped to an older generation', () => {
    const esp32 = copy('v1.20.3.b3');
    fs.writeFileSync(path.join(esp32, 'pycom_version.h'), '#define SW_VERSION_NUMBER "1.20.4.r1"\n');
    assert.throws(() => detectProject(esp32), (e: Error) => {
      assert.match(e.message, /^Firmware 1\.20\.4\.r1 at .* is newer than every release this tool knows \(up to 1\.20\.3\.b3\).*report this one in the project's issue tracker with the output of `git describe --tags`/);
      return true;
    });
  });

  it("layouts carry Pycom's encrypted flag on factory and ota_0, and 1.20.3.b3's small-factory table", () => {
    for (const id of ['1.18', '4MB', '8MB', '8MB_normal_factory_fw', '8MB_small_factory_fw']) {
      const apps = layout(id).entries.filter((e) => e.type === 0);
      assert.deepEqual(apps.map((e) => e.encrypted), [true, true], id);
    }
    assert.deepEqual(layout('8MB_small_factory_fw').entries.filter((e) => e.type === 0).map((e) => [e.offset, e.size]), [[0x10000, 1020 * 1024], [0x110000, 3004 * 1024]]);
  });
});

/** `#` in an expected line stands for a line number; everything else is literal. */
function exact(s: string): RegExp {
  return new RegExp(`^${s.split('#').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\d+')}$`);
}
