import * as fs from 'node:fs';
import * as path from 'node:path';
import { interruptedOperations, readAudit, type AuditRecord } from '../../src/core/audit/audit-log';
import type { EfuseWords } from '../../src/core/efuse/fields';
import { KeyStore } from '../../src/core/keystore/key-store';
import { burnKeys } from '../../src/core/workflows/burn-keys';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import type { CodingSchemeOption } from '../../src/core/virtual/profiles';
import { describeFault, faultFreeLink, withCampaignBoard, pickFault, stepCounts, type FaultKind, type FaultSpec, type LinkOptions, type Traffic } from './link';
import { count, emptyCounters, settle, errorText, pool, unclearError, withDeadline, type Counters, type RunRecord } from './outcome';
import { Prng } from './prng';

/**
 * The Burn Keys campaign: each run starts from a factory-fresh virtual board, runs Burn Keys with
 * one random fault, then (if that failed) runs it again as a user would, then checks the board's
 * physical eFuses and the audit log against the plan.
 */
export const BURN_ROWS = {
  unplanned: 'an eFuse bit set that was not in the plan',
  unprotected: 'a key burned but unprotected without the user being told',
  audit: 'an audit log without the matching intent/done lines',
  unclear: 'a stop without a clear error (crash, hang or unclear message)',
  falseSuccess: 'success reported but the board is not in the planned state',
  notResumable: 'a stop whose state does not resume to the planned state',
} as const;

export interface BurnCampaignOptions extends LinkOptions {
  runs: number;
  seed: string;
  workDir: string;
  flashKey: Uint8Array;
  secureBootKey: Uint8Array;
  profile?: string;
  codingScheme?: CodingSchemeOption;
  hardening?: boolean;
  timing?: boolean;
  concurrency?: number;
  kinds?: readonly FaultKind[];
  /**
   * The board's eFuses before the first run (raw words, e.g. keys burned by espefuse); factory-fresh
   * when absent. Every run, and the fault-free probe that gives the planned state, starts from it.
   */
  prior?: (raw: EfuseWords) => EfuseWords;
  /** Runs Burn Keys with --keys-burned-elsewhere (for a prior state with protected key blocks). */
  keysBurnedElsewhere?: boolean;
  /** Wall-time limit of one attempt; longer is reported as a hang. */
  attemptDeadlineMs?: number;
  /** Replays only these run numbers (the faults are still drawn for every run, so each replays exactly). */
  only?: readonly number[];
  /**
   * Instead of drawing faults: one run per fault this returns, given the bytes the fault-free probe
   * sent the board (so a regression can aim at a command wherever the traffic puts it).
   */
  faultsFor?: (toDevice: Buffer) => FaultSpec[];
  onRun?(r: RunRecord): void;
}

export interface BurnCampaignResult {
  counters: Counters;
  records: RunRecord[];
  traffic: Traffic;
}

const BOARD_SEED = 'campaign-board';

function newBoard(o: BurnCampaignOptions): VirtualEsp32 {
  const dev = new VirtualEsp32({ profile: o.profile ?? 'GPY', seed: BOARD_SEED, codingScheme: o.codingScheme ?? 'none', timing: o.timing ?? false });
  if (o.prior) dev.efuse.setRaw(o.prior(dev.efuse.rawWords()));
  return dev;
}

/**
 * One Burn Keys run through the same workflow the CLI and the editor run, with a scripted UI port
 * (the user picks the campaign's profile and types the MAC shown).
 */
async function burnOnce(dev: VirtualEsp32, auditFile: string, o: BurnCampaignOptions, fault?: FaultSpec): Promise<{ toDevice: number; toHost: number }> {
  const store = new KeyStore(path.dirname(auditFile));
  if (path.basename(auditFile) !== path.basename(store.auditPath)) throw new Error(`the campaign's audit file must be named ${path.basename(store.auditPath)}`);
  const { counts } = await withCampaignBoard(dev, o, fault, async (board) => {
    const r = await burnKeys(board, {
      store,
      keys: () => ({ flashKey: o.flashKey, secureBootKey: o.secureBootKey }),
      hardening: o.hardening ?? false,
      keysBurnedElsewhere: o.keysBurnedElsewhere ?? false,
      // The campaign tests the engine's 3/4 path too, which the front ends refuse (E_CODING_34).
      allowThreeFour: o.codingScheme === '3/4',
      showPlan: () => undefined,
    }, scriptedUi());
    if (r.kind === 'cancelled') throw new Error(r.message);
  });
  return counts;
}

type Attempt = { ok: true } | { ok: false; error: unknown };

async function attempt(dev: VirtualEsp32, auditFile: string, o: BurnCampaignOptions, fault?: FaultSpec): Promise<Attempt> {
  try {
    await withDeadline(burnOnce(dev, auditFile, o, fault), o.attemptDeadlineMs ?? 120_000, 'burn-keys');
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  } finally {
    // The user takes a moment before running it again: whatever the board still had queued is done.
    await settle(dev);
  }
}

function keyUnprotected(dev: VirtualEsp32): number[] {
  const raw = dev.efuse.rawWords();
  const rdDis = Number(dev.efuse.rawField('RD_DIS'));
  return [1, 2].filter((b) => raw[b]!.some((w) => w !== 0) && (rdDis & (1 << (b - 1))) === 0);
}

function sameWords(a: EfuseWords, b: EfuseWords): boolean {
  return a.every((blk, i) => blk.every((w, j) => w >>> 0 === b[i]![j]! >>> 0));
}

