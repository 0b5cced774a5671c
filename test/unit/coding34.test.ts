import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { decodeEfuses } from '../../src/core/efuse/decode';
import { emptyWords, field, withField } from '../../src/core/efuse/fields';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { codingSchemeCause, refuseUnsupportedCodingScheme } from '../../src/core/efuse/burn/coding-support';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { AuditLog } from '../../src/core/audit/audit-log';
import { KeyStore } from '../../src/core/keystore/key-store';
import { createMemoryPair } from '../../src/core/transport/memory';
import { connect } from '../../src/core/connect/connect';
import { identify } from '../../src/core/chip/identify';
import { instantSleepClock } from '../../src/core/loader/clock';
import { burnKeys } from '../../src/core/workflows/burn-keys';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import { isUserError } from '../../src/core/errors';
import { cli } from './helpers/cli';
import { fixtureStore, flashMd5, KEYS, secureBuild } from './flash-harness';

/*
 * A board with the 3/4 eFuse coding scheme (192-bit key blocks) is never secured by this tool:
 * Pycom firmware and this tool's builds use 256-bit keys (coding-support.ts). Burn Keys and
 * provision refuse it at plan time, before any key is made or anything is burned or recorded;
 * on a board an older version already burned, flash, verify-flash and predict-boot name the
 * coding scheme, not the signing key.
 */

const REFUSAL = /^This board uses the 3\/4 eFuse coding scheme \(CODING_SCHEME 1\): its key blocks hold 192-bit keys, but Pycom firmware and this tool's builds use 256-bit keys, .*do not secure this board (further )?with this tool; nothing was burned\.$/;

interface Served {
  dev: VirtualEsp32;
  server: SimServer;
  port: string;
  mac: string;
}

const served: Served[] = [];

/** A virtual GPy with the 3/4 coding scheme, as `sim serve --coding-scheme 3/4` serves it. */
async function serve34(seed: string): Promise<Served> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed, codingScheme: '3/4', bootPredictor: bootPredictorForVirtual });
  const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const s = { dev, server, port: `socket://127.0.0.1:${server.port}`, mac };
  served.push(s);
  return s;
}

/** Every file under `dir` with a hash of its content (and `dir` itself missing or not). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return { '(missing)': '' };
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) {
        out[`${path.relative(dir, p)}/`] = '';
        walk(p);
      } else out[path.relative(dir, p)] = createHash('sha256').update(fs.readFileSync(p)).digest('hex');
    }
  };
  walk(dir);
  return out;
}

/** The board and the key store as they are: eFuse bits, flash, every file of the store. */
function state(s: Served, store: KeyStore): string {
  return JSON.stringify({ efuse: s.dev.efuse.rawWords(), flash: flashMd5(s.dev), store: tree(store.dir) });
}

/**
 * The 192-bit keys an older version of this tool burned on a 3/4 board (the burn engine, recorded
 * in the store's audit log as its Burn Keys did): the store holds the board's own 24-byte key.
 */
async function burnedByOlderVersion(s: Served, store: KeyStore): Promise<void> {
  const flashKey = KEYS.flashKey.subarray(0, 24);
  const secureBootKey = digestPrivateKey(KEYS.signingKey, 192);
  const access = directAccess(s.dev.efuse);
  const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: s.dev.chipRevision, mac: s.mac }, flashKey, secureBootKey, hardening: false, history: [] });
  await executeBurnKeys(access, plan, { confirmMac: s.mac, flashKey, secureBootKey, audit: new AuditLog(store.auditPath) });
  store.saveDeviceFlashKey(s.mac, flashKey);
}

