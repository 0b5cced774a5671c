import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog, readAudit } from '../../src/core/audit/audit-log';
import { readBoardRecords } from '../../src/core/audit/board-record';
import { field, withField } from '../../src/core/efuse/fields';
import { KeyStore } from '../../src/core/keystore/key-store';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { encryptFor, type SecureKeys } from '../../src/core/secure-build/process';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { encodeSec1Pem, generateSigningKey } from '../../src/core/crypto/signing-key';
import { fingerprint } from '../../src/core/util/fingerprint';
import { flash } from '../../src/core/workflows/flash';
import { deviceDir } from '../../src/core/flash/session';
import { JOURNAL_FILE } from '../../src/core/flash/journal';
import { predictBootOnBoard } from '../../src/core/workflows/predict-boot';
import { otaBoardEvidence, otaImage } from '../../src/core/workflows/ota';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import type { BoardSession } from '../../src/core/workflows/board';
import { readSigningKeyFile, readHardwareKeyFile } from '../../src/core/keys/key-files';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { cli } from './helpers/cli';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { fixtureBootloader } from '../../scripts/make-fixture-firmware';
import { bootNow, flashMd5, KEYS, tmpDir, keyStoreWith, secureBuildWith, downloadSession, fixtureBurnPlan } from './flash-harness';

/**
 * Issue 12 B: a read-protected key block reads as zeros, so the key store's keys count as the
 * board's only with evidence (a verified burn record in this store, the board's flash read back
 * and decrypted with them, or the user's recorded word). Store A burned the board; store B holds
 * other keys and a build made with them.
 */
const KEYS_A: SecureKeys & { pem: string } = { signingKey: KEYS.signingKey, pem: KEYS.signingKeyPem.toString(), flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, flashCryptConf: 0xf };
const B_SIGNING = generateSigningKey();
const KEYS_B: SecureKeys & { pem: string } = { signingKey: B_SIGNING, pem: encodeSec1Pem(B_SIGNING), flashKey: new Uint8Array(32).fill(0x5b), secureBootKey: digestPrivateKey(B_SIGNING, 256), flashCryptConf: 0xf };



const storeOf = (keys: SecureKeys & { pem: string }): KeyStore => keyStoreWith(keys.pem, keys.flashKey);

interface Rig { dev: VirtualEsp32; session: BoardSession; mac: string; close(): void }

/** A virtual GPy burned (keys protected) with store A's keys, the run recorded in `audit` (or nowhere). */
async function burnedGpy(seed: string, audit?: KeyStore, o: { readable?: boolean } = {}): Promise<Rig> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed });
  const { access, mac, plan } = await fixtureBurnPlan(dev, KEYS_A);
  await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: KEYS_A.flashKey, secureBootKey: KEYS_A.secureBootKey, audit: new AuditLog(audit ? audit.auditPath : path.join(tmpDir('audit-'), 'audit.jsonl')) });
  // A board whose key blocks were left readable (no RD_DIS): its keys can be compared directly.
  if (o.readable) dev.efuse.setRaw(withField(dev.efuse.rawWords(), field('RD_DIS'), 0));
  const { session, close } = await downloadSession(dev);
  return { dev, mac, session, close };
}

function planOf(dir: string, key: Uint8Array) {
  return () => planFromBuild(findBuildOutputs(dir, { flashKey: key }), { flashSize: 0x800000 });
}

/** Writes store A's build onto the board straight into its flash (as if flashed elsewhere). */
function preloadA(dev: VirtualEsp32): void {
  for (const r of planOf(secureBuildWith(KEYS_A), KEYS_A.flashKey)().regions) {
    dev.flash.eraseRange(r.address, Math.ceil(r.data.length / 0x1000) * 0x1000);
    dev.flash.program(r.address, r.data);
  }
}

/** The store's keys as predict-boot takes them. */
const keysOf = (s: KeyStore) => () => {
  const signing = readSigningKeyFile(s.signingKeyPath);
  return { flashKey: readHardwareKeyFile(s.sharedFlashKeyPath, 'flash-encryption'), signingPublicKey: signing.publicKey, secureBootKey: digestPrivateKey(signing, 256) };
};

function auditLines(s: KeyStore): string {
  return fs.existsSync(s.auditPath) ? fs.readFileSync(s.auditPath, 'utf8') : '';
}

