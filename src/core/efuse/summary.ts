import { decodeEfuses, efuseType, isThreeFour, majorRevision, type DecodedEfuses, type DecodedField } from './decode';
import { readEfuses, type EfuseRegisterAccess } from './access';
import { APB_CTL_DATE_REG } from '../chip/esp32';
import { CALCULATED_FIELDS, field, fieldPos, fieldWord, readFieldBytes, readFieldRaw, type EfuseField } from './fields';
import { blockDataBytes } from './coding';

/**
 * `efuse summary` in espefuse v4.12.0's shapes (`espefuse.py summary`, text and `--format json`),
 * field by field: the same
 * fields (CUSTOM_MAC/CUSTOM_MAC_CRC only when MAC_VERSION is 1, ADC1/2_TP_* only when
 * BLK3_PART_RESERVE is set, the calculated WAFER_VERSION_MAJOR and PKG_VERSION always), the
 * same attributes, values and JSON types. Checked against espefuse's own summaries in
 * test/fixtures/vectors/efuse-summary.
 *
 * One deliberate difference: where espefuse prints the bytes of a readable, non-empty
 * BLOCK1/BLOCK2 (keys burned by block name, not read-protected), the product prints `??` for
 * every byte (value and raw_value) and adds `fingerprint` (JSON) / `(fingerprint …)` (text):
 * key bytes never reach the terminal (docs/efuse-summary.md).
 */
export interface SummaryJsonEntry {
  bit_len: number;
  block: number;
  category: string;
  description: string;
  efuse_type: string;
  /** Only on a readable key block that holds data: the product's stand-in for its bytes. */
  fingerprint?: string;
  name: string;
  /** null for the calculated fields. */
  pos: number | null;
  /** `0x` + the field's bits in hex (whole nibbles); bytes fields in register byte order. */
  raw_value: string;
  readable: boolean;
  value: boolean | number | string;
  /** null for the calculated fields. */
  word: number | null;
  writeable: boolean;
}

/** One summary row, everything both the JSON and the text need. */
interface Row {
  json: SummaryJsonEntry;
  /** The text summary's value (espefuse's `get_meaning()` as a string, `?` for hidden digits). */
  text: string;
  /** The text summary's last column: `(0x..)`/`(0b..)`, empty for bytes fields. */
  bits: string;
}

const hex = (v: bigint, len: number): string => v.toString(16).padStart(Math.ceil(len / 4), '0');
const bytesHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** Whether espefuse lists the field for these eFuses (its conditional BLOCK3 sub-fields). */
function shown(dec: DecodedEfuses, f: EfuseField): boolean {
  if (f.summaryIf === undefined) return true;
  const raw = (name: string): bigint => dec.fields.find((d) => d.field.name === name)?.raw ?? 0n;
  return f.summaryIf === 'blk3-part-reserve' ? raw('BLK3_PART_RESERVE') === 1n : raw('MAC_VERSION') === 1n;
}

/** The field's bits in register byte order, for bytes fields (24 data bytes for a 3/4-coded key block). */
function registerBytes(dec: DecodedEfuses, f: EfuseField, threeFour: boolean): Buffer {
  return f.display === 'key' ? blockDataBytes(dec.words[f.block]!, threeFour) : readFieldBytes(dec.words, f);
}

function jsonValue(d: DecodedField): boolean | number | string {
  const f = d.field;
  if (!d.readable || d.sensitive) return d.text;
  switch (f.display) {
    case 'flag':
      return d.raw === 1n;
    case 'enum':
      return f.values?.[Number(d.raw)] ?? Number(d.raw);
    case 'mac':
    case 'custom-mac':
    case 'key':
      return d.text;
    default:
      // number, bitcount, mask, crc, spi-pin, adc-vref, adc-tp: integers (all fields ≤ 32 bits).
      return Number(d.text);
  }
}

function fieldRow(dec: DecodedEfuses, d: DecodedField, threeFour: boolean): Row {
  const f = d.field;
  const keyBlock = f.display === 'key';
  const len = keyBlock && threeFour ? 192 : f.len;
  const bytes = f.type === 'bytes';
  let raw: string;
  if (bytes) {
    const b = registerBytes(dec, f, threeFour);
    raw = d.sensitive ? '?'.repeat(2 * b.length) : d.readable ? bytesHex(b) : '00'.repeat(b.length);
  } else {
    // An unreadable field reads as zero (UNCONFIRMED for BLOCK0 fields: no vector hides one).
    raw = hex(d.readable ? readFieldRaw(dec.words, f) : 0n, f.len);
  }
  const fp = d.sensitive ? dec.keyBlocks[f.block as 1 | 2 | 3]?.fingerprint : undefined;
  let bits = '';
  if (fp) bits = `(fingerprint ${fp})`;
  else if (!bytes) {
    const hidden = (s: string): string => (d.readable ? s : s.replace(/0/g, '?'));
    bits = f.len % 4 === 0 ? `(0x${hidden(hex(d.raw, f.len))})` : `(0b${hidden(d.raw.toString(2).padStart(f.len, '0'))})`;
  }
  const json: SummaryJsonEntry = {
    bit_len: len,
    block: f.block,
    category: f.category,
    description: f.description,
    efuse_type: bytes ? `bytes:${len / 8}` : efuseType(f),
    name: f.name,
    pos: fieldPos(f),
    raw_value: `0x${raw}`,
    readable: d.readable,
    value: jsonValue(d),
    word: fieldWord(f),
    writeable: d.writeable,
  };
  if (fp) {
    // Keep espefuse's sorted key order: fingerprint goes between efuse_type and name.
    const { bit_len, block, category, description, efuse_type, ...rest } = json;
    return { json: { bit_len, block, category, description, efuse_type, fingerprint: fp, ...rest }, text: d.text, bits };
  }
  return { json, text: d.text, bits };
}

