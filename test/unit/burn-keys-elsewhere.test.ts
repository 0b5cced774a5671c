import { strict as assert } from 'node:assert';
import { freshRaw } from './burn-keys.test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EfuseController } from '../../src/core/virtual/efuse-controller';
import { field, fieldWords, type EfuseWords } from '../../src/core/efuse/fields';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { decodeEfuses } from '../../src/core/efuse/decode';
import { planBurnKeys, type BurnKeysInput } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { pendingSteps, renderPlan, type BurnPlan } from '../../src/core/efuse/burn/plan';
import { AuditLog, interruptedOperations, readAudit } from '../../src/core/audit/audit-log';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { fingerprint } from '../../src/core/util/fingerprint';
import { isUserError } from '../../src/core/errors';
import { cli as cliIn } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { factoryMacBytes } from '../../src/core/efuse/fields';

/**
 * Issue #12 C: boards whose keys another tool (espefuse, Pycom's documented flow) or another
 * workstation burned and protected. Each prior state is written straight into a virtual board's
 * eFuse words, laid out as espefuse's `burn_key flash_encryption` / `burn_key secure_boot_v1` leave
 * them (key file reversed into the block, 3/4-encoded on 3/4 chips, RD_DIS + WR_DIS set).
 */
const MAC = '24:0a:c4:65:43:21';

/** A factory-fresh revision-1 chip with this file's MAC (the Burn Keys tests' board). */
function fresh(coding: 0 | 1): EfuseWords {
  return freshRaw(coding, MAC);
}

function key(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 13 + seed * 41 + 5) & 0xff);
}

function set(raw: EfuseWords, name: string, value: number): EfuseWords {
  const w = fieldWords(field(name), value);
  const out = raw.map((b) => [...b]);
  out[0] = out[0]!.map((x, i) => (x | w[i]!) >>> 0);
  return out;
}

/** `espefuse burn_key flash_encryption|secure_boot_v1 KEY`: reversed key, then RD_DIS and WR_DIS of the block. */
function espefuseBurnKey(raw: EfuseWords, block: 1 | 2, k: Uint8Array, coding: 0 | 1): EfuseWords {
  const out = raw.map((b) => [...b]);
  out[block] = keyFileToBlockWords(k, { reverse: true, coding: coding ? '3/4' : 'none' });
  return set(set(out, 'RD_DIS', 1 << (block - 1)), 'WR_DIS', 1 << (6 + block));
}

interface Prior {
  name: string;
  make(raw: EfuseWords, fk: Uint8Array, sk: Uint8Array, coding: 0 | 1): EfuseWords;
  /** Blocks taken on the user's word with --keys-burned-elsewhere. */
  unverified: (1 | 2)[];
  /** Steps the plan must burn. */
  burns: string[];
}

const PRIORS: Prior[] = [
  {
    name: 'both keys burned by key name with protections (Pycom flow stopped before the flags)',
    make: (r, fk, sk, c) => espefuseBurnKey(espefuseBurnKey(r, 1, fk, c), 2, sk, c),
    unverified: [1, 2], burns: ['flash-crypt-config', 'flash-crypt-cnt', 'abs-done-0'],
  },
  {
    name: 'flags burned first (FLASH_CRYPT_CNT 1, FLASH_CRYPT_CONFIG 0xF), then both keys',
    make: (r, fk, sk, c) => espefuseBurnKey(espefuseBurnKey(set(set(r, 'FLASH_CRYPT_CNT', 1), 'FLASH_CRYPT_CONFIG', 0xf), 1, fk, c), 2, sk, c),
    unverified: [1, 2], burns: ['abs-done-0'],
  },
  {
    name: 'secure boot only (BLOCK2 key protected, ABS_DONE_0 set): flash encryption is added',
    make: (r, _fk, sk, c) => set(espefuseBurnKey(r, 2, sk, c), 'ABS_DONE_0', 1),
    unverified: [2], burns: ['flash-key', 'protect-keys', 'flash-crypt-config', 'flash-crypt-cnt'],
  },
  {
    name: 'flash encryption only (BLOCK1 key protected, CONFIG 0xF, CNT 1): secure boot is added',
    make: (r, fk, _sk, c) => set(set(espefuseBurnKey(r, 1, fk, c), 'FLASH_CRYPT_CNT', 1), 'FLASH_CRYPT_CONFIG', 0xf),
    unverified: [1], burns: ['secure-boot-key', 'protect-keys', 'abs-done-0'],
  },
  {
    name: 'both keys and every flag (a board espefuse finished)',
    make: (r, fk, sk, c) => set(set(set(espefuseBurnKey(espefuseBurnKey(r, 1, fk, c), 2, sk, c), 'FLASH_CRYPT_CNT', 1), 'FLASH_CRYPT_CONFIG', 0xf), 'ABS_DONE_0', 1),
    unverified: [1, 2], burns: [],
  },
];