describe('a board with the 3/4 eFuse coding scheme', function () {
  this.timeout(120_000);
  after(async () => {
    for (const s of served) await s.server.close();
  });

  describe('Burn Keys is refused at plan time (nothing burned, no key made, nothing recorded)', () => {
    const modes: Array<{ title: string; args: (store: KeyStore) => string[] }> = [
      { title: '--flash-key', args: (store) => ['--flash-key', store.sharedFlashKeyPath] },
      { title: '--per-device-keys', args: () => ['--per-device-keys'] },
    ];
    for (const m of modes) {
      for (const dryRun of [false, true]) {
        it(`efuse burn-keys ${m.title}${dryRun ? ' --dry-run' : ''}`, async () => {
          const s = await serve34(`c34-burn-${m.title}-${dryRun}`);
          const store = fixtureStore();
          const before = state(s, store);
          const r = await cli(['efuse', 'burn-keys', '--port', s.port, ...m.args(store), '--signing-key', store.signingKeyPath, '--key-store', store.dir, ...(dryRun ? ['--dry-run'] : ['--confirm', s.mac])]);
          assert.equal(r.code, 2, r.err);
          const line = r.err.trim().replace(/^pycom-secure efuse burn-keys: /, '');
          assert.match(line, REFUSAL);
          assert.match(line, /nothing was burned\.$/);
          // No plan was shown (it would list steps to burn), no dry-run line, no key file made.
          assert.equal(r.out, '');
          assert.doesNotMatch(r.err, /PERMANENT|Dry run|Made this board's own/);
          assert.equal(state(s, store), before, 'eFuses, flash and key store unchanged');
          assert.ok(!fs.existsSync(store.auditPath), 'no audit record');
          assert.ok(!fs.existsSync(store.deviceFlashKeyPath(s.mac)), 'no per-device key');
        });
      }
    }

    it('in the workflow the editor runs: refused before the keys are asked for', async () => {
      const dev = new VirtualEsp32({ profile: 'GPY', seed: 'c34-editor', codingScheme: '3/4' });
      const { host, device } = createMemoryPair();
      dev.attach(device);
      dev.reset('download');
      await host.open();
      const conn = await connect(host, { reset: 'none', baud: 115200, clock: instantSleepClock, syncTimeoutMs: 2000 });
      const store = new KeyStore(path.join(fixtureStore().dir));
      const words = JSON.stringify(dev.efuse.rawWords());
      const storeBefore = tree(store.dir);
      let asked = 0;
      let shown = 0;
      try {
        await assert.rejects(burnKeys({ transport: host, conn, chip: await identify(conn) }, {
          store,
          // The editor's callback makes a per-device key (KeyStore.flashKeyFor): it must never run.
          keys: () => {
            asked++;
            return { flashKey: KEYS.flashKey.subarray(0, 24), secureBootKey: digestPrivateKey(KEYS.signingKey, 192) };
          },
          hardening: false,
          showPlan: () => void shown++,
        }, scriptedUi({ confirmMac: () => 'unused' })), (e: unknown) => isUserError(e) && e.code === 'E_CODING_34' && REFUSAL.test(e.message));
      } finally {
        conn.loader.dispose();
      }
      assert.equal(asked, 0, 'no key asked for (none made or stored)');
      assert.equal(shown, 0, 'no plan shown');
      assert.equal(JSON.stringify(dev.efuse.rawWords()), words);
      assert.deepEqual(tree(store.dir), storeBefore);
    });

    it('a run an older version left half-done is not continued, and the refusal says what state the board is in', async () => {
      const s = await serve34('c34-resume');
      const store = fixtureStore();
      // BLOCK1 burned with a 192-bit key and protected, nothing else: as a cut-off run leaves it.
      let w = s.dev.efuse.rawWords();
      w[1] = keyFileToBlockWords(KEYS.flashKey.subarray(0, 24), { reverse: true, coding: '3/4' });
      w = withField(w, field('RD_DIS'), 1);
      w = withField(w, field('WR_DIS'), 1 << 7);
      s.dev.efuse.setRaw(w);
      const before = state(s, store);
      const r = await cli(['efuse', 'burn-keys', '--port', s.port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--key-store', store.dir, '--confirm', s.mac]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /3\/4 eFuse coding scheme/);
      assert.match(r.err, /does not continue what an earlier run burned here \(the board is left as it is: BLOCK1 \(flash-encryption key\) read-protected, BLOCK2 \(secure boot key\) empty, flash encryption off, secure boot off\); do not secure this board further with this tool; nothing was burned\./);
      assert.equal(state(s, store), before);
    });

    it('CODING_SCHEME 3 is refused too, Repeat and a hidden coding scheme before any key as well; None passes', () => {
      const dec = (v?: number) => {
        let w = emptyWords();
        if (v !== undefined) w = withField(w, field('CODING_SCHEME'), v);
        else w = withField(w, field('RD_DIS'), 1 << 3);
        return decodeEfuses({ words: w, decStatus: 0 });
      };
      const code = (v?: number): string | undefined => {
        try {
          refuseUnsupportedCodingScheme(dec(v));
          return undefined;
        } catch (e) {
          assert.ok(isUserError(e));
          assert.match(e.message, /nothing was burned\.$/);
          return e.code;
        }
      };
      assert.equal(code(0), undefined);
      assert.equal(code(1), 'E_CODING_34');
      assert.equal(code(2), 'E_CODING_REPEAT');
      assert.equal(code(3), 'E_CODING_RESERVED');
      assert.equal(code(undefined), 'E_CODING_HIDDEN');
      // The flash side names 3/4 only once keys are burned under it.
      assert.equal(codingSchemeCause(1, false), undefined);
      assert.equal(codingSchemeCause(0, true), undefined);
      assert.match(codingSchemeCause(1, true)!, /3\/4 eFuse coding scheme.*192-bit keys burned.*not a wrong signing key/);
    });
  });

  describe('provision is refused for that board (every mode)', () => {
    for (const extra of [[], ['--per-device-keys'], ['--hardening']]) {
      it(`provision ${extra.join(' ') || '(shared key)'}`, async () => {
        const s = await serve34(`c34-prov-${extra.join('')}`);
        const store = fixtureStore();
        const build = secureBuild('GPY');
        const before = state(s, store);
        const r = await cli(['provision', '--port', s.port, '--build', build, '--board', 'GPY', '--key-store', store.dir, '--confirm-macs', s.mac, '--boot-log-ms', '0', '--json', ...extra]);
        assert.notEqual(r.code, 0);
        const events = r.out.trim().split('\n').map((l) => JSON.parse(l) as { type?: string; state?: string; message?: string });
        const failed = events.find((e) => e.type === 'state' && e.state === 'failed');
        assert.ok(failed, r.out);
        assert.match(failed.message!, REFUSAL);
        assert.ok(!events.some((e) => e.type === 'plan' || e.state === 'burning' || e.state === 'keys'), 'no plan, no keys, no burn');
        assert.equal(state(s, store), before, 'eFuses, flash and key store (audit log, devices/) unchanged');
      });
    }
  });

  describe('a board an older version already burned under 3/4: the coding scheme is named, not the signing key', () => {
    let s: Served;
    let store: KeyStore;
    let build: string;
    before(async () => {
      s = await serve34('c34-burned');
      store = fixtureStore();
      await burnedByOlderVersion(s, store);
      build = secureBuild('GPY');
    });

    for (const dryRun of [false, true]) {
      it(`flash --build${dryRun ? ' --dry-run' : ''} is refused naming the coding scheme`, async () => {
        const before = state(s, store);
        const r = await cli(['flash', '--port', s.port, '--build', build, '--key-store', store.dir, '--boot-log-ms', '0', ...(dryRun ? ['--dry-run'] : [])]);
        assert.equal(r.code, 2, r.err);
        const last = r.err.trim().split('\n').pop()!;
        assert.match(last, /^pycom-secure flash: bootloader-reflash-digest\.bin_enc at 0x0 .* cannot boot on this board: this board uses the 3\/4 eFuse coding scheme \(CODING_SCHEME 1\) and already has 192-bit keys burned, but Pycom firmware and this tool's builds use 256-bit keys, .*not a wrong signing key.*; nothing was written\.$/);
        assert.doesNotMatch(last, /Rebuild the bootloader with this board's signing key/);
        assert.equal(state(s, store), before, 'nothing written, nothing recorded');
      });
    }

    it('verify-flash and predict-boot name it as the cause', async () => {
      const v = await cli(['verify-flash', '--port', s.port, '--build', build, '--key-store', store.dir]);
      assert.equal(v.code, 1);
      const diagnoses = v.out.split('\n').filter((l) => l.includes('Diagnosis:'));
      assert.equal(diagnoses.length, 3, v.out);
      for (const d of diagnoses) assert.match(d, /Diagnosis: this board uses the 3\/4 eFuse coding scheme .*192-bit keys burned/);
      const p = await cli(['predict-boot', '--port', s.port, '--build', build, '--key-store', store.dir]);
      assert.equal(p.code, 1, p.err);
      assert.match(p.out, /WILL NOT BOOT\. The board prints "secure boot check fail" and resets forever: this board uses the 3\/4 eFuse coding scheme .*not a wrong signing key.*\./);
      assert.doesNotMatch(p.out, /digest made with another key/);
    });
  });

  it('flash --build on a fresh 3/4 board says Burn Keys is not the way', async () => {
    const s = await serve34('c34-fresh-flash');
    const store = fixtureStore();
    const before = state(s, store);
    const r = await cli(['flash', '--port', s.port, '--build', secureBuild('GPY'), '--key-store', store.dir, '--boot-log-ms', '0']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /is encrypted, but flash encryption is off on this chip, and this board uses the 3\/4 eFuse coding scheme .*so this tool does not secure this board \(efuse burn-keys refuses it\); flash plaintext firmware instead; nothing was written\./);
    assert.equal(state(s, store), before);
  });
});
