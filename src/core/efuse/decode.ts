import {
  EFUSE_FIELDS, CodingScheme, factoryMacBytes, field, fieldPos, fieldWord, formatMac, isFieldReadable, isFieldWritable,
  isRdDisSet, isWrDisSet, macCrc8, popcount, readFieldBytes, readFieldRaw, type EfuseField, type EfuseWords,
} from './fields';
import { blockDataBytes } from './coding';
import type { EfuseSnapshot } from './access';
import { fingerprint } from '../util/fingerprint';

/**
 * A register dump turned into field values. Read-protected fields read as 0 on the chip; here
 * they are marked unreadable instead, so a protected key block is never mistaken for an empty one.
 */
export interface DecodedField {
  field: EfuseField;
  readable: boolean;
  writeable: boolean;
  /** Raw value as read (0 when unreadable: that zero means nothing). */
  raw: bigint;
  /** espefuse-style value text ("True", "1100", "aa:bb:… (CRC 0x12 OK)", "00 11 …"), `?` for hidden digits. */
  text: string;
  /** Key block with data, shown masked: key bytes never reach output. */
  sensitive: boolean;
}

export type KeyBlockStatus = 'empty' | 'data' | 'protected';

export interface KeyBlockState {
  block: 1 | 2 | 3;
  readable: boolean;
  writeable: boolean;
  status: KeyBlockStatus;
  /** Fingerprint of the block's data in key-file order (reversed register order), when readable and non-empty. */
  fingerprint?: string;
}

export interface DecodedEfuses {
  words: EfuseWords;
  decStatus: number;
  fields: DecodedField[];
  /** undefined when RD_DIS bit 3 hides it (it then reads 0, which would look like "None"). */
  codingScheme: number | undefined;
  keyBlocks: { 1: KeyBlockState; 2: KeyBlockState; 3: KeyBlockState };
  flashCryptCnt: number;
  flashEncryptionEnabled: boolean;
  /** `flash encryption is enabled (N plaintext flashes left)` as the bootloader computes it. */
  plaintextFlashesLeft: number;
  /** undefined when read-protected (esptool then assumes 0xF). */
  flashCryptConfig: number | undefined;
  secureBootV1: boolean;
  mac: string;
}

/** Key blocks whose contents are secret: their bytes are masked in every output. */
export const SECRET_BLOCKS: readonly number[] = [1, 2];

export function isThreeFour(codingScheme: number | undefined): boolean {
  return codingScheme === CodingScheme.THREE_FOUR;
}

