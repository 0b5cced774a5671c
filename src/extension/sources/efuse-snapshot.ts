import { decodeEfuses, EFUSE_FIELDS, isRdDisSet, isWrDisSet, pendingSteps, readFieldRaw, renderPlan, type BurnPlan, type EfuseField, type EfuseWords } from '../../core';
import type { EfuseFieldView, EfuseSnapshot } from '../../../webview/src/protocol';

function bitsText(f: EfuseField): string {
  return [f.wrDis !== undefined ? `WR_DIS[${f.wrDis}]` : '', f.rdDis !== undefined ? `RD_DIS[${f.rdDis}]` : ''].filter(Boolean).join(' ');
}

function rawText(v: bigint, len: number): string {
  return len <= 8 ? v.toString(2).padStart(len, '0') : `0x${v.toString(16).padStart(Math.ceil(len / 4), '0')}`;
}

/**
 * What each key block shows instead of its bytes: "empty", "read-protected", or the fingerprint of
 * the key as its key file holds it (the core's decode: key-file byte order, 3/4 coding taken into
 * account), the fingerprint the Keys view, the CLI and the audit log give for the same key. Words
 * read over the link read zeros for a read-protected block; physical words (a virtual board's own)
 * still hold the key, which is then named by its fingerprint as well.
 */
function keyBlockTexts(words: EfuseWords): Record<1 | 2 | 3, string> {
  const protectedBlocks = decodeEfuses({ words, decStatus: 0 }).keyBlocks;
  // The same words with RD_DIS cleared: what the block holds, whatever the read protection.
  const open = decodeEfuses({ words: words.map((w, b) => (b === 0 ? w.map((x, i) => (i === 0 ? (x & ~(0xf << 16)) >>> 0 : x)) : [...w])), decStatus: 0 }).keyBlocks;
  const text = (b: 1 | 2 | 3): string => {
    const held = open[b].status === 'data' ? `fingerprint ${open[b].fingerprint}` : undefined;
    if (protectedBlocks[b].status === 'protected') return held ? `read-protected, ${held}` : 'read-protected';
    return held ? `set, ${held}` : 'empty';
  };
  return { 1: text(1), 2: text(2), 3: text(3) };
}

/** A field's display value. Key blocks never leave the extension as bytes, in the value and in the raw bits alike. */
function valueText(f: EfuseField, v: bigint, keyBlocks: Record<1 | 2 | 3, string>): { value: string; raw: string } {
  if (f.display === 'key' && f.block >= 1 && f.block <= 3) {
    const text = keyBlocks[f.block as 1 | 2 | 3];
    return { value: text, raw: text };
  }
  const value = f.display === 'flag' ? (v ? 'True' : 'False') : f.values?.[Number(v)] ?? v.toString();
  return { value, raw: rawText(v, f.len) };
}

/** The inspector's field list before any board is read: positions and protection bits only. */
export function fieldTableSnapshot(): EfuseSnapshot {
  const fields: EfuseFieldView[] = EFUSE_FIELDS.map((f) => ({
    name: f.name, category: f.category, description: f.description, block: f.block, bit: f.bit, len: f.len,
    value: '—', raw: '—', readProtected: undefined, writeProtected: undefined, protectionBits: bitsText(f),
  }));
  return { source: 'field table only (no board read yet)', hasValues: false, fields, blocks: [] };
}

/** A snapshot of real eFuse words (as read by the core) for the views and the inspector. */
export function snapshotFromWords(words: EfuseWords, source: string): EfuseSnapshot {
  const keyBlocks = new Set<number>(EFUSE_FIELDS.filter((f) => f.display === 'key').map((f) => f.block));
  // One fingerprint per key block, used by the field table and the raw blocks alike.
  const decoded = keyBlockTexts(words);
  const fields: EfuseFieldView[] = EFUSE_FIELDS.map((f) => {
    const { value, raw } = valueText(f, readFieldRaw(words, f), decoded);
    return {
      name: f.name, category: f.category, description: f.description, block: f.block, bit: f.bit, len: f.len, value, raw,
      readProtected: f.rdDis !== undefined ? isRdDisSet(words, f.rdDis) : false,
      writeProtected: f.wrDis !== undefined ? isWrDisSet(words, f.wrDis) : false,
      protectionBits: bitsText(f),
    };
  });
  const blocks = words.map((w, block) => ({
    block,
    hex: keyBlocks.has(block) && block >= 1 && block <= 3
      ? `key block, ${decoded[block as 1 | 2 | 3].replace(/^set, /, '')}`
      : w.map((x) => (x >>> 0).toString(16).padStart(8, '0')).join(' '),
  }));
  return { source, hasValues: true, fields, blocks };
}

/**
 * The inspector's view of a Burn Keys plan: today's values with an "after burn" column (BLOCK0
 * fields decoded from the words the plan leaves, in the same text as a read shows them), the
 * BLOCK0 words before and after, key blocks named by the fingerprint of the key they will hold
 * (the plan itself never carries key bytes), and what cannot be undone: one point per step, the
 * protections it brings nested under it.
 */
export function planSnapshot(words: EfuseWords, source: string, plan: BurnPlan): EfuseSnapshot {
  const s = snapshotFromWords(words, source);
  const pending = pendingSteps(plan);
  const to = new Map<string, string>();
  for (const step of pending) for (const f of step.fields) to.set(f.name, f.to);
  // eFuse bits only go from 0 to 1: the words after the burn are today's with every planned bit set.
  const block0 = [...(words[0] ?? [])];
  for (const step of pending) for (const r of step.registers) if (r.block === 0 && r.after !== undefined) block0[r.word] = ((block0[r.word] ?? 0) | r.after) >>> 0;
  const afterRead = new Map(snapshotFromWords(words.map((w, b) => (b === 0 ? block0 : [...w])), source).fields.map((f) => [f.name, f.value]));
  const keyAfter = new Map<number, string>();
  for (const step of pending) if (step.keyFingerprint && step.block !== 0) keyAfter.set(step.block, `key block, will hold key ${step.keyFingerprint}`);
  const afterValue = (f: EfuseFieldView): string => {
    if (f.block === 0) return afterRead.get(f.name) ?? f.value;
    const planned = to.get(f.name);
    return planned === undefined ? f.value : /^key /.test(planned) ? `will hold ${planned}` : planned;
  };
  return {
    ...s,
    fields: s.fields.map((f) => ({ ...f, after: afterValue(f) })),
    blocks: s.blocks.map((b) => ({ ...b, afterHex: b.block === 0 ? block0.map((x) => (x >>> 0).toString(16).padStart(8, '0')).join(' ') : keyAfter.get(b.block) ?? b.hex })),
    plan: {
      title: `Burn Keys on ${plan.mac} (revision ${plan.revision}, coding scheme ${plan.codingScheme})`,
      mac: plan.mac,
      // One point per step; the protections it brings (each hardening fuse: what it closes and costs) under it.
      irreversible: pending.map((st) => ({ text: `${st.title} — ${st.effect}`, sub: [...st.protections] })),
      details: renderPlan(plan),
    },
  };
}
