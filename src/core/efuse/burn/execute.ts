import { UserError } from '../../errors';
import { AuditLog, assertNoKeyBytes, interruptedOperations, newOperationId, type AuditRecord } from '../../audit/audit-log';
import { normaliseMac } from '../../keystore/key-store';
import { isInFlight, markInFlight } from '../../keystore/lock';
import { readEfuses, type EfuseRegisterAccess } from '../access';
import { blockDataBytes } from '../coding';
import { decodeEfuses, isThreeFour, type DecodedEfuses } from '../decode';
import { burnBlock, type EngineOptions } from './engine';
import { pendingSteps, type BurnPlan, type UnverifiedKey } from './plan';
import { HARDENING_FIELDS, STEP, keyRegisterBytes, redactState } from './burn-keys';

/**
 * Carries out a Burn Keys plan: confirm → for each pending step, record the intent, burn,
 * verify, record the result → verify the final state → record done. The audit lines are
 * fsync'ed before and after each step, so an interruption leaves a trace the next run uses.
 */
export interface ExecuteOptions {
  /** Must repeat the plan's MAC: the user's proof they mean this board. */
  confirmMac: string | undefined;
  flashKey: Uint8Array;
  secureBootKey: Uint8Array;
  audit?: AuditLog;
  revision?: string;
  engine?: EngineOptions;
  onProgress?(message: string): void;
  /**
   * Checked only between steps (never inside one, which would leave a block half-burned): once
   * aborted, no further step starts and the run ends as an interruption does (intent line open,
   * a `failed`/`interrupted` line), so running Burn Keys again resumes it.
   */
  signal?: AbortSignal;
  /**
   * The id of the board record (a provision run) this burn is part of: written on the run's intent
   * line (`within`), so the record takes this run's steps in even when it was cut off before it
   * could name the run itself.
   */
  within?: string;
}

export interface ExecuteResult {
  id: string;
  burned: string[];
  after: DecodedEfuses;
  /** Earlier interrupted runs of this MAC whose every step this run verified on the chip: now closed (oldest first). */
  closed: string[];
  /** Earlier interrupted runs left open because some step of theirs could not be verified, and why. */
  leftOpen: { id: string; reason: string }[];
  /** Key blocks taken on the user's word (--keys-burned-elsewhere): the final state did NOT verify their keys. */
  keysNotVerified: UnverifiedKey[];
}

/** The refusal for a burn the user did not confirm: `confirmMac` is what was typed (undefined: nothing). */
export function notConfirmedError(plan: BurnPlan, confirmMac: string | undefined): UserError {
  return new UserError('E_NOT_CONFIRMED', `Nothing was burned: confirm by repeating the MAC of the connected board (--confirm ${plan.mac}); ${confirmMac === undefined ? 'no confirmation was given' : `"${confirmMac}" does not match`}.`);
}

export function checkConfirmation(plan: BurnPlan, confirmMac: string | undefined): void {
  let given: string | undefined;
  try {
    given = confirmMac === undefined ? undefined : normaliseMac(confirmMac);
  } catch {
    given = undefined;
  }
  if (given !== plan.mac) throw notConfirmedError(plan, confirmMac);
}

function verifyStep(stepId: string, dec: DecodedEfuses, o: ExecuteOptions): void {
  const threeFour = isThreeFour(dec.codingScheme);
  const keyCheck = (block: 1 | 2, key: Uint8Array): void => {
    const got = blockDataBytes(dec.words[block]!, threeFour);
    if (!got.equals(keyRegisterBytes(key))) {
      throw new UserError('E_KEY_READBACK', `BLOCK${block} does not read back as the key that was burned; it was NOT protected and nothing further was burned. Keep the board and the audit log and check it with \`efuse summary\`.`);
    }
  };
  if (stepId === STEP.flashKey) keyCheck(1, o.flashKey);
  if (stepId === STEP.secureBootKey) keyCheck(2, o.secureBootKey);
  if (stepId === STEP.protectKeys) {
    for (const b of [1, 2] as const) {
      const k = dec.keyBlocks[b];
      if (k.readable || k.writeable || dec.words[b]!.some((w) => w !== 0)) {
        throw new UserError('E_PROTECT_FAILED', `BLOCK${b} is not both read- and write-protected after the burn; stop and check the board with \`efuse summary\`.`);
      }
    }
  }
}