describe('key evidence before checks that rely on read-protected keys (issue 12 B)', function () {
  this.timeout(120000);
  const A = storeOf(KEYS_A);
  const buildA = secureBuildWith(KEYS_A);
  const buildB = secureBuildWith(KEYS_B);

  it('reproduction B: flash with another store\'s keys on an erased board is refused, names the ways forward, writes and records nothing', async () => {
    const rig = await burnedGpy('ev-repro', A);
    try {
      const B = storeOf(KEYS_B);
      const before = flashMd5(rig.dev);
      await assert.rejects(flash(rig.session, { store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false }, scriptedUi()), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_KEY_EVIDENCE');
        assert.match(e.message, /nothing shows that this key store holds the board's keys/);
        assert.match(e.message, new RegExp(fingerprint(KEYS_B.flashKey)));
        assert.match(e.message, /no verified Burn Keys run/);
        assert.match(e.message, /--key-store DIR/);
        assert.match(e.message, /--trust-key-store/);
        assert.match(e.message, /nothing was written/);
        assert.ok(!e.message.includes(Buffer.from(KEYS_B.flashKey).toString('hex')));
        return true;
      });
      assert.equal(flashMd5(rig.dev), before);
      assert.equal(auditLines(B), '');
    } finally {
      rig.close();
    }
  });

  it('accepted with a verified burn record in this store: the evidence is named and the board boots', async () => {
    const rig = await burnedGpy('ev-record', A);
    try {
      const lines: string[] = [];
      const r = await flash(rig.session, { store: A, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false }, scriptedUi({ log: (_l, t) => lines.push(t) }));
      assert.equal(r.evidence.kind, 'burn-record');
      assert.ok(lines.some((l) => /^Key evidence: the verified Burn Keys run .* burned the flash-encryption key [0-9a-f]{16} in BLOCK1 and the secure boot key/.test(l)), lines.join('\n'));
      assert.equal(bootNow(rig.dev).boots, true);
    } finally {
      rig.close();
    }
  });

  it('a burn record naming other keys is evidence against the store (its key files were replaced): refused, --trust-key-store or not', async () => {
    const replaced = storeOf(KEYS_A);
    const rig = await burnedGpy('ev-replaced', replaced);
    try {
      fs.writeFileSync(replaced.signingKeyPath, KEYS_B.pem);
      fs.writeFileSync(replaced.sharedFlashKeyPath, KEYS_B.flashKey);
      const lines = auditLines(replaced);
      await assert.rejects(flash(rig.session, { store: replaced, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, trustKeyStore: true }, scriptedUi()), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_KEY_CONTRADICTED');
        assert.match(e.message, new RegExp(`burned the flash-encryption key ${fingerprint(KEYS_A.flashKey)} into BLOCK1 and the secure boot key ${fingerprint(KEYS_A.secureBootKey)} into BLOCK2 of ${rig.mac}, but the key store \\(.*\\) now holds ${fingerprint(KEYS_B.flashKey)} \\(from the shared flash_encryption_key\\.bin\\) and ${fingerprint(KEYS_B.secureBootKey)} \\(derived from secure_boot_signing_key\\.pem\\) for them`));
        return true;
      });
      assert.equal(auditLines(replaced), lines, 'no acknowledgement was recorded');
    } finally {
      rig.close();
    }
  });

  it('accepted with the flash read back: a copy of store A without its audit log, on a board flashed with A\'s build', async () => {
    const rig = await burnedGpy('ev-readback', undefined);
    try {
      preloadA(rig.dev);
      const copy = storeOf(KEYS_A);
      const r = await flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false, dryRun: true }, scriptedUi());
      assert.equal(r.evidence.kind, 'flash-read-back');
      assert.match(r.evidence.text, /valid image set .*digest at 0x0 matching the secure boot key [0-9a-f]{16}.*app at 0x10000/);
      // The read-back of another store's keys on the same flash is no evidence.
      await assert.rejects(flash(rig.session, { store: storeOf(KEYS_B), plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, dryRun: true }, scriptedUi()), /does not decrypt with the key store's flash-encryption key/);
    } finally {
      rig.close();
    }
  });

  it('a flash this store wrote itself is no evidence (its own ciphertext decrypts with its own keys)', async () => {
    const rig = await burnedGpy('ev-own-write', undefined);
    try {
      const B = storeOf(KEYS_B);
      // The wrong store flashes once on the user's word; a later run has to ask again.
      await flash(rig.session, { store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, trustKeyStore: true }, scriptedUi());
      assert.equal(bootNow(rig.dev).boots, false, 'the chip decrypts with store A\'s key: B\'s build does not boot');
      await assert.rejects(flash(rig.session, { store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, dryRun: true }, scriptedUi()), /has written it before/);
    } finally {
      rig.close();
    }
  });

  it('a vouched flash the boot refutes ("flash read err"): said at once, recorded, and no later run takes that key on anyone\'s word', async () => {
    const rig = await burnedGpy('ev-refuted', undefined);
    try {
      const B = storeOf(KEYS_B);
      const bootLog = async (): Promise<string> => bootNow(rig.dev).log.join('\n');
      const r = await flash(rig.session, { store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog, trustKeyStore: true, keyStoreHint: 'the setting pycom.keyStore' }, scriptedUi());
      assert.equal(r.boot?.explanation.verdict, 'failed');
      assert.match(r.keyRefuted ?? '', new RegExp(`BLOCK1 does not hold the flash-encryption key ${fingerprint(KEYS_B.flashKey)} you vouched for`));
      assert.match(r.keyRefuted ?? '', /the bootloader region 0x0-0x8000 it wrote has been erased again, so flash this board with the key store that burned it \(the setting pycom\.keyStore\)\.$/);
      // What the chip could not read is erased again: the store that burned the board finds no evidence against its key there.
      assert.ok(rig.dev.flash.read(0, 0x8000).every((x) => x === 0xff));
      // The record says it with fingerprints only.
      const rec = readBoardRecords(B.auditPath, rig.mac).find((x) => x.id === r.recordId);
      assert.deepEqual(rec?.keyRefuted, { block: 'BLOCK1', keyFingerprint: fingerprint(KEYS_B.flashKey) });
      assert.equal(rec?.bootRegionErased, true);
      assert.equal(rec?.result, 'failed');
      assert.equal(rec?.keyEvidence, 'trust-key-store');
      assert.ok(!auditLines(B).includes(Buffer.from(KEYS_B.flashKey).toString('hex')));
      // Every later run with that key is refused, vouching or not, and writes nothing.
      const before = flashMd5(rig.dev);
      for (const extra of [{}, { trustKeyStore: true }]) {
        await assert.rejects(flash(rig.session, { store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, ...extra }, scriptedUi()), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_KEY_CONTRADICTED');
          assert.match(e.message, new RegExp(`flash run ${r.recordId} .* wrote ${rig.mac}'s bootloader encrypted with this key store's flash-encryption key ${fingerprint(KEYS_B.flashKey)} and verified it, and the ROM then could not read it`));
          assert.match(e.message, /use the key store that burned it \(--key-store DIR\); nothing was written\.$/);
          return true;
        });
      }
      const predicted = await predictBootOnBoard(rig.session, { store: B, keys: keysOf(B), plan: planOf(buildB, KEYS_B.flashKey), trustKeyStore: true }, scriptedUi());
      assert.equal(predicted.verdict, undefined);
      assert.ok(predicted.resolved.undecidable.some((u) => /the ROM then could not read it/.test(u) && /vouching for it cannot outweigh what the board showed/.test(u)), predicted.resolved.undecidable.join('\n'));
      await assert.rejects(otaImage({ store: B, mac: rig.mac, buildDir: buildB, board: 'GPY', slot: 0x210000, output: path.join(tmpDir('ev-refuted-'), 'ota.bin'), trustKeyStore: true }), (e: Error & { code?: string }) => e.code === 'E_KEY_CONTRADICTED');
      assert.equal(flashMd5(rig.dev), before);
      // The store that burned the board flashes it on the user's word, and it boots.
      const ok = await flash(rig.session, { store: A, plan: planOf(buildA, KEYS_A.flashKey), bootLog, trustKeyStore: true }, scriptedUi());
      assert.equal(ok.boot?.explanation.verdict, 'booted');
      assert.equal(ok.keyRefuted, undefined);
    } finally {
      rig.close();
    }
  });

  it('the CLI over socket://: a vouched flash the boot refutes erases 0x0-0x8000 again (download mode entered again), and the store that burned the board then flashes it', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'ev-refuted-cli', bootPredictor: bootPredictorForVirtual });
    const { access, mac, plan: burn } = await fixtureBurnPlan(dev, KEYS_A);
    await executeBurnKeys(access, burn, { confirmMac: mac, flashKey: KEYS_A.flashKey, secureBootKey: KEYS_A.secureBootKey, audit: new AuditLog(path.join(tmpDir('audit-'), 'audit.jsonl')) });
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    const port = `socket://127.0.0.1:${server.port}`;
    try {
      const B = storeOf(KEYS_B);
      const wrong = await cli(['flash', '--port', port, '--build', buildB, '--key-store', B.dir, '--trust-key-store']);
      assert.equal(wrong.code, 1, wrong.out + wrong.err);
      assert.match(wrong.out, /flash read err, 1000/);
      // Said before the first write: what a refuted key undoes.
      const said = wrong.out + wrong.err;
      assert.ok(said.indexOf('the key is taken on your word; if the board\'s ROM then cannot read the bootloader written with it, the bootloader region 0x0-0x8000 is erased again') >= 0, said);
      assert.ok(wrong.err.indexOf('the key is taken on your word') >= 0 && wrong.err.indexOf('the key is taken on your word') < wrong.err.indexOf('[1/'), wrong.err);
      assert.match(wrong.out, new RegExp(`BLOCK1 does not hold the flash-encryption key ${fingerprint(KEYS_B.flashKey)} you vouched for: .*the bootloader region 0x0-0x8000 it wrote has been erased again, so flash this board with the key store that burned it \\(--key-store DIR\\)\\.$`, 'm'));
      assert.ok(dev.flash.read(0, 0x8000).every((x) => x === 0xff));
      // One way forward, not the boot log's generic advice beside it (trial 8: two fixes that disagreed).
      assert.doesNotMatch(wrong.out, /predict-boot --port PORT` tells which|flash the bootloader digest image encrypted with its flash key/);
      // The same wrong store again: refused by its own record, nothing written.
      const before = flashMd5(dev);
      const again = await cli(['flash', '--port', port, '--build', buildB, '--key-store', B.dir, '--trust-key-store']);
      assert.equal(again.code, 2, again.out + again.err);
      assert.match(again.err, /the ROM then could not read it/);
      assert.equal(flashMd5(dev), before);
      // The store that burned it: no evidence against it any more, so its user's word is taken, and the board boots.
      const right = await cli(['flash', '--port', port, '--build', buildA, '--key-store', storeOf(KEYS_A).dir, '--trust-key-store']);
      assert.equal(right.code, 0, right.out + right.err);
      assert.match(right.out, /The board booted/);
    } finally {
      await server.close();
    }
  });

  it('a boot failure with checked key evidence refutes nothing (the key was verified; other causes)', async () => {
    const rig = await burnedGpy('ev-not-refuted', A);
    try {
      // The board's own store, then a bootloader region the ROM cannot read: not a key problem.
      const r = await flash(rig.session, { store: A, plan: planOf(buildA, KEYS_A.flashKey), bootLog: async () => 'flash read err, 1000\nets_main.c 371 ' }, scriptedUi());
      assert.equal(r.evidence.kind, 'burn-record');
      assert.equal(r.boot?.explanation.verdict, 'failed');
      assert.equal(r.keyRefuted, undefined);
      assert.equal(readBoardRecords(A.auditPath, rig.mac).find((x) => x.id === r.recordId)?.keyRefuted, undefined);
    } finally {
      rig.close();
    }
  });

  it('accepted with the acknowledgement (--trust-key-store), recorded in the audit log with fingerprints only', async () => {
    const rig = await burnedGpy('ev-ack', undefined);
    try {
      const copy = storeOf(KEYS_A);
      await assert.rejects(flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false }, scriptedUi()), /E_KEY_EVIDENCE|nothing shows/);
      const r = await flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false, trustKeyStore: true }, scriptedUi());
      assert.equal(r.evidence.kind, 'acknowledged');
      assert.match(r.evidence.text, /not verified/);
      const recs = readAudit(copy.auditPath).records.filter((x) => x.operation === 'trust-key-store');
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.mac, rig.mac);
      assert.deepEqual(recs[0]!.keyFingerprints, { 'flash-key': fingerprint(KEYS_A.flashKey), 'secure-boot-key': fingerprint(KEYS_A.secureBootKey) });
      const text = auditLines(copy);
      assert.ok(!text.includes(Buffer.from(KEYS_A.flashKey).toString('hex')) && !text.includes(Buffer.from(KEYS_A.flashKey).reverse().toString('hex')));
      assert.equal(bootNow(rig.dev).boots, true);
    } finally {
      rig.close();
    }
  });

  it('the editor\'s way: the UI port\'s confirm asks; yes is recorded, no refuses with nothing written', async () => {
    const rig = await burnedGpy('ev-editor', undefined);
    try {
      const copy = storeOf(KEYS_A);
      const before = flashMd5(rig.dev);
      const asked: string[] = [];
      await assert.rejects(flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false, askTrust: true, acknowledgeHint: 'answer Yes to the question about the key store' }, scriptedUi({ confirm: (q) => (asked.push(q.detail), false) })), /answer Yes to the question about the key store/);
      assert.equal(asked.length, 1);
      assert.match(asked[0]!, /BLOCK1 and BLOCK2 are read-protected/);
      assert.equal(flashMd5(rig.dev), before);
      assert.equal(auditLines(copy), '');
      const r = await flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false, askTrust: true, dryRun: true }, scriptedUi({ confirm: () => true }));
      assert.equal(r.evidence.kind, 'acknowledged');
      assert.match(auditLines(copy), /"operation":"trust-key-store"/);
    } finally {
      rig.close();
    }
  });

  it('a board whose key blocks are readable needs no evidence: the chip\'s keys are compared directly', async () => {
    const rig = await burnedGpy('ev-readable', undefined, { readable: true });
    try {
      const copy = storeOf(KEYS_A);
      const r = await flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false, dryRun: true }, scriptedUi());
      assert.equal(r.evidence.kind, 'readable');
      assert.equal(auditLines(copy), '');
      await assert.rejects(flash(rig.session, { store: storeOf(KEYS_B), plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, dryRun: true }, scriptedUi()), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_KEY_MISMATCH');
        assert.match(e.message, new RegExp(`BLOCK1 is readable and holds the flash-encryption key ${fingerprint(KEYS_A.flashKey)}, not the key store's ${fingerprint(KEYS_B.flashKey)}`));
        return true;
      });
    } finally {
      rig.close();
    }
  });

  it('predict-boot: "cannot decide" without evidence (never WILL BOOT), decided with a record or the acknowledgement', async () => {
    const rig = await burnedGpy('ev-predict', A);
    try {
      preloadA(rig.dev);
      const B = storeOf(KEYS_B);
      // The build made with B's keys over the board: the old code said WILL BOOT.
      const without = await predictBootOnBoard(rig.session, { store: B, keys: keysOf(B), plan: planOf(buildB, KEYS_B.flashKey) }, scriptedUi());
      assert.equal(without.verdict, undefined);
      // The board's flash decrypts with A's key only: evidence against B's, said as a refusal (no "nothing was written": predict-boot only reads).
      assert.ok(without.resolved.undecidable.some((u) => /is not the one that burned this board/.test(u) && !/nothing was written|--trust-key-store/.test(u)), without.resolved.undecidable.join('\n'));
      const vouched = await predictBootOnBoard(rig.session, { store: B, keys: keysOf(B), plan: planOf(buildB, KEYS_B.flashKey), trustKeyStore: true }, scriptedUi());
      assert.equal(vouched.verdict, undefined);
      assert.ok(vouched.resolved.undecidable.some((u) => /vouching for it cannot outweigh what the board shows/.test(u)));
      assert.equal(auditLines(B), '');
      const withRecord = await predictBootOnBoard(rig.session, { store: A, keys: keysOf(A) }, scriptedUi());
      assert.equal(withRecord.evidence?.kind, 'burn-record');
      assert.equal(withRecord.verdict?.outcome, 'app-running');
      const copy = storeOf(KEYS_A);
      const readBack = await predictBootOnBoard(rig.session, { store: copy, keys: keysOf(copy) }, scriptedUi());
      assert.equal(readBack.evidence?.kind, 'flash-read-back');
      // An erased bootloader region is no evidence either way: "cannot decide", and the acknowledgement decides.
      rig.dev.flash.eraseRange(0, 0x8000);
      const erased = await predictBootOnBoard(rig.session, { store: B, keys: keysOf(B), plan: planOf(buildB, KEYS_B.flashKey) }, scriptedUi());
      assert.equal(erased.verdict, undefined);
      assert.ok(erased.resolved.undecidable.some((u) => /nothing shows that this key store holds the board's keys/.test(u) && /--trust-key-store/.test(u)));
      assert.equal(auditLines(B), '');
      const acked = await predictBootOnBoard(rig.session, { store: B, keys: keysOf(B), plan: planOf(buildB, KEYS_B.flashKey), trustKeyStore: true }, scriptedUi());
      assert.equal(acked.evidence?.kind, 'acknowledged');
      assert.match(auditLines(B), /"operation":"trust-key-store"/);
    } finally {
      rig.close();
    }
  });

  it('ota-image for a board (--mac): refused without a record, made with the record or the acknowledgement', async () => {
    const rig = await burnedGpy('ev-ota', A);
    rig.close();
    const out = path.join(tmpDir('ota-ev-'), 'ota.bin');
    const B = storeOf(KEYS_B);
    await assert.rejects(otaImage({ store: B, mac: rig.mac, buildDir: buildB, board: 'GPY', slot: 0x210000, output: out }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEY_EVIDENCE');
      assert.match(e.message, /--trust-key-store/);
      return true;
    });
    assert.equal(fs.existsSync(out), false);
    const ok = await otaImage({ store: A, mac: rig.mac, buildDir: buildA, board: 'GPY', slot: 0x210000, output: out });
    assert.equal(ok.evidence?.kind, 'burn-record');
    const acked = await otaImage({ store: B, mac: rig.mac, buildDir: buildB, board: 'GPY', slot: 0x210000, output: out + '2', trustKeyStore: true });
    assert.equal(acked.evidence?.kind, 'acknowledged');
    assert.match(auditLines(B), /"operation":"trust-key-store"/);
  });

  it('the CLI: flash, verify-flash and predict-boot refuse a store the flash contradicts; on erased flash they name --trust-key-store, and with it go on', async () => {
    const rig = await burnedGpy('ev-cli', A);
    rig.close();
    preloadA(rig.dev);
    const server = await startSimServer(rig.dev, { port: 0, host: '127.0.0.1' });
    const port = `socket://127.0.0.1:${server.port}`;
    try {
      const B = storeOf(KEYS_B);
      const before = flashMd5(rig.dev);
      // The board's flash (A's build) contradicts B's flash key: refused, even with --trust-key-store.
      for (const extra of [[], ['--trust-key-store']]) {
        const f = await cli(['flash', '--port', port, '--build', buildB, '--key-store', B.dir, '--boot-log-ms', '200', ...extra]);
        assert.equal(f.code, 2, f.out + f.err);
        assert.match(f.err, new RegExp(`pycom-secure flash: the flash of .* does not decrypt with the key store's flash-encryption key ${fingerprint(KEYS_B.flashKey)} .*this key store \\(${B.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\) is not the one that burned this board.*--key-store DIR\\); nothing was written\\.$`, 'm'));
        assert.doesNotMatch(f.err, /pass --trust-key-store/);
        assert.equal(flashMd5(rig.dev), before);
        assert.equal(auditLines(B), '');
      }
      // --dry-run too: the refusal comes alone, nothing about the store's key is said before it.
      const dry = await cli(['flash', '--dry-run', '--port', port, '--build', buildB, '--key-store', B.dir]);
      assert.equal(dry.code, 2, dry.out + dry.err);
      assert.equal(dry.out, '');
      assert.deepEqual(dry.err.trimEnd().split('\n').map((l) => l.slice(0, 33)), ['pycom-secure flash: the flash of ']);
      assert.equal(flashMd5(rig.dev), before);
      const v = await cli(['verify-flash', '--port', port, '--build', buildB, '--key-store', B.dir, '--trust-key-store']);
      assert.equal(v.code, 2, v.out + v.err);
      assert.match(v.err, /verify-flash: the flash of .* is not the one that burned this board/);
      assert.doesNotMatch(v.err, /nothing was written/);
      const p = await cli(['predict-boot', '--port', port, '--build', buildB, '--key-store', B.dir]);
      assert.equal(p.code, 4, p.out + p.err);
      assert.doesNotMatch(p.out, /WILL BOOT/);
      assert.match(p.out, /is not the one that burned this board/);
      assert.equal(auditLines(B), '');
      // Without evidence nothing is assumed about the key blocks: no "assumption:" after the refusal.
      assert.doesNotMatch(p.err, /assum/i);
      const pj = await cli(['predict-boot', '--port', port, '--build', buildB, '--key-store', B.dir, '--json']);
      assert.deepEqual((JSON.parse(pj.out) as { assumptions: string[] }).assumptions, []);
      const ok = await cli(['predict-boot', '--port', port, '--key-store', A.dir]);
      assert.equal(ok.code, 0, ok.out + ok.err);
      assert.match(ok.err, /Key evidence: the verified Burn Keys run/);
      // On an erased bootloader region there is no evidence either way: the refusal names --trust-key-store, and it goes on with it.
      rig.dev.flash.eraseRange(0, 0x8000);
      const noEvidence = await cli(['flash', '--dry-run', '--port', port, '--build', buildB, '--key-store', B.dir]);
      assert.equal(noEvidence.code, 2, noEvidence.out + noEvidence.err);
      assert.match(noEvidence.err, /pycom-secure flash: nothing shows that .*pass --trust-key-store/);
      const acked = await cli(['flash', '--port', port, '--build', buildB, '--key-store', B.dir, '--trust-key-store', '--dry-run']);
      assert.equal(acked.code, 0, acked.out + acked.err);
      assert.match(acked.err, /Key evidence: you vouched/);
      // The flash key's fingerprint is said once (in the evidence), the key file once.
      assert.equal(acked.err.split(fingerprint(KEYS_B.flashKey)).length - 1, 1, acked.err);
      assert.match(acked.err, /^Flash key: .*flash_encryption_key\.bin\.$/m);
      preloadA(rig.dev);
      // verify-flash with evidence: a region written with another of the store's keys is diagnosed as such.
      const per = A.deviceFlashKeyPath('24:0a:c4:00:00:98');
      fs.mkdirSync(path.dirname(per), { recursive: true });
      const other = new Uint8Array(32).fill(0x66);
      fs.writeFileSync(per, other);
      const table = planOf(buildA, KEYS_A.flashKey)().regions.find((r) => r.address === 0x8000)!.data;
      const plainTable = decryptFlashData(table, { key: KEYS_A.flashKey, address: 0x8000, flashCryptConf: 0xf });
      rig.dev.flash.eraseRange(0x8000, 0x1000);
      rig.dev.flash.program(0x8000, encryptFor(plainTable, 0x8000, other));
      const vf = await cli(['verify-flash', '--port', port, '--build', buildA, '--key-store', A.dir]);
      assert.equal(vf.code, 1, vf.out + vf.err);
      assert.match(vf.out, /differs in 0x8000/);
      assert.match(vf.out, new RegExp(`Diagnosis: the flash at 0x8000 holds this content encrypted with the key in .*24-0a-c4-00-00-98.* \\(fingerprint ${fingerprint(other)}\\)`));
      // The build's app encrypted for 0x210000 (an OTA copy), verified at 0x10000 where the build's app is: the file is
      // named as made for 0x210000 (the flash holds the same app for 0x10000), not blamed on another build.
      const app = planOf(buildA, KEYS_A.flashKey)().regions.find((r) => r.address === 0x10000)!.data;
      const plainApp = decryptFlashData(app, { key: KEYS_A.flashKey, address: 0x10000, flashCryptConf: 0xf });
      const forOta = path.join(tmpDir('vf-addr-'), 'app.bin_enc_0x210000');
      fs.writeFileSync(forOta, encryptFor(plainApp, 0x210000, KEYS_A.flashKey));
      const va = await cli(['verify-flash', '--port', port, '--key-store', A.dir, '0x10000', forOta]);
      assert.equal(va.code, 1, va.out + va.err);
      assert.match(va.out, /Diagnosis: the flash at 0x10000 does not hold this file as encrypted for 0x10000 \(a flash-encryption ciphertext depends on its address\): the file is encrypted for address 0x210000 /);
      assert.doesNotMatch(va.out, /another build/);
    } finally {
      await server.close();
    }
  });

  describe('evidence against the key store is refused, never asked (E_KEY_CONTRADICTED)', () => {
    /** A UI port whose confirm fails the test: evidence against is never put to the user. */
    const noQuestion = () => scriptedUi({ confirm: (q) => assert.fail(`asked: ${q.title}`) });
    /** Asks, records the question, answers No. */
    const askedNo = (asked: string[]) => scriptedUi({ confirm: (q) => (asked.push(q.detail), false) });

    it('the editor\'s case: a board flashed with store A, Flash with store B (ask on): refused at once, no modal, nothing written or recorded', async () => {
      const rig = await burnedGpy('ev-contra-editor', A);
      try {
        preloadA(rig.dev);
        const B = storeOf(KEYS_B);
        const before = flashMd5(rig.dev);
        for (const extra of [{}, { trustKeyStore: true }]) {
          await assert.rejects(flash(rig.session, {
            store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, askTrust: true, ...extra,
            acknowledgeHint: 'answer Yes to the question about the key store', keyStoreHint: 'set pycom.keyStorePath',
          }, noQuestion()), (e: Error & { code?: string }) => {
            assert.equal(e.code, 'E_KEY_CONTRADICTED');
            assert.equal(e.message, `flash: the flash of ${rig.mac} shows that its read-protected BLOCK1 holds another flash-encryption key than this key store's: the bootloader region at 0x1000 is written but does not decrypt with the key store's flash-encryption key ${fingerprint(KEYS_B.flashKey)} (no bootloader header), so this key store (${B.dir}) is not the one that burned this board${'trustKeyStore' in extra ? ', and vouching for it cannot outweigh what the board shows' : ''}; use the key store that burned it (set pycom.keyStorePath); nothing was written.`);
            assert.ok(!e.message.includes(Buffer.from(KEYS_B.flashKey).toString('hex')));
            return true;
          });
        }
        assert.equal(flashMd5(rig.dev), before);
        assert.equal(auditLines(B), '');
        assert.equal(bootNow(rig.dev).boots, true, 'the board still boots store A\'s firmware');
      } finally {
        rig.close();
      }
    });

    it('the secure boot key: the bootloader decrypts with the store\'s flash key but the digest at 0x0 is another key\'s', async () => {
      const rig = await burnedGpy('ev-contra-sbk', A);
      try {
        preloadA(rig.dev);
        // Store A's flash key with another signing key: the flash decrypts, the digest does not match.
        const mixed: SecureKeys & { pem: string } = { ...KEYS_A, signingKey: KEYS_B.signingKey, pem: KEYS_B.pem, secureBootKey: KEYS_B.secureBootKey };
        const C = storeOf(mixed);
        const before = flashMd5(rig.dev);
        await assert.rejects(flash(rig.session, { store: C, plan: planOf(secureBuildWith(mixed), KEYS_A.flashKey), bootLog: false, askTrust: true }, noQuestion()), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_KEY_CONTRADICTED');
          assert.match(e.message, new RegExp(`read-protected BLOCK2 holds another secure boot key than this key store's: the bootloader at 0x1000 decrypts and parses, but the digest written at 0x0 does not match the key store's secure boot key ${fingerprint(KEYS_B.secureBootKey)}, so this key store \\(.*\\) is not the one that burned this board; use the key store that burned it \\(--key-store DIR\\); nothing was written\\.$`));
          return true;
        });
        assert.equal(flashMd5(rig.dev), before);
        assert.equal(auditLines(C), '');
        // An erased digest was never written: no evidence either way, so the question is asked.
        rig.dev.flash.eraseRange(0, 0x1000);
        const asked: string[] = [];
        await assert.rejects(flash(rig.session, { store: C, plan: planOf(secureBuildWith(mixed), KEYS_A.flashKey), bootLog: false, askTrust: true }, askedNo(asked)), (e: Error & { code?: string }) => e.code === 'E_KEY_EVIDENCE');
        assert.equal(asked.length, 1);
        assert.equal(auditLines(C), '');
      } finally {
        rig.close();
      }
    });

    it('a bootloader written with the right key but cut off after its first block is no evidence against: asked, as before', async () => {
      const rig = await burnedGpy('ev-contra-partly', undefined);
      try {
        const region = planOf(buildA, KEYS_A.flashKey)().regions.find((r) => r.address === 0)!.data;
        // The ROM erased the region and programmed its start: the digest block and the bootloader's first 1 KB.
        rig.dev.flash.eraseRange(0, 0x8000);
        rig.dev.flash.program(0, region.subarray(0, 0x1000 + 0x400));
        const copy = storeOf(KEYS_A);
        const asked: string[] = [];
        await assert.rejects(flash(rig.session, { store: copy, plan: planOf(buildA, KEYS_A.flashKey), bootLog: false, askTrust: true, dryRun: true }, askedNo(asked)), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_KEY_EVIDENCE');
          assert.match(e.message, /holds no bootloader image/);
          return true;
        });
        assert.equal(asked.length, 1);
        // The same cut-off flash read with another store's key is evidence against it.
        await assert.rejects(flash(rig.session, { store: storeOf(KEYS_B), plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, askTrust: true, dryRun: true }, noQuestion()), /E_KEY_CONTRADICTED|is not the one that burned this board/);
      } finally {
        rig.close();
      }
    });

    it('erased flash, a plaintext bootloader, or a write this store began (its journal) are no evidence against: asked, as before', async () => {
      const rig = await burnedGpy('ev-contra-none', undefined);
      try {
        const B = storeOf(KEYS_B);
        const attempt = async (store: KeyStore) => {
          const asked: string[] = [];
          await assert.rejects(flash(rig.session, { store, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, askTrust: true, dryRun: true }, askedNo(asked)), (e: Error & { code?: string }) => e.code === 'E_KEY_EVIDENCE');
          assert.equal(asked.length, 1);
          assert.equal(auditLines(store), '');
          return asked[0]!;
        };
        assert.match(await attempt(B), /holds no bootloader image/);
        // A bootloader written without encryption (the factory firmware) says nothing about the key.
        rig.dev.flash.program(0x1000, fixtureBootloader());
        assert.match(await attempt(B), /holds no bootloader image/);
        // Garbage at 0x1000 where this store's journal says a write began: its own unfinished work.
        rig.dev.flash.eraseRange(0x1000, 0x1000);
        rig.dev.flash.program(0x1000, new Uint8Array(64).fill(0x3c));
        const J = storeOf(KEYS_B);
        const journal = path.join(deviceDir(J, rig.mac), JOURNAL_FILE);
        fs.mkdirSync(path.dirname(journal), { recursive: true });
        fs.writeFileSync(journal, JSON.stringify({ incomplete: [{ address: 0, length: 0x8000, md5: '0'.repeat(32), file: 'bootloader.bin', startedAt: new Date().toISOString() }] }));
        assert.match(await attempt(J), /has written it before/);
        // Without that journal the same garbage is evidence against.
        await assert.rejects(flash(rig.session, { store: B, plan: planOf(buildB, KEYS_B.flashKey), bootLog: false, askTrust: true, dryRun: true }, noQuestion()), (e: Error & { code?: string }) => e.code === 'E_KEY_CONTRADICTED');
      } finally {
        rig.close();
      }
    });

    it('ota-image for the connected board and predict-boot get the same refusal (predict-boot without "nothing was written")', async () => {
      const rig = await burnedGpy('ev-contra-ota', A);
      try {
        preloadA(rig.dev);
        const B = storeOf(KEYS_B);
        await assert.rejects(otaBoardEvidence(rig.session, { store: B, ask: true, keyStoreHint: 'set pycom.keyStorePath' }, noQuestion()), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_KEY_CONTRADICTED');
          assert.match(e.message, /^ota-image: .* is not the one that burned this board; use the key store that burned it \(set pycom\.keyStorePath\); nothing was written\.$/);
          return true;
        });
        const signing = readSigningKeyFile(B.signingKeyPath);
        const p = await predictBootOnBoard(rig.session, { store: B, ask: true, keys: () => ({ flashKey: KEYS_B.flashKey, signingPublicKey: signing.publicKey, secureBootKey: KEYS_B.secureBootKey }) }, noQuestion());
        assert.equal(p.verdict, undefined);
        assert.equal(p.resolved.undecidable.length, 1);
        assert.match(p.resolved.undecidable[0]!, /^predict-boot: .* is not the one that burned this board; use the key store that burned it \(--key-store DIR\)\.$/);
        assert.equal(auditLines(B), '');
      } finally {
        rig.close();
      }
    });
  });

  describe('predict-boot tests each cause of a region that does not decrypt (issue 12 item 4)', () => {
    const regionOf = (address: number) => planOf(buildA, KEYS_A.flashKey)().regions.find((r) => r.address === address)!.data;
    const plainAt = (address: number) => decryptFlashData(regionOf(address), { key: KEYS_A.flashKey, address, flashCryptConf: 0xf });
    async function predictWith(seed: string, address: number, bytes: Uint8Array, store: KeyStore = A) {
      const rig = await burnedGpy(seed, store);
      try {
        preloadA(rig.dev);
        rig.dev.flash.eraseRange(address, Math.ceil(bytes.length / 0x1000) * 0x1000);
        rig.dev.flash.program(address, bytes);
        const signing = readSigningKeyFile(store.signingKeyPath);
        return await predictBootOnBoard(rig.session, { store, keys: () => ({ flashKey: KEYS_A.flashKey, signingPublicKey: signing.publicKey, secureBootKey: digestPrivateKey(signing, 256) }) }, scriptedUi());
      } finally {
        rig.close();
      }
    }

    it('the app encrypted for the ota_0 slot (0x210000) at 0x10000: the address is named', async () => {
      const r = await predictWith('diag-pb-addr', 0x10000, encryptFor(plainAt(0x10000), 0x210000, KEYS_A.flashKey));
      assert.equal(r.verdict?.boots, false);
      assert.match(r.diagnosis ?? '', /the app at 0x10000 was encrypted for address 0x210000, not 0x10000/);
    });

    it('the app encrypted with another board\'s per-device key of the store: that key is named', async () => {
      const other = new Uint8Array(32).fill(0x77);
      const store = storeOf(KEYS_A);
      const per = store.deviceFlashKeyPath('24:0a:c4:00:00:99');
      fs.mkdirSync(path.dirname(per), { recursive: true });
      fs.writeFileSync(per, other);
      const r = await predictWith('diag-pb-key', 0x10000, encryptFor(plainAt(0x10000), 0x10000, other), store);
      assert.equal(r.verdict?.boots, false);
      assert.match(r.diagnosis ?? '', new RegExp(`was encrypted with the key in .*24-0a-c4-00-00-99.* \\(fingerprint ${fingerprint(other)}\\)`));
    });

    it('the partition table encrypted with FLASH_CRYPT_CONFIG 0x0: the setting is named', async () => {
      const r = await predictWith('diag-pb-conf', 0x8000, encryptFor(plainAt(0x8000), 0x8000, KEYS_A.flashKey, 0x0));
      assert.equal(r.verdict?.boots, false);
      assert.match(r.diagnosis ?? '', /the partition table at 0x8000 was encrypted with FLASH_CRYPT_CONFIG 0x0, but this chip's is 0xF/);
    });
  });
});
