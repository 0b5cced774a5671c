import { wdataAddr } from '../registers';
import type { EfuseBlock } from '../fields';
import type { BlockBurn } from './engine';

/**
 * A burn plan: what the board holds now, exactly which register bits each step sets, which
 * protections follow, and that none of it can be undone. The user sees this before anything is
 * burned; the audit log records it. It never holds key bytes (key steps carry a fingerprint; the
 * words to program live in a closure that JSON.stringify skips).
 */
export interface RegisterChange {
  block: EfuseBlock;
  word: number;
  /** WDATA register the bits are programmed through. */
  address: number;
  /** For BLOCK0: the word before and after. Omitted for key blocks (secret). */
  before?: number;
  after?: number;
  /**
   * Number of bits this step sets in the word: BLOCK0 only. Omitted for key blocks: how many bits
   * a key word has set is itself something about the key, so neither the plan nor the audit log
   * says it.
   */
  bitsSet?: number;
}

export interface FieldChange {
  name: string;
  from: string;
  to: string;
}

/** A key block the plan trusts without evidence; the fingerprint is of the key file the user gave. */
export interface UnverifiedKey {
  step: string;
  block: 1 | 2;
  keyFingerprint: string;
  /** Always 'not verified': kept as text so the audit log says it in words. */
  result: 'not verified';
  reason: string;
}

export type StepStatus = 'pending' | 'done';

export interface PlanStep {
  id: string;
  title: string;
  /** Why the step exists and what it changes on the board, in a sentence. */
  effect: string;
  block: EfuseBlock;
  fields: FieldChange[];
  registers: RegisterChange[];
  /** Protections that follow from this step (fields frozen or hidden from then on). */
  protections: string[];
  /** Every eFuse step is permanent; kept explicit so the renderer and the editor say so. */
  irreversible: true;
  status: StepStatus;
  /**
   * How a done step was confirmed: read back now, or by an earlier verified audit record; or
   * `not-verified`: a key block that was read-protected before any run of this key store (espefuse,
   * another workstation) and taken as done only because the user said so (--keys-burned-elsewhere).
   */
  verifiedBy?: 'readback' | 'audit' | 'not-verified';
  keyFingerprint?: string;
  /** The engine input; a function so the plan serialises without key material. */
  burn?: () => BlockBurn;
}

export interface BurnPlan {
  operation: string;
  mac: string;
  revision: string;
  codingScheme: string;
  /** Summary of the state before (BLOCK0 words; key blocks as status only). */
  before: unknown;
  steps: PlanStep[];
  warnings: string[];
  /**
   * Key blocks taken as already holding the given key without any check (--keys-burned-elsewhere):
   * read-protected blocks read as zeros, so nothing can compare them with the key file. Empty or
   * absent when every key was read back or has a verified audit record.
   */
  keysNotVerified?: UnverifiedKey[];
  /**
   * Steps the audit log records as burned and verified on this MAC that the chip does not have
   * (pending again): the record and the chip disagree, and the plan says so.
   */
  missingFromChip?: { step: string; id: string; time: string }[];
  /** Set when an earlier run of this operation was interrupted and this plan finishes it. */
  resumes?: {
    /** The most recent interrupted run. */
    id: string;
    time: string;
    /** Steps with a step-done line in any open run. */
    stepsDone: string[];
    /** Older runs also left open (oldest first); closed too once their steps are verified. */
    earlier?: { id: string; time: string }[];
  };
}

export function pendingSteps(plan: BurnPlan): PlanStep[] {
  return plan.steps.filter((s) => s.status === 'pending');
}

/** Register changes for BLOCK0 bits, shown in full (BLOCK0 holds no secrets). */
export function block0Changes(current: readonly number[], setWords: readonly number[]): RegisterChange[] {
  const out: RegisterChange[] = [];
  setWords.forEach((bits, word) => {
    const newBits = (bits & ~current[word]!) >>> 0;
    if (newBits === 0) return;
    out.push({ block: 0, word, address: wdataAddr(0, word), before: current[word]! >>> 0, after: (current[word]! | bits) >>> 0, bitsSet: popcount32(newBits) });
  });
  return out;
}

