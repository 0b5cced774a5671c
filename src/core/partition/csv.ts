import { UserError } from '../errors';
import type { PartitionEntry } from './table';

/**
 * Reads a partition CSV in gen_esp32part's format (`name, type, subtype, offset, size, flags`),
 * so a checkout's `lib/partitions*.csv` can be compared with what a build produced and the fixture
 * script can produce binaries from CSV text like the real build does.
 */
const TYPES: Record<string, number> = { app: 0, data: 1 };
const SUBTYPES: Record<number, Record<string, number>> = {
  0: { factory: 0x00, test: 0x20, ...Object.fromEntries(Array.from({ length: 16 }, (_, i) => [`ota_${i}`, 0x10 + i])) },
  1: { ota: 0x00, phy: 0x01, nvs: 0x02, coredump: 0x03, nvs_keys: 0x04, efuse: 0x05, fat: 0x81, spiffs: 0x82 },
};

function parseNumber(v: string, where: string): number {
  const s = v.trim();
  const m = /^(0x[0-9a-f]+|\d+)([KM]?)$/i.exec(s);
  if (!m) throw new UserError('E_PT_CSV', `${where}: "${v}" is not a number (hex 0x..., decimal, or with a K/M suffix).`);
  const base = m[1]!.toLowerCase().startsWith('0x') ? parseInt(m[1]!.slice(2), 16) : parseInt(m[1]!, 10);
  const mult = m[2]!.toUpperCase() === 'K' ? 1024 : m[2]!.toUpperCase() === 'M' ? 1024 * 1024 : 1;
  return base * mult;
}

export function parsePartitionCsv(text: string, what = 'partition CSV'): PartitionEntry[] {
  const out: PartitionEntry[] = [];
  // gen_esp32part starts after the table at 0x8000 + 0x1000.
  let next = 0x9000;
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const where = `${what} line ${i + 1}`;
    const cols = line.split(',').map((c) => c.trim());
    if (cols.length < 5) throw new UserError('E_PT_CSV', `${where}: expected name, type, subtype, offset, size[, flags].`);
    const [label, typeS, subS, offS, sizeS, flagsS] = cols as [string, string, string, string, string, string | undefined];
    const type = TYPES[typeS.toLowerCase()] ?? parseNumber(typeS, where);
    const subtype = SUBTYPES[type]?.[subS.toLowerCase()] ?? parseNumber(subS, where);
    const align = type === 0 ? 0x10000 : 0x4;
    const offset = offS === '' ? Math.ceil(next / align) * align : parseNumber(offS, where);
    const size = parseNumber(sizeS, where);
    const encrypted = (flagsS ?? '').split(':').map((f) => f.trim()).includes('encrypted');
    out.push({ label, type, subtype, offset, size, encrypted });
    next = offset + size;
  });
  return out;
}

export function formatPartitionCsv(entries: readonly PartitionEntry[]): string {
  const h = (n: number) => `0x${n.toString(16)}`;
  const typeName = (t: number) => Object.entries(TYPES).find(([, v]) => v === t)?.[0] ?? h(t);
  const subName = (t: number, s: number) => Object.entries(SUBTYPES[t] ?? {}).find(([, v]) => v === s)?.[0] ?? h(s);
  return [
    '# Name,   Type, SubType, Offset,  Size, Flags',
    ...entries.map((e) => `${e.label}, ${typeName(e.type)}, ${subName(e.type, e.subtype)}, ${h(e.offset)}, ${h(e.size)},${e.encrypted ? ' encrypted' : ''}`),
    '',
  ].join('\n');
}