function setup(prior: Prior, coding: 0 | 1 = 0) {
  const len = coding ? 24 : 32;
  const flashKey = key(len, 1);
  const sbKey = key(len, 2);
  const ctl = new EfuseController({ raw: prior.make(fresh(coding), flashKey, sbKey, coding) });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elsewhere-'));
  // A new key store: no record of this board.
  const audit = new AuditLog(path.join(dir, 'audit.jsonl'));
  return { ctl, access: directAccess(ctl), audit, flashKey, sbKey, coding };
}
type S = ReturnType<typeof setup>;

function input(s: S, over: Partial<BurnKeysInput> = {}): BurnKeysInput {
  return { target: { chip: 'ESP32', revision: 1, mac: MAC }, flashKey: s.flashKey, secureBootKey: s.sbKey, hardening: false, history: readAudit(s.audit.file).records, ...over };
}

/** The raw words the plan allows: the state before, plus every bit a pending step programs. */
function plannedWords(before: EfuseWords, plan: BurnPlan): EfuseWords {
  const out = before.map((b) => [...b]);
  for (const step of pendingSteps(plan)) {
    const b = step.burn!();
    b.program.forEach((w, i) => (out[b.block]![i] = (out[b.block]![i]! | w) >>> 0));
  }
  return out;
}

async function refusal(p: () => Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await p();
  } catch (e) {
    assert.ok(isUserError(e), String(e));
    return e as Error & { code: string };
  }
  return assert.fail('expected a refusal');
}

function assertFinal(s: S, hardening = false): void {
  const dec = decodeEfuses({ words: s.ctl.readWords(), decStatus: s.ctl.decodeStatus });
  assert.equal(s.ctl.decodeStatus, 0);
  for (const b of [1, 2] as const) {
    assert.equal(dec.keyBlocks[b].status, 'protected', `BLOCK${b}`);
    assert.equal(dec.keyBlocks[b].writeable, false, `BLOCK${b}`);
  }
  assert.equal(dec.flashEncryptionEnabled, true);
  assert.equal(dec.flashCryptConfig, 0xf);
  assert.equal(dec.secureBootV1, true);
  for (const n of ['DISABLE_DL_ENCRYPT', 'DISABLE_DL_DECRYPT', 'DISABLE_DL_CACHE', 'JTAG_DISABLE']) assert.equal(s.ctl.rawField(n), hardening ? 1n : 0n, n);
  // The keys the hardware uses are the key files (laid out as espefuse lays them out).
  const layout = { reverse: true, coding: s.coding ? '3/4' : 'none' } as const;
  assert.deepEqual(s.ctl.rawWords()[1], keyFileToBlockWords(s.flashKey, layout));
  assert.deepEqual(s.ctl.rawWords()[2], keyFileToBlockWords(s.sbKey, layout));
}