function finalChecks(dec: DecodedEfuses, plan: BurnPlan): string[] {
  const problems: string[] = [];
  if (dec.keyBlocks[1].status !== 'protected' || dec.keyBlocks[1].writeable) problems.push('BLOCK1 is not protected');
  if (dec.keyBlocks[2].status !== 'protected' || dec.keyBlocks[2].writeable) problems.push('BLOCK2 is not protected');
  if (!dec.flashEncryptionEnabled) problems.push('flash encryption is not on');
  if (dec.flashCryptConfig !== 0xf) problems.push('FLASH_CRYPT_CONFIG is not 0xF');
  if (!dec.secureBootV1) problems.push('ABS_DONE_0 is not set');
  if (plan.steps.some((s) => s.id === STEP.hardening)) {
    for (const n of HARDENING_FIELDS) if (dec.fields.find((f) => f.field.name === n)?.raw !== 1n) problems.push(`${n} is not set`);
  }
  return problems;
}

export async function executeBurnKeys(access: EfuseRegisterAccess, plan: BurnPlan, o: ExecuteOptions): Promise<ExecuteResult> {
  checkConfirmation(plan, o.confirmMac);
  const keys = [o.flashKey, o.secureBootKey];
  // Only keys this run can vouch for are listed as the board's; keys burned elsewhere go to keysNotVerified.
  const fps: Record<string, string> = {};
  for (const s of plan.steps) if (s.keyFingerprint && s.verifiedBy !== 'not-verified') fps[s.id] = s.keyFingerprint;
  const keysNotVerified = plan.keysNotVerified ?? [];
  const unverifiedField = keysNotVerified.length ? { keysNotVerified: keysNotVerified.map((u) => ({ ...u })) } : {};
  const id = newOperationId();
  const log = (rec: Parameters<AuditLog['append']>[0]): void => {
    if (!o.audit) return;
    assertNoKeyBytes(rec, keys);
    o.audit.append(rec);
  };
  const common = { id, operation: plan.operation, mac: plan.mac, revision: o.revision ?? plan.revision, keyFingerprints: fps };
  // Another task of this process (several boards at once on one store) never takes this run for an interrupted one.
  const ended = o.audit ? markInFlight(o.audit.file, id) : () => undefined;
  try {
    return await executeMarked(access, plan, o, { id, common, unverifiedField, keysNotVerified, log });
  } finally {
    ended();
  }
}

async function executeMarked(access: EfuseRegisterAccess, plan: BurnPlan, o: ExecuteOptions, r: {
  id: string; common: { id: string; operation: string; mac: string; revision: string; keyFingerprints: Record<string, string> };
  unverifiedField: { keysNotVerified?: UnverifiedKey[] }; keysNotVerified: UnverifiedKey[]; log: (rec: Parameters<AuditLog['append']>[0]) => void;
}): Promise<ExecuteResult> {
  const { id, common, unverifiedField, keysNotVerified, log } = r;
  const before = decodeEfuses(await readEfuses(access));
  log({ ...common, ...unverifiedField, phase: 'intent', plan, efuseBefore: redactState(before), ...(o.within ? { within: o.within } : {}), ...(plan.resumes ? { message: `resumes interrupted run ${plan.resumes.id}` } : {}) });
  const burned: string[] = [];
  try {
    const pending = pendingSteps(plan);
    for (const step of pending) {
      if (o.signal?.aborted) {
        throw new UserError('E_CANCELLED', `Burn Keys was cancelled before "${step.title}": ${burned.length} of ${pending.length} step(s) burned and verified, the rest untouched. The audit log keeps run ${id} open; run Burn Keys again to resume from here.`);
      }
      o.onProgress?.(`Burning: ${step.title}...`);
      const stepBefore = decodeEfuses(await readEfuses(access));
      log({ ...common, phase: 'step-intent', step: step.id, efuseBefore: redactState(stepBefore) });
      await burnBlock(access, step.burn!(), { ...o.engine, onProgress: o.onProgress });
      const after = decodeEfuses(await readEfuses(access));
      verifyStep(step.id, after, o);
      log({ ...common, phase: 'step-done', step: step.id, efuseAfter: redactState(after), result: 'verified' });
      burned.push(step.id);
    }
    const after = decodeEfuses(await readEfuses(access));
    const problems = finalChecks(after, plan);
    if (problems.length) throw new UserError('E_FINAL_STATE', `After the burn ${problems.join(', ')}; keep the board and the audit log and check it with \`efuse summary\`.`);
    // The final checks cover protection and flags only: they never read a key, so they vouch for none burned elsewhere.
    log({ ...common, ...unverifiedField, phase: 'done', efuseAfter: redactState(after), result: 'ok', ...(keysNotVerified.length ? { message: `final state reached; key${keysNotVerified.length === 1 ? '' : 's'} in ${keysNotVerified.map((u) => `BLOCK${u.block}`).join(' and ')} burned elsewhere, not verified` } : {}) });
    const { closed, leftOpen } = closeEarlierRuns(plan, id, o.audit, log, common);
    return { id, burned, after, closed, leftOpen, keysNotVerified };
  } catch (e) {
    // The device may be gone (power, cable): the record says so; the next run resumes from the state.
    const msg = e instanceof Error ? e.message : String(e);
    try {
      log({ ...common, phase: 'failed', result: 'interrupted', message: msg });
    } catch {
      /* the original error matters more */
    }
    throw e;
  }
}

