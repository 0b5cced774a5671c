import { efuseType, fieldPos, fieldWord, type DecodedEfuses, type DecodedField } from './decode';

/**
 * `efuse summary` output in espefuse's shapes (esp32-efuse.md §9.1), so users' notes and
 * scripts keep working. Secret key blocks are masked even when readable; `fingerprint` is added.
 */
export interface SummaryJsonEntry {
  name: string;
  value: boolean | number | string;
  readable: boolean;
  writeable: boolean;
  description: string;
  category: string;
  block: number;
  word: number;
  pos: number;
  efuse_type: string;
  bit_len: number;
  fingerprint?: string;
}

function jsonValue(d: DecodedField): boolean | number | string {
  const f = d.field;
  if (!d.readable || d.sensitive) return d.text;
  if (f.type === 'bool') return d.raw === 1n;
  if (f.type === 'uint' && (f.display === 'number' || f.display === 'bitcount' || f.display === 'mask' || f.display === 'crc')) {
    return f.len <= 48 ? Number(d.raw) : d.raw.toString();
  }
  return d.text;
}

export function summaryJson(dec: DecodedEfuses): Record<string, SummaryJsonEntry> {
  const out: Record<string, SummaryJsonEntry> = {};
  const sorted = [...dec.fields].sort((a, b) => (a.field.name < b.field.name ? -1 : a.field.name > b.field.name ? 1 : 0));
  for (const d of sorted) {
    const f = d.field;
    const e: SummaryJsonEntry = {
      name: f.name,
      value: jsonValue(d),
      readable: d.readable,
      writeable: d.writeable,
      description: f.description,
      category: f.category,
      block: f.block,
      word: fieldWord(f),
      pos: fieldPos(f),
      efuse_type: efuseType(f),
      bit_len: f.len,
    };
    if (f.display === 'key' && dec.keyBlocks[f.block as 1 | 2 | 3]?.fingerprint) e.fingerprint = dec.keyBlocks[f.block as 1 | 2 | 3].fingerprint!;
    out[f.name] = e;
  }
  return out;
}

function rawText(d: DecodedField): string {
  const f = d.field;
  if (f.type === 'bytes') return '';
  const bits = d.raw.toString(2).padStart(f.len, '0');
  const hidden = (s: string): string => (d.readable ? s : s.replace(/0/g, '?'));
  if (f.len % 4 === 0) return ` (0x${hidden(d.raw.toString(16).padStart(f.len / 4, '0'))})`;
  return ` (0b${hidden(bits)})`;
}

function perm(d: DecodedField): string {
  return `${d.readable ? 'R' : '-'}/${d.writeable ? 'W' : '-'}`;
}

const VDD_TEXT = (dec: DecodedEfuses): string => {
  const get = (n: string): boolean => dec.fields.find((d) => d.field.name === n)?.raw === 1n;
  const p = 'Flash voltage (VDD_SDIO) ';
  if (!get('XPD_SDIO_FORCE')) return `${p}determined by GPIO12 on reset (High for 1.8V, Low/NC for 3.3V)`;
  if (!get('XPD_SDIO_REG')) return `${p}internal regulator disabled by efuse.`;
  return get('XPD_SDIO_TIEH') ? `${p}set to 3.3V by efuse.` : `${p}set to 1.8V by efuse.`;
};

/** The human summary, row format `%-50s %-50s%s = %s %s %s` grouped by category. */
export function summaryText(dec: DecodedEfuses): string {
  const lines = ['EFUSE_NAME (Block) Description  = [Meaningful Value] [Readable/Writeable] (Hex Value)', '-'.repeat(88)];
  const cats = [...new Set(dec.fields.map((d) => d.field.category))].sort();
  for (const cat of cats) {
    lines.push(`${cat.replace(/\b\w/g, (c) => c.toUpperCase())} fuses:`);
    for (const d of dec.fields.filter((x) => x.field.category === cat)) {
      const desc = d.field.description;
      const value = d.text;
      const sep = value.length > 20 ? '\n  ' : '';
      const head = `${`${d.field.name} (BLOCK${d.field.block})`.padEnd(50)} ${desc.slice(0, 50).padEnd(50)}`;
      lines.push(`${head}${sep} = ${value} ${perm(d)}${rawText(d)}`);
      for (let i = 50; i < desc.length; i += 50) lines.push(`${' '.repeat(50)} ${desc.slice(i, i + 50)}`);
    }
    lines.push('');
  }
  if (dec.decStatus !== 0) lines.push('WARNING: Coding scheme has encoding bit error warnings');
  lines.push(VDD_TEXT(dec));
  return lines.join('\n');
}