/** Every line of an operation has its opening line before it. */
export function auditProblems(records: readonly AuditRecord[], damaged: number): string[] {
  const problems: string[] = [];
  if (damaged) problems.push(`${damaged} damaged audit line(s)`);
  const intents = new Set<string>();
  const stepIntents = new Set<string>();
  for (const r of records) {
    if (r.phase === 'intent') intents.add(r.id);
    else if (!intents.has(r.id)) problems.push(`${r.phase} line for ${r.id} without an intent line`);
    if (r.phase === 'step-intent') stepIntents.add(`${r.id}/${r.step}`);
    if (r.phase === 'step-done' && !stepIntents.has(`${r.id}/${r.step}`)) problems.push(`step-done ${r.step} without its step-intent`);
  }
  return problems;
}

export async function runBurnCampaign(o: BurnCampaignOptions): Promise<BurnCampaignResult> {
  fs.mkdirSync(o.workDir, { recursive: true });
  // A fault-free run gives the planned final state and the traffic faults are drawn over.
  const probe = newBoard(o);
  const probeDir = fs.mkdtempSync(path.join(o.workDir, 'probe-'));
  const steps0 = stepCounts(probe);
  const sent: Buffer[] = [];
  const bytes = await burnOnce(probe, path.join(probeDir, 'audit.jsonl'), { ...faultFreeLink(o), onToDevice: (c) => void sent.push(Buffer.from(c)) });
  const s1 = stepCounts(probe);
  const traffic: Traffic = { ...bytes, steps: { 'efuse-word': s1['efuse-word'] - steps0['efuse-word'], 'flash-erase': 0, 'flash-program': 0 } };
  const planned = probe.efuse.rawWords();
  fs.rmSync(probeDir, { recursive: true, force: true });

  const rows = Object.values(BURN_ROWS);
  const counters = emptyCounters(rows);
  const records: RunRecord[] = [];
  const rng = new Prng(o.seed);
  const faults = o.faultsFor
    ? o.faultsFor(Buffer.concat(sent)).map((fault, i) => ({ i, fault }))
    : Array.from({ length: o.runs }, (_, i) => ({ i, fault: pickFault(rng.fork(String(i)), traffic, o, o.kinds) }))
      .filter(({ i }) => !o.only || o.only.includes(i));

  await pool(faults, o.concurrency ?? 8, async ({ i, fault }) => {
    const dir = fs.mkdtempSync(path.join(o.workDir, `burn-${i}-`));
    const auditFile = path.join(dir, 'secure', 'audit.jsonl');
    const dev = newBoard(o);
    const problems: string[] = [];
    const note = (row: string, detail: string): void => void problems.push(`${row}: ${detail}`);

    const check = (label: string, a: Attempt): void => {
      const raw = dev.efuse.rawWords();
      raw.forEach((blk, b) => blk.forEach((w, j) => {
        const extra = (w & ~planned[b]![j]!) >>> 0;
        if (extra) note(BURN_ROWS.unplanned, `${label}: BLOCK${b} word ${j} has 0x${extra.toString(16)} set`);
      }));
      const audit = readAudit(auditFile);
      for (const p of auditProblems(audit.records, audit.damaged.length)) note(BURN_ROWS.audit, `${label}: ${p}`);
      const open = interruptedOperations(audit.records);
      if (a.ok) {
        if (!sameWords(raw, planned)) note(BURN_ROWS.falseSuccess, `${label}: eFuses differ from the plan`);
        if (keyUnprotected(dev).length) note(BURN_ROWS.unprotected, `${label}: success reported with BLOCK${keyUnprotected(dev).join(', ')} readable`);
        if (open.length) note(BURN_ROWS.audit, `${label}: success with ${open.length} intent(s) without a done line`);
      } else {
        const unclear = unclearError(a.error);
        if (unclear) note(BURN_ROWS.unclear, `${label}: ${unclear}`);
        // The user is told through the next run's plan ("finishes an interrupted run"), which needs an open intent.
        if (keyUnprotected(dev).length && open.length === 0) note(BURN_ROWS.unprotected, `${label}: BLOCK${keyUnprotected(dev).join(', ')} readable and no interrupted run on record`);
      }
    };

    const first = await attempt(dev, auditFile, o, fault);
    const faultFired = !first.ok;
    check('faulted run', first);
    let end: RunRecord['end'] = 'other';
    let last = first;
    if (!first.ok) {
      // The user's natural next action: the same command again.
      last = await attempt(dev, auditFile, faultFreeLink(o));
      check('rerun', last);
    }
    if (last.ok) {
      end = 'final';
    } else {
      // Prove the stop resumable: a further fault-free run must reach the planned state.
      const proof = await attempt(dev, auditFile, faultFreeLink(o));
      check('resume proof', proof);
      if (proof.ok && sameWords(dev.efuse.rawWords(), planned)) end = 'resumable';
      else note(BURN_ROWS.notResumable, proof.ok ? 'resumed run ended elsewhere' : errorText(proof.error));
    }
    if (problems.length) end = 'other';
    const rec: RunRecord = { run: i, scenario: 'burn-keys', fault: describeFault(fault), faultKind: fault.kind, faultFired, firstAttempt: first.ok ? 'ok' : errorText(first.error), end, problems };
    records.push(rec);
    count(counters, rec, (p) => rows.find((r) => p.startsWith(r)) ?? p);
    o.onRun?.(rec);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  records.sort((a, b) => a.run - b.run);
  return { counters, records, traffic };
}