/** The steps an interrupted run set out to burn, from its intent line's plan (with the key each one carried). */
function intendedSteps(intent: AuditRecord): { id: string; keyFingerprint?: string }[] | undefined {
  const steps = (intent.plan as { steps?: unknown } | undefined)?.steps;
  if (!Array.isArray(steps)) return undefined;
  const out: { id: string; keyFingerprint?: string }[] = [];
  for (const s of steps as { id?: unknown; keyFingerprint?: unknown; verifiedBy?: unknown }[]) {
    if (typeof s?.id !== 'string') return undefined;
    // A key that run took on the user's word was never its to burn or verify: nothing to vouch for.
    if (s.verifiedBy === 'not-verified') continue;
    const fp = typeof s.keyFingerprint === 'string' ? s.keyFingerprint : intent.keyFingerprints?.[s.id];
    out.push(fp ? { id: s.id, keyFingerprint: fp } : { id: s.id });
  }
  return out;
}

/**
 * Called once this run has verified the final state: every step of `plan` is on the chip (burned
 * and read back now, or read back / audit-verified before). Any earlier run of this operation on
 * this MAC that wrote an intent but no done line (it may be several: the first run and the user's
 * rerun can both be cut off) is closed when each step it planned is one of those verified steps,
 * with the same key; the closing line says which later run closed it. A run with a step this run
 * cannot vouch for (another key, or hardening this run did not ask for) stays open and is returned.
 */
function closeEarlierRuns(plan: BurnPlan, id: string, audit: AuditLog | undefined, log: (rec: Parameters<AuditLog['append']>[0]) => void, common: { mac: string; operation: string; revision: string }): Pick<ExecuteResult, 'closed' | 'leftOpen'> {
  const closed: string[] = [];
  const leftOpen: ExecuteResult['leftOpen'] = [];
  if (!audit) return { closed, leftOpen };
  // A key taken on the user's word (not-verified) cannot vouch for an earlier run's key step.
  const verified = new Map(plan.steps.filter((s) => s.verifiedBy !== 'not-verified').map((s) => [s.id, s.keyFingerprint]));
  const open = interruptedOperations(audit.read().records.filter((r) => r.operation === plan.operation), plan.mac).filter((r) => r.id !== id && !isInFlight(audit.file, r.id));
  for (const r of open) {
    const steps = intendedSteps(r);
    const unverified = steps === undefined ? ['(its intent line holds no readable plan)'] : steps.filter((s) => !verified.has(s.id) || (s.keyFingerprint !== undefined && verified.get(s.id) !== s.keyFingerprint)).map((s) => s.id);
    if (unverified.length) {
      leftOpen.push({ id: r.id, reason: `step(s) ${unverified.join(', ')} of run ${r.id} could not be verified on the chip by run ${id}; its intent stays open` });
      continue;
    }
    log({ ...common, id: r.id, keyFingerprints: r.keyFingerprints ?? {}, phase: 'done', result: 'ok', message: `closed by later run ${id}: every step it planned (${steps!.map((s) => s.id).join(', ')}) verified on the chip` });
    closed.push(r.id);
  }
  return { closed, leftOpen };
}

/**
 * A run cut off after its last burn but before its done line leaves every step on the board and
 * an open intent in the audit log. Re-running finds nothing to burn, so without this the record
 * would stay open for ever (and every later plan would say it "finishes an interrupted run").
 * This verifies the final state and writes the done lines; it burns nothing, so it needs no
 * confirmation. Returns undefined when there is no such run to close.
 */
export async function closeInterruptedRun(access: EfuseRegisterAccess, plan: BurnPlan, o: Omit<ExecuteOptions, 'confirmMac'>): Promise<ExecuteResult | undefined> {
  if (!plan.resumes || pendingSteps(plan).length > 0) return undefined;
  return executeBurnKeys(access, plan, { ...o, confirmMac: plan.mac });
}
