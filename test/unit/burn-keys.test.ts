import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EfuseController } from '../../src/core/virtual/efuse-controller';
import { emptyWords, field, fieldWords, macBytesToValue, macCrc8, withField, type EfuseWords } from '../../src/core/efuse/fields';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { decodeEfuses } from '../../src/core/efuse/decode';
import { planBurnKeys, type BurnKeysInput } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { renderPlan, pendingSteps } from '../../src/core/efuse/burn/plan';
import { AuditLog, interruptedOperations, readAudit } from '../../src/core/audit/audit-log';
import { HARDENING_FIELDS, hardeningHelp, hardeningLines } from '../../src/core/efuse/burn/hardening';
import { keyFileToReadWords } from '../../src/core/crypto/efuse-key-layout';
import { isUserError } from '../../src/core/errors';

const MAC = '24:0a:c4:12:34:56';

export function freshRaw(coding = 0, mac = MAC): EfuseWords {
  const bytes = Buffer.from(mac.replace(/:/g, ''), 'hex');
  let w = emptyWords();
  w = withField(w, field('MAC'), macBytesToValue(bytes));
  w = withField(w, field('MAC_CRC'), macCrc8(bytes));
  w = withField(w, field('CHIP_VER_REV1'), 1);
  if (coding) w = withField(w, field('CODING_SCHEME'), coding);
  return w;
}

function key(len: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: len }, (_, i) => (i * 7 + seed * 31 + 1) & 0xff);
}

function setup(coding = 0) {
  const ctl = new EfuseController({ raw: freshRaw(coding) });
  const access = directAccess(ctl);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'burn-'));
  const audit = new AuditLog(path.join(dir, 'audit.jsonl'));
  const len = coding === 1 ? 24 : 32;
  return { ctl, access, audit, dir, flashKey: key(len, 1), sbKey: key(len, 2) };
}

function input(s: ReturnType<typeof setup>, over: Partial<BurnKeysInput> = {}): BurnKeysInput {
  return { target: { chip: 'ESP32', revision: 1, mac: MAC }, flashKey: s.flashKey, secureBootKey: s.sbKey, hardening: false, history: readAudit(s.audit.file).records, ...over };
}

async function burn(s: ReturnType<typeof setup>, over: Partial<BurnKeysInput> = {}) {
  const plan = planBurnKeys(await readEfuses(s.access), input(s, over));
  return executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
}

/** The final state every successful run must reach, checked on the physical bits. */
function assertFinal(s: ReturnType<typeof setup>, coding = 0, hardening = false): void {
  const raw = s.ctl.rawWords();
  const layout = { reverse: true, coding: coding === 1 ? '3/4' : 'none' } as const;
  const n = coding === 1 ? 6 : 8;
  const data = (b: number) => (coding === 1 ? decodeRaw34(raw[b]!) : raw[b]!.slice(0, n));
  assert.deepEqual(data(1), keyFileToReadWords(s.flashKey, layout));
  assert.deepEqual(data(2), keyFileToReadWords(s.sbKey, layout));
  assert.equal(s.ctl.decodeStatus, 0);
  const dec = decodeEfuses({ words: s.ctl.readWords(), decStatus: s.ctl.decodeStatus });
  assert.equal(dec.keyBlocks[1].status, 'protected');
  assert.equal(dec.keyBlocks[2].status, 'protected');
  assert.equal(dec.keyBlocks[1].writeable, false);
  assert.equal(dec.keyBlocks[2].writeable, false);
  assert.equal(dec.flashEncryptionEnabled, true);
  assert.equal(dec.flashCryptCnt, 1);
  assert.equal(dec.flashCryptConfig, 0xf);
  assert.equal(dec.secureBootV1, true);
  for (const n of ['DISABLE_DL_ENCRYPT', 'DISABLE_DL_DECRYPT', 'DISABLE_DL_CACHE', 'JTAG_DISABLE']) {
    assert.equal(s.ctl.rawField(n), hardening ? 1n : 0n, n);
  }
}

function decodeRaw34(words: number[]): number[] {
  const b = Buffer.alloc(32);
  words.forEach((w, i) => b.writeUInt32LE(w >>> 0, 4 * i));
  const d = Buffer.concat([0, 1, 2, 3].map((g) => b.subarray(8 * g, 8 * g + 6)));
  return Array.from({ length: 6 }, (_, i) => d.readUInt32LE(4 * i));
}