/** Register changes for a key block: which words change and how many bits, never the values. */
export function keyBlockChanges(block: EfuseBlock, program: readonly number[]): RegisterChange[] {
  return program.flatMap((w, word) => (w >>> 0 !== 0 ? [{ block, word, address: wdataAddr(block, word) }] : []));
}

export function popcount32(v: number): number {
  let n = 0;
  for (let x = v >>> 0; x; x &= x - 1) n++;
  return n;
}

const hex8 = (v: number): string => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** The plan as text for a terminal or a confirmation dialog. */
export function renderPlan(plan: BurnPlan): string {
  const lines: string[] = [];
  lines.push(`Plan: ${plan.operation} on the ESP32 with MAC ${plan.mac} (revision ${plan.revision}, coding scheme ${plan.codingScheme})`);
  if (plan.resumes) {
    const lost = new Set((plan.missingFromChip ?? []).map((m) => m.step));
    const kept = plan.resumes.stepsDone.filter((s) => !lost.has(s));
    lines.push(`This finishes an interrupted run (${plan.resumes.id}, started ${plan.resumes.time}); ${lost.size === 0 ? 'steps already done are verified, not burned again' : `${kept.length ? `${kept.join(', ')} ${kept.length === 1 ? 'is' : 'are'} on the chip and verified, not burned again; ` : ''}${[...lost].join(', ')} ${lost.size === 1 ? 'is' : 'are'} recorded as done but NOT on the chip (see the warning)`}.`);
    const earlier = plan.resumes.earlier ?? [];
    if (earlier.length) lines.push(`Earlier interrupted run${earlier.length === 1 ? '' : 's'} ${earlier.map((r) => `${r.id} (started ${r.time})`).join(', ')} ${earlier.length === 1 ? 'is' : 'are'} closed too once ${earlier.length === 1 ? 'its' : 'their'} steps are verified.`);
  }
  plan.steps.forEach((s, i) => {
    const tag = s.status === 'done'
      ? (s.verifiedBy === 'not-verified' ? 'burned elsewhere, read-protected: NOT verified against the key file' : `already done (verified by ${s.verifiedBy ?? 'readback'})`)
      : 'PERMANENT, cannot be undone';
    lines.push('');
    lines.push(`${i + 1}. ${s.title}  [${tag}]`);
    lines.push(`   ${s.effect}`);
    if (s.keyFingerprint) lines.push(`   key fingerprint ${s.keyFingerprint}`);
    for (const f of s.fields) lines.push(`   ${f.name}: ${f.from} -> ${f.to}`);
    if (s.status === 'pending') {
      for (const r of s.registers) {
        const reg = `BLOCK${r.block} word ${r.word} (WDATA ${hex8(r.address)})`;
        lines.push(r.before !== undefined ? `   ${reg}: ${hex8(r.before)} -> ${hex8(r.after!)} (${r.bitsSet} bit${r.bitsSet === 1 ? '' : 's'} 0->1)` : `   ${reg}: a key word (its bits are not shown)`);
      }
    }
    for (const p of s.protections) lines.push(`   then: ${p}`);
  });
  const unverified = plan.keysNotVerified ?? [];
  if (unverified.length) {
    lines.push('');
    lines.push(`NOT VERIFIED: ${unverified.map((u) => `BLOCK${u.block} (key file fingerprint ${u.keyFingerprint})`).join(' and ')} ${unverified.length === 1 ? 'was' : 'were'} read-protected before this run, so ${unverified.length === 1 ? 'it reads' : 'they read'} as zeros and cannot be compared with the key file${unverified.length === 1 ? '' : 's'}; this plan trusts --keys-burned-elsewhere that ${unverified.length === 1 ? 'it holds that key' : 'they hold those keys'}, and if not, images made with ${unverified.length === 1 ? 'it' : 'them'} will not boot on this board.`);
  }
  if (plan.warnings.length) {
    lines.push('');
    for (const w of plan.warnings) lines.push(`Warning: ${w}`);
  }
  const n = pendingSteps(plan).length;
  lines.push('');
  lines.push(n === 0 ? 'Nothing left to burn: every step is already done.' : `${n} step${n === 1 ? '' : 's'} will be burned. eFuse bits only go from 0 to 1; none of this can be undone.`);
  return lines.join('\n');
}
