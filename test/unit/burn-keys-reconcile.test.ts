import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { EfuseController } from '../../src/core/virtual/efuse-controller';
import { factoryProfile } from '../../src/core/virtual/profiles';
import { factoryMacBytes } from '../../src/core/efuse/fields';
import { classifyDataAddr } from '../../src/core/efuse/registers';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { pendingSteps, renderPlan } from '../../src/core/efuse/burn/plan';
import { AuditLog, readAudit } from '../../src/core/audit/audit-log';
import { fixtureKeys } from '../../scripts/make-fixture-firmware';

const KEYS = fixtureKeys();

/**
 * Issue 18 point 6: Burn Keys reconciles its audit record with the chip. A step the record lists as
 * burned and verified on this MAC but absent on the chip (a virtual board that lost its eFuses,
 * another board with the same MAC) is said plainly in the plan, never burned as if it were new.
 */
describe('Burn Keys: the audit record reconciled with the chip', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'reconcile-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const board = () => {
    const ctl = new EfuseController({ raw: factoryProfile('GPY', 'reconcile', 'none').efuse });
    const mac = Array.from(factoryMacBytes(ctl.rawWords()), (b) => b.toString(16).padStart(2, '0')).join(':');
    return { ctl, access: directAccess(ctl), mac };
  };

  it('every step recorded as verified but missing from the chip (a board that forgot its burns): a warning naming them, before anything is asked', async () => {
    const audit = new AuditLog(path.join(dir, 'audit.jsonl'));
    const first = board();
    const input = (mac: string) => ({ target: { chip: 'ESP32', revision: 1, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: readAudit(audit.file).records });
    await executeBurnKeys(first.access, planBurnKeys(await readEfuses(first.access), input(first.mac)), { confirmMac: first.mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit });
    // The same MAC, factory-fresh eFuses: the board lost what the record says was burned.
    const again = board();
    const plan = planBurnKeys(await readEfuses(again.access), input(again.mac));
    const pending = pendingSteps(plan).map((s) => s.id);
    assert.deepEqual(plan.missingFromChip?.map((m) => m.step), pending);
    assert.match(plan.warnings[0]!, new RegExp(`^The audit log records "flash-key" \\(run \\S+, [^)]+\\), .* as burned and verified on ${again.mac}, but the chip does not have them: this is another board with the same MAC, or this board's eFuses were not kept \\(a virtual board started without its state file\\); the plan burns them again only if you confirm, so check which board this is first\\.$`));
    assert.match(renderPlan(plan), /Warning: The audit log records/);
  });

  it('an interrupted run resumed on a chip without its verified steps: the plan does not say they are "verified, not burned again"', async () => {
    const audit = new AuditLog(path.join(dir, 'audit.jsonl'));
    const first = board();
    const input = (mac: string) => ({ target: { chip: 'ESP32', revision: 1, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: readAudit(audit.file).records });
    // Power goes at the first eFuse word after a step was verified: the flash key (step 1) is burned and verified.
    const stepDone = () => readAudit(audit.file).records.some((r) => r.phase === 'step-done');
    const dying = { readReg: (a: number) => first.access.readReg(a), writeReg: (a: number, v: number) => (classifyDataAddr(a)?.kind === 'wdata' && stepDone() ? Promise.reject(new Error('power lost')) : first.access.writeReg(a, v)) };
    await assert.rejects(executeBurnKeys(dying, planBurnKeys(await readEfuses(first.access), input(first.mac)), { confirmMac: first.mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit }), /power lost/);
    const done = readAudit(audit.file).records.filter((r) => r.phase === 'step-done').map((r) => r.step);
    assert.ok(done.length >= 1, 'at least one step was verified before the power went');
    const again = board();
    const plan = planBurnKeys(await readEfuses(again.access), input(again.mac));
    assert.ok(plan.resumes);
    const text = renderPlan(plan);
    assert.doesNotMatch(text, /steps already done are verified, not burned again/);
    assert.match(text, new RegExp(`${done.join(', ')} (is|are) recorded as done but NOT on the chip \\(see the warning\\)`));
    // On the board that has them, the same record reads as before.
    const resumed = planBurnKeys(await readEfuses(first.access), input(first.mac));
    assert.equal(resumed.missingFromChip, undefined);
    assert.match(renderPlan(resumed), /steps already done are verified, not burned again/);
  });
});