describe('Burn Keys on a board burned elsewhere (--keys-burned-elsewhere, issue #12 C)', () => {
  for (const coding of [0, 1] as const) {
    for (const prior of PRIORS) {
      const label = `${prior.name}${coding ? ' [3/4 coding]' : ''}`;

      it(`without the flag: refused, the message names --keys-burned-elsewhere, nothing burned or recorded: ${label}`, async () => {
        const s = setup(prior, coding);
        const before = s.ctl.rawWords();
        const e = await refusal(async () => {
          const plan = planBurnKeys(await readEfuses(s.access), input(s));
          await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
        });
        assert.equal(e.code, 'E_KEY_BLOCK_PROTECTED');
        assert.match(e.message, new RegExp(`BLOCK${prior.unverified[0]} is already read-protected`));
        assert.match(e.message, /run again with --keys-burned-elsewhere/);
        assert.match(e.message, /nothing was burned\.$/);
        if (prior.unverified.length === 1) assert.match(e.message, new RegExp(`BLOCK${3 - prior.unverified[0]!} is empty: that run burns only the key it lacks`));
        assert.deepEqual(s.ctl.rawWords(), before);
        assert.equal(readAudit(s.audit.file).records.length, 0);
      });

      it(`with the flag: burns only what is missing, never the protected block, reaches the final state, records 'not verified': ${label}`, async () => {
        const s = setup(prior, coding);
        const before = s.ctl.rawWords();
        const plan = planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true }));
        assert.deepEqual(pendingSteps(plan).map((x) => x.id), prior.burns);
        assert.deepEqual((plan.keysNotVerified ?? []).map((u) => u.block), prior.unverified);
        for (const u of plan.keysNotVerified ?? []) assert.equal(u.result, 'not verified');
        // The plan never writes a block it could not read.
        for (const b of prior.unverified) assert.ok(pendingSteps(plan).every((x) => x.block !== b), `BLOCK${b} is written`);
        const text = renderPlan(plan);
        assert.match(text, /NOT VERIFIED: BLOCK/);
        assert.match(text, /cannot be compared with the key file/);
        assert.match(text, /burned elsewhere, read-protected: NOT verified against the key file/);
        for (const k of [s.flashKey, s.sbKey]) {
          assert.ok(!text.includes(Buffer.from(k).toString('hex')));
          assert.ok(!JSON.stringify(plan).includes(Buffer.from(k).toString('hex')));
        }
        const expected = plannedWords(before, plan);
        if (prior.burns.length === 0) {
          assert.match(text, /Nothing left to burn/);
          return;
        }
        const r = await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
        assert.deepEqual(r.burned, prior.burns);
        assert.deepEqual(r.keysNotVerified.map((u) => u.block), prior.unverified);
        // Every eFuse word is exactly the state before plus the plan's bits: nothing unplanned.
        assert.deepEqual(s.ctl.rawWords(), expected);
        for (const b of prior.unverified) assert.deepEqual(s.ctl.rawWords()[b], before[b], `BLOCK${b} untouched`);
        assertFinal(s);

        const records = readAudit(s.audit.file).records;
        assert.deepEqual(interruptedOperations(records), []);
        const unverifiedSteps = new Set<string>(prior.unverified.map((b) => (b === 1 ? 'flash-key' : 'secure-boot-key')));
        for (const phase of ['intent', 'done'] as const) {
          const rec = records.find((x) => x.phase === phase)!;
          assert.deepEqual(rec.keysNotVerified?.map((u) => [u.block, u.result, u.keyFingerprint]), prior.unverified.map((b) => [b, 'not verified', fingerprint(b === 1 ? s.flashKey : s.sbKey)]), phase);
          // A key taken on the user's word is not listed among the keys this run vouches for.
          for (const id of unverifiedSteps) assert.equal(rec.keyFingerprints?.[id], undefined, `${phase} ${id}`);
        }
        assert.match(records.find((x) => x.phase === 'done')!.message ?? '', /burned elsewhere, not verified/);
        assert.ok(records.every((x) => x.phase !== 'step-done' || !unverifiedSteps.has(x.step!)), 'no step-done line for a key this run did not burn');
        const log = fs.readFileSync(s.audit.file, 'utf8');
        for (const k of [s.flashKey, s.sbKey]) {
          assert.ok(!log.includes(Buffer.from(k).toString('hex')));
          assert.ok(!log.includes(Buffer.from(k).reverse().toString('hex')));
        }
        // A rerun has nothing to do with the flag, and still refuses without it: no record vouches for those keys.
        assert.equal(pendingSteps(planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true }))).length, 0);
        await assert.rejects(async () => planBurnKeys(await readEfuses(s.access), input(s)), /--keys-burned-elsewhere/);
      });
    }
  }

  it('with --hardening the hardening fuses are added and nothing else', async () => {
    const s = setup(PRIORS[0]!);
    const before = s.ctl.rawWords();
    const plan = planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true, hardening: true }));
    await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    assert.deepEqual(s.ctl.rawWords(), plannedWords(before, plan));
    assertFinal(s, true);
  });

  it('from a second workstation: our own run stopped after protecting the keys, a new key store finishes it with the flag', async () => {
    const s = setup({ name: 'fresh', make: (r) => r, unverified: [], burns: [] });
    // Workstation A: burns the keys and protects them, then the cable goes.
    const a = new AuditLog(path.join(path.dirname(s.audit.file), 'a', 'audit.jsonl'));
    let programmed = 0;
    const planA = planBurnKeys(await readEfuses(s.access), input(s, { history: [] }));
    const protectWords = pendingSteps(planA).slice(0, 3).reduce((n, st) => n + st.registers.filter((x) => x.block !== 0 || x.bitsSet! > 0).length, 0);
    s.ctl.onProgramWord = () => {
      if (++programmed > protectWords) throw new Error('cable pulled');
    };
    await assert.rejects(executeBurnKeys(s.access, planA, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: a }), /cable pulled/);
    s.ctl.onProgramWord = undefined;
    const mid = decodeEfuses(await readEfuses(s.access));
    assert.equal(mid.keyBlocks[1].status, 'protected');
    assert.equal(mid.keyBlocks[2].status, 'protected');
    assert.equal(mid.flashEncryptionEnabled, false);
    // Workstation B (its own, empty key store).
    await assert.rejects(async () => planBurnKeys(await readEfuses(s.access), input(s)), /--keys-burned-elsewhere/);
    const before = s.ctl.rawWords();
    const plan = planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true }));
    assert.deepEqual(pendingSteps(plan).map((x) => x.id), ['flash-crypt-config', 'flash-crypt-cnt', 'abs-done-0']);
    await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    assert.deepEqual(s.ctl.rawWords(), plannedWords(before, plan));
    assertFinal(s);
  });

  it('a block read-protected but still writable is refused even with the flag (it may be empty), nothing burned', async () => {
    for (const block of [1, 2] as const) {
      const s = setup({ name: 'half', make: (r, fk, sk, c) => set(espefuseBurnKey(r, block === 1 ? 2 : 1, block === 1 ? sk : fk, c), 'RD_DIS', 1 << (block - 1)), unverified: [], burns: [] });
      const before = s.ctl.rawWords();
      const e = await refusal(async () => planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true })));
      assert.equal(e.code, 'E_KEY_BLOCK_HALF_PROTECTED');
      assert.match(e.message, new RegExp(`^BLOCK${block} is read-protected but still writable .*; nothing was burned, and --keys-burned-elsewhere does not apply to it\\.$`));
      assert.deepEqual(s.ctl.rawWords(), before);
    }
  });

  it('the flag does not relax any other check: a readable block with a different key is still refused', async () => {
    const s = setup({ name: 'other key', make: (r, _fk, sk, c) => espefuseBurnKey(r, 2, sk, c), unverified: [], burns: [] });
    const raw = s.ctl.rawWords();
    raw[1] = keyFileToBlockWords(key(32, 9), { reverse: true, coding: 'none' });
    s.ctl.setRaw(raw);
    const e = await refusal(async () => planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true })));
    assert.equal(e.code, 'E_KEY_BLOCK_USED');
    assert.deepEqual(s.ctl.rawWords(), raw);
  });

  it('the flag on a board with readable blocks changes nothing but says so', async () => {
    const s = setup({ name: 'fresh', make: (r) => r, unverified: [], burns: [] });
    const plan = planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true }));
    assert.equal(plan.keysNotVerified, undefined);
    assert.equal(pendingSteps(plan).length, 6);
    assert.ok(plan.warnings.some((w) => /--keys-burned-elsewhere was given but no key block is read-protected/.test(w)));
  });
});