async function rejects(p: Promise<unknown> | (() => unknown), code: string, re?: RegExp): Promise<void> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return;
  }
  assert.fail(`expected ${code}`);
}

describe('burn keys', () => {
  it('burns the whole Pycom sequence on a fresh board and ends protected, encrypted, secure-boot on', async () => {
    const s = setup();
    const r = await burn(s);
    assert.deepEqual(r.burned, ['flash-key', 'secure-boot-key', 'protect-keys', 'flash-crypt-config', 'flash-crypt-cnt', 'abs-done-0']);
    assertFinal(s);
    // BLOCK0 word 0 as espefuse leaves it after both burn_key calls + FLASH_CRYPT_CNT 1 (espefuse
    // burn_key with protection).
    assert.equal(s.ctl.rawWords()[0]![0], 0x00130180);
  });

  it('with --hardening also disables download-mode crypto and JTAG', async () => {
    const s = setup();
    await burn(s, { hardening: true });
    assertFinal(s, 0, true);
  });

  it('takes the 3/4 coding path with 192-bit keys', async () => {
    const s = setup(1);
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    assert.match(plan.codingScheme, /3\/4/);
    await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    assertFinal(s, 1);
  });

  it('a dry run (plan only) changes nothing and the plan text shows every step as permanent without key bytes', async () => {
    const s = setup();
    const before = s.ctl.rawWords();
    const plan = planBurnKeys(await readEfuses(s.access), input(s, { hardening: true }));
    const text = renderPlan(plan);
    assert.deepEqual(s.ctl.rawWords(), before);
    assert.equal(pendingSteps(plan).length, 7);
    assert.match(text, /PERMANENT, cannot be undone/);
    assert.match(text, /BLOCK0 word 0 \(WDATA 0x3ff5a01c\): 0x00000000 -> 0x00030180/);
    for (const k of [s.flashKey, s.sbKey]) {
      assert.ok(!text.includes(Buffer.from(k).toString('hex')));
      assert.ok(!JSON.stringify(plan).includes(Buffer.from(k).toString('hex')));
    }
  });

  it('burns nothing without a confirmation that repeats the MAC', async () => {
    const s = setup();
    const before = s.ctl.rawWords();
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    await rejects(executeBurnKeys(s.access, plan, { confirmMac: undefined, flashKey: s.flashKey, secureBootKey: s.sbKey }), 'E_NOT_CONFIRMED');
    await rejects(executeBurnKeys(s.access, plan, { confirmMac: '24:0a:c4:00:00:00', flashKey: s.flashKey, secureBootKey: s.sbKey }), 'E_NOT_CONFIRMED');
    assert.deepEqual(s.ctl.rawWords(), before);
  });

  it('running it again on a finished board burns nothing', async () => {
    const s = setup();
    await burn(s);
    const before = s.ctl.rawWords();
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    assert.equal(pendingSteps(plan).length, 0);
    assert.ok(plan.steps.filter((x) => x.keyFingerprint).every((x) => x.verifiedBy === 'audit'));
    assert.deepEqual(s.ctl.rawWords(), before);
  });

  describe('refusals (each with its reason, nothing burned)', () => {
    const cases: { name: string; code: string; re: RegExp; prepare?: (s: ReturnType<typeof setup>) => void; over?: (s: ReturnType<typeof setup>) => Partial<BurnKeysInput> }[] = [
      { name: 'BLOCK1 holds a different key', code: 'E_KEY_BLOCK_USED', re: /BLOCK1 already holds a different key/, prepare: (s) => burnRaw(s, 1, key(32, 9)) },
      { name: 'BLOCK2 holds a different key', code: 'E_KEY_BLOCK_USED', re: /BLOCK2 already holds/, prepare: (s) => burnRaw(s, 2, key(32, 9)) },
      { name: 'BLOCK1 already read- and write-protected (as espefuse leaves a key), no record: the refusal names --keys-burned-elsewhere', code: 'E_KEY_BLOCK_PROTECTED', re: /BLOCK1 is already read-protected .*run again with --keys-burned-elsewhere/, prepare: (s) => { setBlock0(s, 'RD_DIS', 1); setBlock0(s, 'WR_DIS', 1 << 7); } },
      { name: 'BLOCK1 read-protected but still writable', code: 'E_KEY_BLOCK_HALF_PROTECTED', re: /BLOCK1 is read-protected but still writable/, prepare: (s) => setBlock0(s, 'RD_DIS', 1) },
      { name: 'BLOCK2 write-protected while empty', code: 'E_KEY_BLOCK_PROTECTED', re: /BLOCK2 is write-protected/, prepare: (s) => setBlock0(s, 'WR_DIS', 1 << 8) },
      { name: 'no flash-encryption key (encryption would use a key nobody knows)', code: 'E_NO_FLASH_KEY', re: /without a flash-encryption key in BLOCK1/, over: () => ({ flashKey: undefined }) },
      { name: 'no secure boot key', code: 'E_NO_SECURE_BOOT_KEY', re: /secure boot without a secure boot key in BLOCK2/, over: () => ({ secureBootKey: undefined }) },
      { name: 'key file of the wrong length', code: 'E_KEY_LENGTH', re: /holds 16 bytes/, over: () => ({ flashKey: key(16, 3) }) },
      { name: '24-byte key on a chip with coding scheme None', code: 'E_KEY_LENGTH', re: /needs 32/, over: () => ({ secureBootKey: key(24, 3) }) },
      { name: 'the public key given as secure boot key', code: 'E_KEY_IS_PUBLIC', re: /public key/, over: () => ({ secureBootKey: key(64, 3) }) },
      { name: 'malformed key (all zeros)', code: 'E_KEY_MALFORMED', re: /identical bytes/, over: () => ({ flashKey: new Uint8Array(32) }) },
      { name: 'the same file for both keys', code: 'E_SAME_KEY', re: /same bytes/, over: (s) => ({ secureBootKey: s.flashKey }) },
      { name: 'not an ESP32', code: 'E_CHIP', re: /not an original ESP32/, over: () => ({ target: { chip: 'ESP32-S2', revision: 0, mac: MAC } }) },
      { name: 'unsupported revision', code: 'E_CHIP_REVISION', re: /revision 7/, over: () => ({ target: { chip: 'ESP32', revision: 7, mac: MAC } }) },
      { name: 'ABS_DONE_0 write-protected', code: 'E_FIELD_PROTECTED', re: /ABS_DONE_0 is write-protected/, prepare: (s) => setBlock0(s, 'WR_DIS', 1 << 12) },
    ];
    for (const c of cases) {
      it(c.name, async () => {
        const s = setup();
        c.prepare?.(s);
        const before = s.ctl.rawWords();
        await rejects(async () => {
          const plan = planBurnKeys(await readEfuses(s.access), input(s, c.over?.(s)));
          await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
        }, c.code, c.re);
        assert.deepEqual(s.ctl.rawWords(), before);
        assert.equal(readAudit(s.audit.file).records.length, 0);
      });
    }
  });

  it('a cancel between steps stops before the next step, leaves the run open like an interruption, and a rerun resumes it', async () => {
    const s = setup();
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    const ac = new AbortController();
    const started: string[] = [];
    // The user cancels while the first step burns: it finishes (and is verified), nothing after it starts.
    const onProgress = (m: string) => {
      if (m.startsWith('Burning:')) {
        started.push(m);
        ac.abort();
      }
    };
    await rejects(executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit, signal: ac.signal, onProgress }),
      'E_CANCELLED', /1 of 6 step\(s\) burned and verified[\s\S]*run Burn Keys again to resume/);
    assert.equal(started.length, 1);
    const dec = decodeEfuses(await readEfuses(s.access));
    assert.equal(dec.keyBlocks[1].status, 'data', 'the first key is burned');
    assert.equal(dec.keyBlocks[2].status, 'empty', 'the second step never started');
    const records = readAudit(s.audit.file).records;
    assert.deepEqual(records.map((r) => `${r.phase}${r.step ? `:${r.step}` : ''}${r.result ? `:${r.result}` : ''}`), ['intent', 'step-intent:flash-key', 'step-done:flash-key:verified', 'failed:interrupted']);
    assert.equal(interruptedOperations(records, MAC).length, 1, 'the intent line stays open');
    const resumed = planBurnKeys(await readEfuses(s.access), input(s));
    assert.equal(resumed.resumes?.id, records[0]!.id);
    assert.deepEqual(resumed.resumes?.stepsDone, ['flash-key']);
    const r = await executeBurnKeys(s.access, resumed, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
    assert.deepEqual(r.closed, [records[0]!.id]);
    assertFinal(s);
  });

  it('an abort before the first step burns nothing', async () => {
    const s = setup();
    const before = s.ctl.rawWords();
    const plan = planBurnKeys(await readEfuses(s.access), input(s));
    await rejects(executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit, signal: AbortSignal.abort() }), 'E_CANCELLED', /0 of 6/);
    assert.deepEqual(s.ctl.rawWords(), before);
  });

  it('the hardening fuses are explained in one place: the CLI help and the plan step say the same', async () => {
    const s = setup();
    const plan = planBurnKeys(await readEfuses(s.access), input(s, { hardening: true }));
    const step = plan.steps.find((x) => x.id === 'hardening')!;
    assert.deepEqual(step.protections, hardeningLines());
    for (const line of hardeningLines()) {
      assert.ok(renderPlan(plan).includes(line), line);
      assert.ok(hardeningHelp().includes(line), line);
    }
    assert.deepEqual(step.fields.map((f) => f.name), [...HARDENING_FIELDS]);
  });

  it('resumes after power loss at every programmed word and ends in the correct state (None and 3/4)', async () => {
    for (const coding of [0, 1]) {
      // Count the words a full run programs.
      const probe = setup(coding);
      let total = 0;
      probe.ctl.onProgramWord = () => void total++;
      await burn(probe, { hardening: true });
      assert.ok(total > 10);
      for (let n = 1; n <= total; n++) {
        const s = setup(coding);
        let count = 0;
        s.ctl.onProgramWord = () => {
          if (++count === n) throw new Error('power lost');
        };
        await assert.rejects(burn(s, { hardening: true }), /power lost/);
        s.ctl.onProgramWord = undefined;
        s.ctl.reset();
        const plan = planBurnKeys(await readEfuses(s.access), input(s, { hardening: true }));
        assert.ok(plan.resumes, `step ${n}: the resume names the interrupted run`);
        assert.match(renderPlan(plan), /finishes an interrupted run/);
        await executeBurnKeys(s.access, plan, { confirmMac: MAC, flashKey: s.flashKey, secureBootKey: s.sbKey, audit: s.audit });
        assertFinal(s, coding, true);
        // Nothing is left open: a further run finds nothing to do and no interrupted run.
        const again = planBurnKeys(await readEfuses(s.access), input(s, { hardening: true }));
        assert.equal(pendingSteps(again).length, 0, `coding ${coding} step ${n}`);
        assert.equal(again.resumes, undefined);
      }
    }
  });
});

