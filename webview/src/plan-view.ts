import type { EfuseBlockView, EfuseFieldView, EfuseSnapshot, PlanPoint } from './protocol';

/*
 * How the inspector lays out a burn plan, as data (no DOM), so the order is testable: what the
 * burn changes first, above the fold; what it leaves alone after.
 */

/** Categories whose changes matter most for secure boot and flash encryption come first. */
const FIRST = ['security', 'flash'];
const categoryRank = (c: string): number => FIRST.indexOf(c) + 1 || FIRST.length + 1;

/** True when the plan changes this field (its after-burn value differs from today's). */
export function changes(f: EfuseFieldView): boolean {
  return f.after !== undefined && f.after !== f.value;
}

export interface PlanLayout {
  /** Fields the burn changes: security first, then flash, then the rest (field-table order inside). */
  changed: EfuseFieldView[];
  /** Every other field, by category (alphabetical), for the tables below. */
  unchanged: [category: string, fields: EfuseFieldView[]][];
  /** Raw blocks, the ones the burn changes first. */
  blocks: EfuseBlockView[];
}

/** The plan's layout: changed fields first, unchanged fields by category after, changed blocks first. */
export function planLayout(s: EfuseSnapshot): PlanLayout {
  const changed = s.fields.filter(changes).map((f, i) => ({ f, i })).sort((a, b) => categoryRank(a.f.category) - categoryRank(b.f.category) || a.i - b.i).map((x) => x.f);
  const rest = s.fields.filter((f) => !changes(f));
  const unchanged = [...new Set(rest.map((f) => f.category))].sort().map((c): [string, EfuseFieldView[]] => [c, rest.filter((f) => f.category === c)]);
  const blockChanges = (b: EfuseBlockView): boolean => b.afterHex !== undefined && b.afterHex !== b.hex;
  const blocks = [...s.blocks.filter(blockChanges), ...s.blocks.filter((b) => !blockChanges(b))];
  return { changed, unchanged, blocks };
}

/**
 * The plan's "cannot be undone" points with their sub-points nested. Also reads the flat list an
 * older extension saved in the panel's state (strings, sub-points starting with "then "), so a
 * panel restored after an update still shows them nested.
 */
export function planPoints(raw: readonly unknown[]): PlanPoint[] {
  const out: PlanPoint[] = [];
  for (const p of raw) {
    if (typeof p === 'string') {
      const last = out[out.length - 1];
      if (/^then /.test(p) && last) last.sub.push(p.slice('then '.length));
      else out.push({ text: p, sub: [] });
    } else if (typeof p === 'object' && p !== null && typeof (p as PlanPoint).text === 'string') {
      const sub = (p as PlanPoint).sub;
      out.push({ text: (p as PlanPoint).text, sub: Array.isArray(sub) ? sub.filter((x): x is string => typeof x === 'string') : [] });
    }
  }
  return out;
}