function hexBytes(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** espefuse's MAC text: `aa:bb:cc:dd:ee:ff (CRC 0x12 OK)`, or `(CRC 0x12 invalid - calculated 0x34)`. */
function macWithCrc(mac: Uint8Array, stored: number): string {
  const calc = macCrc8(mac);
  const hex = (n: number): string => `0x${n.toString(16).padStart(2, '0')}`;
  return `${formatMac(mac)} (CRC ${hex(stored)} ${stored === calc ? 'OK' : `invalid - calculated ${hex(calc)}`})`;
}

function valueText(words: EfuseWords, f: EfuseField, raw: bigint, threeFour: boolean): string {
  switch (f.display) {
    case 'flag':
      return raw ? 'True' : 'False';
    case 'enum':
      return f.values?.[Number(raw)] ?? String(raw);
    case 'mac':
      return macWithCrc(factoryMacBytes(words), Number(readFieldRaw(words, field('MAC_CRC'))));
    case 'custom-mac':
      return macWithCrc(readFieldBytes(words, f), Number(readFieldRaw(words, field('CUSTOM_MAC_CRC'))));
    case 'key': {
      const bytes = f.len === 256 ? blockDataBytes(words[f.block]!, threeFour) : readFieldBytes(words, f);
      return hexBytes(bytes);
    }
    case 'adc-vref': {
      const n = Number(raw);
      const mag = n & 0xf;
      return String(1100 + (n & 0x10 ? -mag : mag) * 7);
    }
    case 'adc-tp': {
      const n = Number(raw);
      const signed = n & (1 << (f.len - 1)) ? n - (1 << f.len) : n;
      return String((f.base ?? 0) + signed * 4);
    }
    case 'spi-pin': {
      const n = Number(raw);
      return String(n === 30 ? 32 : n === 31 ? 33 : n);
    }
    default:
      return raw.toString();
  }
}

function keyBlockState(words: EfuseWords, block: 1 | 2 | 3, threeFour: boolean): KeyBlockState {
  const readable = !isRdDisSet(words, block - 1);
  const writeable = !isWrDisSet(words, 6 + block);
  if (!readable) return { block, readable, writeable, status: 'protected' };
  const data = blockDataBytes(words[block]!, threeFour);
  if (data.every((b) => b === 0)) return { block, readable, writeable, status: 'empty' };
  return { block, readable, writeable, status: 'data', fingerprint: fingerprint(Buffer.from(data).reverse()) };
}

export function decodeEfuses(snap: EfuseSnapshot): DecodedEfuses {
  const words = snap.words;
  const codingHidden = isRdDisSet(words, 3);
  const codingScheme = codingHidden ? undefined : Number(readFieldRaw(words, field('CODING_SCHEME')));
  const threeFour = isThreeFour(codingScheme);
  const fields = EFUSE_FIELDS.map((f): DecodedField => {
    const readable = isFieldReadable(words, f);
    const writeable = isFieldWritable(words, f);
    const raw = readable ? readFieldRaw(words, f) : 0n;
    let text = valueText(words, f, raw, threeFour);
    const sensitive = readable && f.display === 'key' && SECRET_BLOCKS.includes(f.block) && raw !== 0n;
    if (sensitive) text = text.replace(/[0-9a-f]{2}/g, '??');
    if (!readable) text = text.replace(/0/g, '?');
    return { field: f, readable, writeable, raw, text, sensitive };
  });
  const cnt = Number(readFieldRaw(words, field('FLASH_CRYPT_CNT')));
  const enabled = popcount(cnt) % 2 === 1;
  return {
    words,
    decStatus: snap.decStatus,
    fields,
    codingScheme,
    keyBlocks: { 1: keyBlockState(words, 1, threeFour), 2: keyBlockState(words, 2, threeFour), 3: keyBlockState(words, 3, threeFour) },
    flashCryptCnt: cnt,
    flashEncryptionEnabled: enabled,
    plaintextFlashesLeft: isWrDisSet(words, 2) ? 0 : Math.floor((7 - popcount(cnt)) / 2),
    flashCryptConfig: codingHidden ? undefined : Number(readFieldRaw(words, field('FLASH_CRYPT_CONFIG'))),
    secureBootV1: readFieldRaw(words, field('ABS_DONE_0')) === 1n,
    mac: formatMac(factoryMacBytes(words)),
  };
}

/** espefuse's efuse_type text. */
export function efuseType(f: EfuseField): string {
  if (f.type === 'bool') return 'bool';
  if (f.type === 'bytes') return `bytes:${f.len / 8}`;
  return `uint:${f.len}`;
}

export { fieldWord, fieldPos };

/**
 * The chip's major revision (espefuse's WAFER_VERSION_MAJOR) from CHIP_VER_REV1 (bit 0),
 * CHIP_VER_REV2 (bit 1) and bit 31 of the APB_CTL_DATE register (bit 2): 0→0, 1→1, 3→2, 7→3,
 * any other combination 0 (espefuse v4.12's summaries).
 */
export function majorRevision(words: EfuseWords, apbCtlDate: number): number {
  const bits = Number(readFieldRaw(words, field('CHIP_VER_REV1'))) | (Number(readFieldRaw(words, field('CHIP_VER_REV2'))) << 1) | (((apbCtlDate >>> 31) & 1) << 2);
  return ({ 0: 0, 1: 1, 3: 2, 7: 3 } as Record<number, number>)[bits] ?? 0;
}
