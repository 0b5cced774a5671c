import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { renderPlan } from '../../src/core/efuse/burn/plan';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog, readAudit } from '../../src/core/audit/audit-log';
import { KeyStore, macDirName } from '../../src/core/keystore/key-store';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import type { SecureKeys } from '../../src/core/secure-build/process';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { fingerprint } from '../../src/core/util/fingerprint';
import { flash } from '../../src/core/workflows/flash';
import { verifyFlash } from '../../src/core/workflows/verify-flash';
import { predictBootOnBoard } from '../../src/core/workflows/predict-boot';
import { otaImage } from '../../src/core/workflows/ota';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import type { BoardSession } from '../../src/core/workflows/board';
import { readSigningKeyFile, readHardwareKeyFile } from '../../src/core/keys/key-files';
import { runCli } from '../../src/cli/main';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { bootNow, flashMd5, KEYS, tmpDir, keyStoreWith, secureBuildWith, downloadSession } from './flash-harness';

/**
 * The key store's own audit log as evidence (a new-user trial): a verified Burn Keys run that
 * burned another key than the store now holds is evidence AGAINST the store (E_KEY_CONTRADICTED,
 * not overridable by --trust-key-store); a Burn Keys run cut off half-way is named before anything
 * else (E_BURN_UNFINISHED), for writing and reading jobs alike.
 */
const KEYS_A: SecureKeys & { pem: string } = { signingKey: KEYS.signingKey, pem: KEYS.signingKeyPem.toString(), flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, flashCryptConf: 0xf };
/** The shared key of a per-device store: what it falls back to when a board's own key file is gone. */
const SHARED = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 0x35) & 0xff);
const OWN = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 0x39) & 0xff);



const storeOf = (o: { pem: string; shared: Uint8Array }): KeyStore => keyStoreWith(o.pem, o.shared);

function planOf(dir: string) {
  return (ctx: { flashKey: Uint8Array | undefined }) => planFromBuild(findBuildOutputs(dir, { ...(ctx.flashKey ? { flashKey: ctx.flashKey } : {}) }), { flashSize: 0x800000 });
}

interface Rig { dev: VirtualEsp32; session: BoardSession; mac: string; close(): void }

/**
 * A virtual GPy burned with `flashKey` and store A's secure boot key, the run recorded in `store`;
 * with `cutAfter` the run is cancelled after that many of its 6 steps (the audit log keeps it open);
 * `within` names the provisioning run that started it.
 */
async function burnedGpy(seed: string, store: KeyStore, flashKey: Uint8Array, o: { cutAfter?: number; within?: string } = {}): Promise<Rig> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed });
  const access = directAccess(dev.efuse);
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey, secureBootKey: KEYS_A.secureBootKey, hardening: false, history: [] });
  const ac = new AbortController();
  let started = 0;
  const run = executeBurnKeys(access, plan, {
    confirmMac: mac, flashKey, secureBootKey: KEYS_A.secureBootKey, audit: new AuditLog(store.auditPath), signal: ac.signal, ...(o.within ? { within: o.within } : {}),
    onProgress: (m) => {
      if (m.startsWith('Burning: ') && ++started === o.cutAfter) ac.abort();
    },
  });
  if (o.cutAfter === undefined) await run;
  else await assert.rejects(run, /E_CANCELLED|cancelled/);
  const { session, close } = await downloadSession(dev);
  return { dev, mac, session, close };
}

const audit = (s: KeyStore): string => (fs.existsSync(s.auditPath) ? fs.readFileSync(s.auditPath, 'utf8') : '');

function keysOf(s: KeyStore, mac: string) {
  return () => {
    const signing = readSigningKeyFile(s.signingKeyPath);
    return { flashKey: readHardwareKeyFile(s.flashKeyFileFor(mac)!, 'flash-encryption'), signingPublicKey: signing.publicKey, secureBootKey: digestPrivateKey(signing, 256) };
  };
}

