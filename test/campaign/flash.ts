import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog } from '../../src/core/audit/audit-log';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { predictBoot } from '../../src/core/boot/predict';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import type { FlashPlan } from '../../src/core/flash/plan';
import { flash } from '../../src/core/workflows/flash';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import { KeyStore } from '../../src/core/keystore/key-store';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import type { CodingSchemeOption } from '../../src/core/virtual/profiles';
import { describeFault, faultFreeLink, withCampaignBoard, pickFault, stepCounts, type FaultKind, type FaultSpec, type LinkOptions, type Traffic } from './link';
import { count, emptyCounters, settle, errorText, pool, unclearError, withDeadline, type Counters, type RunRecord } from './outcome';
import { Prng } from './prng';

/**
 * The flashing campaign: a full secure flash of a freshly burned board, or an incremental reflash
 * of the next build over a flashed one, with one random fault, then the same command again.
 * Every region the writer reports done is compared (MD5) with the board's flash right then; every
 * reported success is followed by the boot prediction for the board as it now is.
 */
export const FLASH_ROWS = {
  md5: 'a region reported written whose MD5 differs',
  boot: 'a run reported successful after which the boot prediction fails',
  unclear: 'a stop without a clear error (crash, hang or unclear message)',
  notResumable: 'a stop whose state does not resume to a booting board',
} as const;

export type FlashScenario = 'full' | 'incremental';

export interface FlashCampaignInputs {
  flashKey: Uint8Array;
  secureBootKey: Uint8Array;
  signingKeyPem: string | Uint8Array;
  signingPublicKey: Uint8Array;
  /** The first build (a full secure set) and the next one (same layout, changed app). */
  full: FlashPlan;
  next: FlashPlan;
}

export interface FlashCampaignOptions extends LinkOptions, FlashCampaignInputs {
  runs: number;
  seed: string;
  workDir: string;
  profile?: string;
  /** '3/4' needs 192-bit keys (and a build encrypted with them) in the inputs. */
  codingScheme?: CodingSchemeOption;
  timing?: boolean;
  concurrency?: number;
  kinds?: readonly FaultKind[];
  scenarios?: readonly FlashScenario[];
  attemptDeadlineMs?: number;
  onRun?(r: RunRecord): void;
}

export interface FlashCampaignResult {
  counters: Counters;
  records: RunRecord[];
  traffic: Record<FlashScenario, Traffic>;
  byScenario: Record<FlashScenario, number>;
}

interface Rig {
  dev: VirtualEsp32;
  store: KeyStore;
  md5Problems: string[];
}

async function newRig(o: FlashCampaignOptions, dir: string, scenario: FlashScenario): Promise<Rig> {
  const dev = new VirtualEsp32({ profile: o.profile ?? 'GPY', seed: 'campaign-flash', codingScheme: o.codingScheme ?? 'none', timing: o.timing ?? false });
  const store = new KeyStore(path.join(dir, 'secure'));
  store.ensureDir();
  fs.writeFileSync(store.signingKeyPath, o.signingKeyPem, { mode: 0o600 });
  fs.writeFileSync(store.sharedFlashKeyPath, o.flashKey, { mode: 0o600 });
  // Keys burned directly (not part of this campaign's faults), as the Burn Keys step leaves them,
  // recorded in the store's audit log: the burn record the flash workflow takes as key evidence.
  const access = directAccess(dev.efuse);
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: o.flashKey, secureBootKey: o.secureBootKey, hardening: false, history: [] });
  await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: o.flashKey, secureBootKey: o.secureBootKey, audit: new AuditLog(store.auditPath) });
  if (scenario === 'incremental') {
    // The board already carries the previous build, as after an earlier successful flash.
    for (const r of o.full.regions) {
      dev.flash.eraseRange(r.address, r.data.length);
      dev.flash.program(r.address, r.data);
    }
  }
  return { dev, store, md5Problems: [] };
}

function md5(b: Uint8Array): string {
  return createHash('md5').update(b).digest('hex');
}

async function flashOnce(rig: Rig, o: FlashCampaignOptions, scenario: FlashScenario, fault?: FaultSpec): Promise<{ toDevice: number; toHost: number }> {
  const plan = scenario === 'full' ? o.full : o.next;
  const byAddress = new Map(plan.regions.map((r) => [r.address, r]));
  const { counts } = await withCampaignBoard(rig.dev, o, fault, (board) =>
    // The flash workflow the CLI and the editor run (key evidence, boot prediction, checks, writes).
    flash(board, {
      store: rig.store,
      plan: () => plan,
      bootLog: false,
      incremental: scenario === 'incremental',
      onProgress: (e) => {
        if (e.phase !== 'done') return;
        const r = byAddress.get(e.address)!;
        const want = md5(r.data);
        const got = md5(rig.dev.flash.read(r.address, r.data.length));
        if (want !== got) rig.md5Problems.push(`${path.basename(r.file)} @ 0x${r.address.toString(16)} reported done, flash MD5 ${got} != ${want}`);
      },
    }, scriptedUi()));
  return counts;
}