describe('Burn Keys: a key read back by an earlier plan is evidence after it was protected (campaign finding)', () => {
  it('a run that found both keys readable and was cut off after protecting them resumes without --keys-burned-elsewhere', async () => {
    // espefuse burn_key --no-protect-key (or our own run cut off before protecting): both keys readable.
    const s = setup({ name: 'readable', make: (r, fk, sk, c) => { const o = r.map((b) => [...b]); o[1] = keyFileToBlockWords(fk, { reverse: true, coding: c ? '3/4' : 'none' }); o[2] = keyFileToBlockWords(sk, { reverse: true, coding: c ? '3/4' : 'none' }); return o; }, unverified: [], burns: [] });
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    assert.deepEqual(plan.steps.filter((x) => x.keyFingerprint).map((x) => x.verifiedBy), ['readback', 'readback']);
    // The cable goes once the protect step is burned, before its step-done line.
    const cut = Object.assign(Object.create(s.audit) as AuditLog, {
      append(rec: Parameters<AuditLog['append']>[0]) {
        if (rec.phase === 'step-done' && rec.step === 'protect-keys') throw new Error('cable pulled');
        return s.audit.append(rec);
      },
    });
    await assert.rejects(executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: cut }), /cable pulled/);
    assert.equal(decodeEfuses(await readEfuses(s.access)).keyBlocks[1].status, 'protected');
    const again = planBurnKeys(await readEfuses(s.access), input(s));
    assert.deepEqual(again.steps.filter((x) => x.keyFingerprint).map((x) => x.verifiedBy), ['audit', 'audit']);
    assert.equal(again.keysNotVerified, undefined);
    await executeBurnKeys(s.access, again, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    assertFinal(s);
    assert.deepEqual(interruptedOperations(readAudit(s.audit.file).records), []);
  });

  it('an intent line of a run that took keys on the user\'s word is no evidence for them', async () => {
    const s = setup(PRIORS[0]!);
    const plan = planBurnKeys(await readEfuses(s.access), input(s, { keysBurnedElsewhere: true }));
    await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    await assert.rejects(async () => planBurnKeys(await readEfuses(s.access), input(s)), (e: Error & { code?: string }) => e.code === 'E_KEY_BLOCK_PROTECTED');
  });
});