function calculatedRows(dec: DecodedEfuses, apbCtlDate: number): Row[] {
  const n = (name: string): number => Number(readFieldRaw(dec.words, field(name)));
  const values: Record<string, number> = {
    WAFER_VERSION_MAJOR: majorRevision(dec.words, apbCtlDate),
    PKG_VERSION: (n('CHIP_PACKAGE_4BIT') << 3) | n('CHIP_PACKAGE'),
  };
  return CALCULATED_FIELDS.map((c) => {
    const v = values[c.name]!;
    const big = BigInt(v);
    return {
      json: {
        bit_len: c.len, block: c.block, category: c.category, description: c.description, efuse_type: `uint:${c.len}`, name: c.name,
        pos: null, raw_value: `0x${hex(big, c.len)}`, readable: true, value: v, word: null, writeable: true,
      },
      text: String(v),
      bits: c.len % 4 === 0 ? `(0x${hex(big, c.len)})` : `(0b${big.toString(2).padStart(c.len, '0')})`,
    };
  });
}

/** Every row espefuse shows, in its order (eFuse fields, then the calculated ones). */
function rows(dec: DecodedEfuses, apbCtlDate: number): Row[] {
  const threeFour = isThreeFour(dec.codingScheme);
  const out = dec.fields.filter((d) => shown(dec, d.field)).map((d) => fieldRow(dec, d, threeFour));
  return [...out, ...calculatedRows(dec, apbCtlDate)];
}

/**
 * `efuse summary --json`: espefuse v4.12's `summary --format json` object, keyed by field name
 * in sorted order, each entry's keys sorted (as Python's `json.dump(sort_keys=True)`), so that
 * `JSON.stringify(summaryJson(...), null, 4)` is byte for byte espefuse's file except for the
 * masked key blocks described above.
 *
 * @param dec the decoded read windows (decodeEfuses).
 * @param apbCtlDate the APB_CTL_DATE register (0x3FF6607C); only its bit 31 is used, for
 *   WAFER_VERSION_MAJOR, as espefuse does.
 */
export function summaryJson(dec: DecodedEfuses, apbCtlDate: number): Record<string, SummaryJsonEntry> {
  const all = rows(dec, apbCtlDate).map((r) => r.json);
  all.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: Record<string, SummaryJsonEntry> = {};
  for (const e of all) out[e.name] = e;
  return out;
}

function perm(readable: boolean, writeable: boolean): string {
  return `${readable ? 'R' : '-'}/${writeable ? 'W' : '-'}`;
}

const VDD_TEXT = (dec: DecodedEfuses): string => {
  const get = (n: string): boolean => dec.fields.find((d) => d.field.name === n)?.raw === 1n;
  const p = 'Flash voltage (VDD_SDIO) ';
  if (!get('XPD_SDIO_FORCE')) return `${p}determined by GPIO12 on reset (High for 1.8V, Low/NC for 3.3V)`;
  if (!get('XPD_SDIO_REG')) return `${p}internal regulator disabled by efuse.`;
  return get('XPD_SDIO_TIEH') ? `${p}set to 3.3V by efuse.` : `${p}set to 1.8V by efuse.`;
};

/**
 * The human summary, espefuse v4.12's `summary` text line for line: categories in alphabetical
 * order, rows `%-50s %-50s%s = %s %s %s` (a value longer than 20 characters on its own line),
 * descriptions wrapped at 50 columns, the VDD_SDIO line last. No trailing newline. Same
 * deliberate difference as the JSON for readable key blocks.
 *
 * @param apbCtlDate the APB_CTL_DATE register, as for summaryJson.
 */
export function summaryText(dec: DecodedEfuses, apbCtlDate: number): string {
  const lines = ['EFUSE_NAME (Block) Description  = [Meaningful Value] [Readable/Writeable] (Hex Value)', '-'.repeat(88)];
  const all = rows(dec, apbCtlDate);
  const cats = [...new Set(all.map((r) => r.json.category))].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase()));
  for (const cat of cats) {
    lines.push(`${cat.toLowerCase().replace(/\b\w/g, (c) => c.toUpperCase())} fuses:`);
    for (const r of all.filter((x) => x.json.category === cat)) {
      const desc = r.json.description;
      const sep = r.text.length > 20 ? '\n  ' : '';
      const head = `${`${r.json.name} (BLOCK${r.json.block})`.padEnd(50)} ${desc.slice(0, 50).padEnd(50)}`;
      lines.push(`${head}${sep} = ${r.text} ${perm(r.json.readable, r.json.writeable)} ${r.bits}`);
      for (let i = 50; i < desc.length; i += 50) lines.push(`${''.padEnd(50)} ${desc.slice(i, i + 50).padEnd(50)}`);
    }
    lines.push('');
  }
  if (dec.decStatus !== 0) lines.push('WARNING: Coding scheme has encoding bit error warnings');
  lines.push(VDD_TEXT(dec));
  return lines.join('\n');
}

/** What the summary needs from a board: its decoded eFuses and the APB_CTL_DATE register. */
export interface SummarySource {
  dec: DecodedEfuses;
  /** APB_CTL_DATE (0x3FF6607C); bit 31 is the third bit of the major revision. */
  apbCtlDate: number;
}

/** Reads what `efuse summary` shows (every eFuse read window, DEC_STATUS, APB_CTL_DATE). Read-only. */
export async function readSummarySource(access: EfuseRegisterAccess): Promise<SummarySource> {
  const dec = decodeEfuses(await readEfuses(access));
  return { dec, apbCtlDate: (await access.readReg(APB_CTL_DATE_REG)) >>> 0 };
}