describe('the key store\'s own audit log as key evidence (new-user trial)', function () {
  this.timeout(120000);

  describe('a verified burn record naming another key than the store holds is evidence against (E_KEY_CONTRADICTED)', () => {
    it('per-device keys: the board\'s own key file moved away, so the shared key is taken: flash refused with --trust-key-store too, the file named, nothing written or recorded', async () => {
      const store = storeOf({ pem: KEYS_A.pem, shared: SHARED });
      const rig = await burnedGpy('rec-perdev', store, OWN);
      try {
        store.saveDeviceFlashKey(rig.mac, OWN);
        const own = store.deviceFlashKeyPath(rig.mac);
        // The board's own key works: the record is the evidence.
        const ok = await flash(rig.session, { store, plan: planOf(secureBuildWith({ ...KEYS_A, flashKey: OWN })), bootLog: false }, scriptedUi());
        assert.equal(ok.evidence.kind, 'burn-record');
        assert.equal(bootNow(rig.dev).boots, true);
        fs.renameSync(own, path.join(tmpDir('backup-'), 'flash_encryption_key.bin'));
        const before = flashMd5(rig.dev);
        const lines = audit(store);
        for (const trustKeyStore of [false, true]) {
          await assert.rejects(flash(rig.session, { store, plan: planOf(secureBuildWith({ ...KEYS_A, flashKey: SHARED })), bootLog: false, trustKeyStore, askTrust: true }, scriptedUi({ confirm: () => assert.fail('no question is asked') })), (e: Error & { code?: string }) => {
            assert.equal(e.code, 'E_KEY_CONTRADICTED');
            assert.match(e.message, new RegExp(`^flash: the verified Burn Keys run \\S+ \\(\\S+\\) burned the flash-encryption key ${fingerprint(OWN)} into BLOCK1 of ${rig.mac}, but the key store \\(${store.dir.replace(/[/\\]/g, '.')}\\) now holds ${fingerprint(SHARED)} \\(devices.${macDirName(rig.mac)}.flash_encryption_key\\.bin is missing, so the shared flash_encryption_key\\.bin was taken\\) for it, and a burned key block keeps its key`));
            assert.match(e.message, /restore the board's key from your backup \(or use the key store that holds it: --key-store DIR\); nothing was written\.$/);
            if (trustKeyStore) assert.match(e.message, /vouching for this key store cannot outweigh its own record/);
            assert.doesNotMatch(e.message, /pass --trust-key-store/);
            assert.ok(!e.message.includes(Buffer.from(SHARED).toString('hex')) && !e.message.includes(Buffer.from(OWN).toString('hex')));
            return true;
          });
        }
        assert.equal(flashMd5(rig.dev), before, 'nothing was written');
        assert.equal(bootNow(rig.dev).boots, true, 'the board still boots');
        assert.equal(audit(store), lines, 'no acknowledgement was recorded');
        // ota-image for the board by MAC (offline evidence): the same refusal, no file.
        const out = path.join(tmpDir('ota-rec-'), 'ota.bin');
        await assert.rejects(otaImage({ store, mac: rig.mac, buildDir: secureBuildWith({ ...KEYS_A, flashKey: SHARED }), board: 'GPY', slot: 0x210000, output: out, trustKeyStore: true }), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_KEY_CONTRADICTED');
          assert.match(e.message, new RegExp(`^ota-image: the verified Burn Keys run .* burned the flash-encryption key ${fingerprint(OWN)} into BLOCK1 .* now holds ${fingerprint(SHARED)} .*is missing, so the shared .*; nothing was written\\.$`));
          return true;
        });
        assert.equal(fs.existsSync(out), false);
        assert.equal(audit(store), lines);
        // Without a MAC: the store no longer holds a devices/ key file, but its audit log says the board has its own key.
        await assert.rejects(otaImage({ store, buildDir: secureBuildWith({ ...KEYS_A, flashKey: SHARED }), board: 'GPY', slot: 0x210000, output: out }), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_NEED_MAC');
          assert.ok(e.message.includes(`burned the board ${rig.mac} with another flash-encryption key than its flash_encryption_key.bin (its audit log says so: a key of the board's own whose devices/<MAC>/ file is not there now, or a shared key since replaced)`), e.message);
          assert.match(e.message, /give the board's MAC with --mac MAC, or --port PORT to read it from the board; nothing was written\.$/);
          return true;
        });
        assert.equal(fs.existsSync(out), false);
        // predict-boot says it as its "cannot decide", never WILL BOOT.
        const p = await predictBootOnBoard(rig.session, { store, keys: keysOf(store, rig.mac), trustKeyStore: true }, scriptedUi());
        assert.equal(p.verdict, undefined);
        assert.ok(p.resolved.undecidable.some((u) => /^predict-boot: the verified Burn Keys run .*restore the board's key from your backup/.test(u) && !/nothing was written/.test(u)), p.resolved.undecidable.join('\n'));
      } finally {
        rig.close();
      }
    });

    it('the CLI: a replaced shared key: flash --trust-key-store exits 2 with the one sentence, nothing written', async () => {
      const store = storeOf({ pem: KEYS_A.pem, shared: KEYS_A.flashKey });
      const rig = await burnedGpy('rec-shared', store, KEYS_A.flashKey);
      rig.close();
      fs.writeFileSync(store.sharedFlashKeyPath, SHARED);
      const server = await startSimServer(rig.dev, { port: 0, host: '127.0.0.1' });
      try {
        const before = flashMd5(rig.dev);
        const lines = audit(store);
        let out = '';
        let err = '';
        const code = await runCli(['flash', '--port', `socket://127.0.0.1:${server.port}`, '--build', secureBuildWith({ ...KEYS_A, flashKey: SHARED }), '--key-store', store.dir, '--trust-key-store'], { out: (l) => (out += l + '\n'), err: (l) => (err += l + '\n') });
        assert.equal(code, 2, out + err);
        assert.equal(out, '');
        assert.match(err, new RegExp(`^pycom-secure flash: the verified Burn Keys run .* burned the flash-encryption key ${fingerprint(KEYS_A.flashKey)} into BLOCK1 .* now holds ${fingerprint(SHARED)} \\(from the shared flash_encryption_key\\.bin\\) for it, .*; nothing was written\\.\\n$`));
        assert.equal(flashMd5(rig.dev), before);
        assert.equal(audit(store), lines);
      } finally {
        await server.close();
      }
    });
  });

  describe('a Burn Keys run cut off half-way is named first (E_BURN_UNFINISHED)', () => {
    it('flash (with --trust-key-store, dry run or not), verify-flash, predict-boot and ota-image --mac name the run and how to finish it; nothing written or recorded; once finished, the record is the evidence', async () => {
      const store = storeOf({ pem: KEYS_A.pem, shared: KEYS_A.flashKey });
      const rig = await burnedGpy('rec-cut', store, KEYS_A.flashKey, { cutAfter: 5 });
      const build = secureBuildWith(KEYS_A);
      try {
        const before = flashMd5(rig.dev);
        const lines = audit(store);
        const runId = (JSON.parse(lines.split('\n')[0]!) as { id: string }).id;
        const unfinished = (job: string, writes: boolean) => (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_BURN_UNFINISHED');
          assert.match(e.message, new RegExp(`^${job}: Burn Keys run ${runId} on ${rig.mac} \\(started \\S+\\) was cut off after 5 of 6 steps, so the board is not finished .*; run \`pycom-secure efuse burn-keys\` again with the options of the cut-off run to finish it before ${job}${writes ? '; nothing was written' : ''}\\.$`));
          assert.doesNotMatch(e.message, /trust-key-store|nothing shows|in the editor|Pycom: /);
          // Said in answer to flash, "the same command" would be flash: the burn command is named (trial 6).
          assert.doesNotMatch(e.message, /same command/);
          return true;
        };
        for (const o of [{ trustKeyStore: true }, { trustKeyStore: true, dryRun: true }, {}]) {
          await assert.rejects(flash(rig.session, { store, plan: planOf(build), bootLog: false, askTrust: true, ...o }, scriptedUi({ confirm: () => assert.fail('no question is asked') })), unfinished('flash', true));
        }
        await assert.rejects(verifyFlash(rig.session, { store, plan: planOf(build), trustKeyStore: true }, scriptedUi()), unfinished('verify-flash', false));
        const p = await predictBootOnBoard(rig.session, { store, keys: keysOf(store, rig.mac), trustKeyStore: true }, scriptedUi());
        assert.equal(p.verdict, undefined);
        assert.equal(p.resolved.undecidable.length, 1, p.resolved.undecidable.join('\n'));
        unfinished('predict-boot', false)(Object.assign(new Error(p.resolved.undecidable[0]), { code: 'E_BURN_UNFINISHED' }));
        const out = path.join(tmpDir('ota-cut-'), 'ota.bin');
        await assert.rejects(otaImage({ store, mac: rig.mac, buildDir: build, board: 'GPY', slot: 0x210000, output: out, trustKeyStore: true }), unfinished('ota-image', true));
        assert.equal(fs.existsSync(out), false);
        assert.equal(flashMd5(rig.dev), before, 'nothing was written');
        assert.equal(audit(store), lines, 'nothing was recorded');

        // The same history Burn Keys resumes from: its plan finishes this run; once done, flash goes on with the record.
        const access = directAccess(rig.dev.efuse);
        const resume = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: rig.dev.chipRevision, mac: rig.mac }, flashKey: KEYS_A.flashKey, secureBootKey: KEYS_A.secureBootKey, hardening: false, history: readAudit(store.auditPath).records });
        assert.equal(resume.resumes?.id, runId);
        assert.match(renderPlan(resume), /already done \(verified by audit\)/);
        const done = await executeBurnKeys(access, resume, { confirmMac: rig.mac, flashKey: KEYS_A.flashKey, secureBootKey: KEYS_A.secureBootKey, audit: new AuditLog(store.auditPath) });
        assert.deepEqual(done.closed, [runId]);
        const r = await flash(rig.session, { store, plan: planOf(build), bootLog: false, dryRun: true }, scriptedUi());
        assert.equal(r.evidence.kind, 'burn-record');
      } finally {
        rig.close();
      }
    });

    it('a run a provisioning run started names provision, and each front end says it in its own words (burnAgainHints)', async () => {
      const store = storeOf({ pem: KEYS_A.pem, shared: KEYS_A.flashKey });
      const rig = await burnedGpy('rec-cut-prov', store, KEYS_A.flashKey, { cutAfter: 3, within: 'prov-run-1' });
      const build = secureBuildWith(KEYS_A);
      try {
        const before = flashMd5(rig.dev);
        const lines = audit(store);
        await assert.rejects(flash(rig.session, { store, plan: planOf(build), bootLog: false, trustKeyStore: true }, scriptedUi()), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_BURN_UNFINISHED');
          assert.match(e.message, /part of provision run prov-run-1\) was cut off after 3 of 6 steps, .*; run `pycom-secure provision` again with the options of the cut-off run to finish it before flash; nothing was written\.$/);
          assert.doesNotMatch(e.message, /efuse burn-keys|Pycom: /);
          return true;
        });
        const editorWords = { burnKeys: 'run "Pycom: Burn Keys" again on this board', provision: 'run "Pycom: Provision Boards" again with this board ticked' };
        await assert.rejects(verifyFlash(rig.session, { store, plan: planOf(build), askTrust: true, burnAgainHints: editorWords }, scriptedUi({ confirm: () => assert.fail('no question is asked') })), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_BURN_UNFINISHED');
          assert.match(e.message, /; run "Pycom: Provision Boards" again with this board ticked to finish it before verify-flash\.$/);
          assert.doesNotMatch(e.message, /pycom-secure|--/);
          return true;
        });
        assert.equal(flashMd5(rig.dev), before, 'nothing was written');
        assert.equal(audit(store), lines, 'nothing was recorded');
      } finally {
        rig.close();
      }
    });
  });
});