describe('Burn Keys warns about inconsistent prior states (issue #12 E)', () => {
  const cases: { name: string; make: (r: EfuseWords, fk: Uint8Array, sk: Uint8Array) => EfuseWords; re: RegExp }[] = [
    { name: 'flash encryption on but BLOCK1 empty', make: (r) => set(r, 'FLASH_CRYPT_CNT', 1), re: /^Flash encryption is already on \(FLASH_CRYPT_CNT has an odd number of bits\) but BLOCK1 is empty: the chip decrypts flash with an all-zero key.*does not touch FLASH_CRYPT_CNT/ },
    { name: 'secure boot on but BLOCK2 empty', make: (r) => set(r, 'ABS_DONE_0', 1), re: /^Secure boot is already on \(ABS_DONE_0\) but BLOCK2 is empty: the ROM checks the bootloader digest at 0x0 against an all-zero key.*leaves ABS_DONE_0 on/ },
    { name: 'flash encryption on with the key readable', make: (r, fk) => { const o = set(r, 'FLASH_CRYPT_CNT', 1); o[1] = keyFileToBlockWords(fk, { reverse: true, coding: 'none' }); return o; }, re: /^Flash encryption is already on but BLOCK1 is not read-protected/ },
    { name: 'secure boot on with the key readable', make: (r, _fk, sk) => { const o = set(r, 'ABS_DONE_0', 1); o[2] = keyFileToBlockWords(sk, { reverse: true, coding: 'none' }); return o; }, re: /^Secure boot is already on but BLOCK2 is not read-protected/ },
    { name: 'flash encryption turned on and off again', make: (r) => set(r, 'FLASH_CRYPT_CNT', 0b11), re: /^Flash encryption was on before and turned off again \(FLASH_CRYPT_CNT has 2 bits set\)/ },
  ];
  for (const c of cases) {
    it(`${c.name}: the plan says what the state means and what Burn Keys does, and the burn reaches the final state`, async () => {
      const s = setup({ name: c.name, make: (r, fk, sk) => c.make(r, fk, sk), unverified: [], burns: [] });
      const before = s.ctl.rawWords();
      const plan = planBurnKeys(await readEfuses(s.access), input(s));
      const hits = plan.warnings.filter((w) => c.re.test(w));
      assert.equal(hits.length, 1, plan.warnings.join('\n'));
      assert.ok(renderPlan(plan).includes(`Warning: ${hits[0]}`));
      await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
      assert.deepEqual(s.ctl.rawWords(), plannedWords(before, plan));
      const dec = decodeEfuses({ words: s.ctl.readWords(), decStatus: s.ctl.decodeStatus });
      assert.equal(dec.keyBlocks[1].status, 'protected');
      assert.equal(dec.keyBlocks[2].status, 'protected');
      assert.equal(dec.flashEncryptionEnabled, true);
      assert.equal(dec.secureBootV1, true);
    });
  }

  it('a fresh board and a finished one get none of these warnings', async () => {
    const s = setup({ name: 'fresh', make: (r) => r, unverified: [], burns: [] });
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    assert.deepEqual(plan.warnings.filter((w) => /already on|turned off again/.test(w)), []);
    await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    const again = planBurnKeys(await readEfuses(s.access), input(s));
    assert.deepEqual(again.warnings.filter((w) => /already on|turned off again/.test(w)), []);
  });
});

