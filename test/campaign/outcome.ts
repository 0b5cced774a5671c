import { isUserError } from '../../src/core/errors';
import type { FaultKind } from './link';

/**
 * How a campaign run ended. "final": the planned end state, reached by the faulted run or by the
 * user running the same command again. "resumable": the rerun also stopped, with a clear error,
 * and a further fault-free run from that state reaches the planned end state. "other": anything
 * else; each such run names what was wrong and must not happen.
 */
export type EndState = 'final' | 'resumable' | 'other';

export interface RunRecord {
  run: number;
  scenario: string;
  fault: string;
  faultKind: FaultKind;
  /** Whether the fault stopped the faulted run (some are absorbed: a retry, a byte in ignored text). */
  faultFired: boolean;
  firstAttempt: 'ok' | string;
  end: EndState;
  problems: string[];
}

export interface Counters {
  runs: number;
  faultsInjected: number;
  faultsFired: number;
  finalState: number;
  resumable: number;
  other: number;
  byKind: Record<string, number>;
  /** Named must-be-0 rows and their counts. */
  violations: Record<string, number>;
}

export function emptyCounters(violationRows: readonly string[]): Counters {
  return { runs: 0, faultsInjected: 0, faultsFired: 0, finalState: 0, resumable: 0, other: 0, byKind: {}, violations: Object.fromEntries(violationRows.map((r) => [r, 0])) };
}

export function count(c: Counters, r: RunRecord, rowOf: (problem: string) => string): void {
  c.runs++;
  c.faultsInjected++;
  if (r.faultFired) c.faultsFired++;
  c.byKind[r.faultKind] = (c.byKind[r.faultKind] ?? 0) + 1;
  if (r.end === 'final') c.finalState++;
  else if (r.end === 'resumable') c.resumable++;
  else c.other++;
  for (const p of new Set(r.problems.map(rowOf))) c.violations[p] = (c.violations[p] ?? 0) + 1;
}

/**
 * A clear error: a UserError (typed, with a code) whose message is one or more sentences a user
 * can act on, without a stack trace or an internal exception name.
 */
export function unclearError(e: unknown): string | undefined {
  if (!isUserError(e)) return `not a UserError: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`;
  const m = e.message;
  if (!/^E_[A-Z0-9_]+$/.test(e.code)) return `error code ${e.code} is not an E_ code`;
  if (m.length < 20 || m.length > 1200) return `message length ${m.length}: ${m}`;
  if (/\n\s+at /.test(m) || /TypeError|RangeError|undefined is not|Cannot read prop/.test(m)) return `message looks like a crash: ${m}`;
  if (!/[.)!]$/.test(m.trim())) return `message is not a sentence: ${m}`;
  return undefined;
}

export function errorText(e: unknown): string {
  if (isUserError(e)) return `${e.code}: ${e.message}`;
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

export function formatCounters(title: string, c: Counters, seed: string, extra: Array<[string, string | number]> = []): string {
  const rows: Array<[string, string | number]> = [
    ['seed', seed],
    ['runs', c.runs],
    ['faults injected', c.faultsInjected],
    ['  of which stopped the faulted run', c.faultsFired],
    ...Object.entries(c.byKind).map(([k, v]): [string, number] => [`  ${k}`, v]),
    ['runs ending in the planned final state', c.finalState],
    ['runs stopped with a clear error and a resumable state', c.resumable],
    ['runs ending in any other state (must be 0)', c.other],
    ...Object.entries(c.violations).map(([k, v]): [string, number] => [`  ${k} (must be 0)`, v]),
    ...extra,
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [title, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n');
}

/** Runs `fn` for items with at most `limit` at a time (the waits overlap; the CPU work does not). */
export async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Rejects if `p` takes longer than `ms`: a hang is a finding, not a stuck campaign. */
export async function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`HANG: ${what} did not finish within ${ms} ms`)), ms)))]);
  } finally {
    if (t) clearTimeout(t);
  }
}

/**
 * Waits for the board to finish what it had queued (the user takes a moment before the next
 * run), but never for ever: a board stuck mid-command must not stall the whole campaign.
 */
export async function settle(dev: { idle(): Promise<void> }, ms = 10_000): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([dev.idle(), new Promise<void>((r) => (t = setTimeout(r, ms)))]);
  if (t) clearTimeout(t);
}