function burnRaw(s: ReturnType<typeof setup>, block: number, k: Uint8Array): void {
  const raw = s.ctl.rawWords();
  raw[block] = keyFileToReadWords(k, { reverse: true, coding: 'none' });
  s.ctl.setRaw(raw);
}

function setBlock0(s: ReturnType<typeof setup>, name: string, value: number): void {
  const raw = s.ctl.rawWords();
  const w = fieldWords(field(name), value);
  raw[0] = raw[0]!.map((x, i) => (x | w[i]!) >>> 0);
  s.ctl.setRaw(raw);
}

describe('Burn Keys plan: nothing about the key but its fingerprint', () => {
  it('key-block words carry no count of bits set, in the plan, its text or the audit record', () => {
    const plan = planBurnKeys({ words: freshRaw(), decStatus: 0 }, { target: { chip: 'ESP32', revision: 1, mac: MAC }, flashKey: key(32, 7), secureBootKey: key(32, 8), hardening: false, history: [] });
    const keyRegs = plan.steps.flatMap((s) => s.registers).filter((r) => r.block !== 0);
    assert.ok(keyRegs.length >= 8);
    assert.ok(keyRegs.every((r) => r.bitsSet === undefined), 'no popcount of a key word');
    assert.ok(!/key bits/.test(renderPlan(plan)));
    assert.match(renderPlan(plan), /a key word \(its bits are not shown\)/);
    assert.ok(!/"bitsSet":\d+,?[^}]*"block":[12]|"block":[12][^}]*"bitsSet"/.test(JSON.stringify(plan)));
  });
});