type Attempt = { ok: true } | { ok: false; error: unknown };

async function attempt(rig: Rig, o: FlashCampaignOptions, scenario: FlashScenario, fault?: FaultSpec): Promise<Attempt> {
  try {
    await withDeadline(flashOnce(rig, o, scenario, fault), o.attemptDeadlineMs ?? 300_000, `flash (${scenario})`);
    return { ok: true };
  } catch (error) {
    return { ok: false, error };
  } finally {
    await settle(rig.dev);
  }
}

export function bootsNow(dev: VirtualEsp32, signingPublicKey: Uint8Array): { boots: boolean; reason: string } {
  const v = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (off, n) => dev.flash.read(off, n), flashSize: dev.flash.size, signingPublicKey });
  return { boots: v.boots, reason: v.reason };
}

export async function runFlashCampaign(o: FlashCampaignOptions): Promise<FlashCampaignResult> {
  fs.mkdirSync(o.workDir, { recursive: true });
  const scenarios = o.scenarios ?? ['full', 'incremental'];
  const traffic = {} as Record<FlashScenario, Traffic>;
  for (const s of scenarios) {
    const dir = fs.mkdtempSync(path.join(o.workDir, `probe-${s}-`));
    const rig = await newRig(o, dir, s);
    const before = stepCounts(rig.dev);
    const bytes = await flashOnce(rig, faultFreeLink(o), s);
    const after = stepCounts(rig.dev);
    if (!bootsNow(rig.dev, o.signingPublicKey).boots) throw new Error(`campaign setup: the fault-free ${s} flash does not boot`);
    traffic[s] = { ...bytes, steps: { 'efuse-word': 0, 'flash-erase': after['flash-erase'] - before['flash-erase'], 'flash-program': after['flash-program'] - before['flash-program'] } };
    fs.rmSync(dir, { recursive: true, force: true });
  }
  const rows = Object.values(FLASH_ROWS);
  const counters = emptyCounters(rows);
  const records: RunRecord[] = [];
  const byScenario = { full: 0, incremental: 0 };
  const rng = new Prng(o.seed);
  const runs = Array.from({ length: o.runs }, (_, i) => {
    const r = rng.fork(String(i));
    const scenario = r.pick(scenarios);
    return { i, scenario, fault: pickFault(r, traffic[scenario], o, o.kinds) };
  });

  await pool(runs, o.concurrency ?? 8, async ({ i, scenario, fault }) => {
    const dir = fs.mkdtempSync(path.join(o.workDir, `flash-${i}-`));
    const rig = await newRig(o, dir, scenario);
    const problems: string[] = [];
    const check = (label: string, a: Attempt): void => {
      for (const p of rig.md5Problems.splice(0)) problems.push(`${FLASH_ROWS.md5}: ${label}: ${p}`);
      if (a.ok) {
        const b = bootsNow(rig.dev, o.signingPublicKey);
        if (!b.boots) problems.push(`${FLASH_ROWS.boot}: ${label}: ${b.reason}`);
      } else {
        const unclear = unclearError(a.error);
        if (unclear) problems.push(`${FLASH_ROWS.unclear}: ${label}: ${unclear}`);
      }
    };
    const first = await attempt(rig, o, scenario, fault);
    check('faulted run', first);
    let last = first;
    if (!first.ok) {
      last = await attempt(rig, faultFreeLink(o), scenario);
      check('rerun', last);
    }
    let end: RunRecord['end'] = 'other';
    if (last.ok) {
      end = 'final';
    } else {
      const proof = await attempt(rig, faultFreeLink(o), scenario);
      check('resume proof', proof);
      if (proof.ok && bootsNow(rig.dev, o.signingPublicKey).boots) end = 'resumable';
      else problems.push(`${FLASH_ROWS.notResumable}: ${proof.ok ? 'does not boot' : errorText(proof.error)}`);
    }
    if (problems.length) end = 'other';
    byScenario[scenario]++;
    const rec: RunRecord = { run: i, scenario: `flash-${scenario}`, fault: describeFault(fault), faultKind: fault.kind, faultFired: !first.ok, firstAttempt: first.ok ? 'ok' : errorText(first.error), end, problems };
    records.push(rec);
    count(counters, rec, (p) => rows.find((r) => p.startsWith(r)) ?? p);
    o.onRun?.(rec);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  records.sort((a, b) => a.run - b.run);
  return { counters, records, traffic, byScenario };
}