const cli = (argv: string[]) => cliIn(argv, { joined: true });

describe('efuse burn-keys --keys-burned-elsewhere (the reproduction of issue #12 C, CLI on a served virtual GPy)', function () {
  this.timeout(60_000);
  it('keys burned with espefuse, then burn-keys with the same key files and a new key store: refused naming the flag, finished with it', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'elsewhere-cli-'));
    const fk = key(32, 3);
    const sk = key(32, 4);
    fs.writeFileSync(path.join(dir, 'fk.bin'), fk);
    fs.writeFileSync(path.join(dir, 'sbk.bin'), sk);
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'elsewhere-cli' });
    dev.efuse.setRaw(espefuseBurnKey(espefuseBurnKey(dev.efuse.rawWords(), 1, fk, 0), 2, sk, 0));
    const mac = Array.from(factoryMacBytes(dev.efuse.rawWords()), (b) => b.toString(16).padStart(2, '0')).join(':');
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const port = `socket://127.0.0.1:${server.port}`;
      const base = ['efuse', 'burn-keys', '--port', port, '--flash-key', path.join(dir, 'fk.bin'), '--secure-boot-key', path.join(dir, 'sbk.bin'), '--key-store', path.join(dir, 'new-store')];
      const before = dev.efuse.rawWords();
      const refused = await cli([...base, '--confirm', mac]);
      assert.equal(refused.code, 2);
      assert.match(refused.err, /BLOCK1 is already read-protected .* run again with --keys-burned-elsewhere/);
      assert.deepEqual(dev.efuse.rawWords(), before);
      const dry = await cli([...base, '--keys-burned-elsewhere', '--dry-run']);
      assert.equal(dry.code, 0, dry.err);
      assert.match(dry.out, /NOT VERIFIED: BLOCK1 \(key file fingerprint [^)]+\) and BLOCK2/);
      assert.match(dry.out, /3 steps will be burned/);
      assert.deepEqual(dev.efuse.rawWords(), before);
      const r = await cli([...base, '--keys-burned-elsewhere', '--confirm', mac]);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /Done: 3 step\(s\) burned and verified; both key blocks protected, the keys in BLOCK1 and BLOCK2 burned elsewhere and NOT verified against the key files, flash encryption and secure boot on/);
      const dec = dev.efuse;
      assert.equal(dec.rawField('ABS_DONE_0'), 1n);
      assert.equal(dec.rawField('FLASH_CRYPT_CNT'), 1n);
      assert.equal(dec.rawField('FLASH_CRYPT_CONFIG'), 0xfn);
      assert.deepEqual(dev.efuse.rawWords().slice(1), before.slice(1), 'key blocks untouched');
      const log = fs.readFileSync(path.join(dir, 'new-store', 'audit.jsonl'), 'utf8');
      assert.match(log, /"result":"not verified"/);
      for (const text of [refused.err, dry.out, r.out, log]) {
        for (const k of [fk, sk]) {
          assert.ok(!text.includes(Buffer.from(k).toString('hex')));
          assert.ok(!text.includes(Buffer.from(k).reverse().toString('hex')));
        }
      }
    } finally {
      await server.close();
    }
  });
});
