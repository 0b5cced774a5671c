import { BLOCK_WORDS } from './registers';
import { keyBits } from '../chip/esp32';

/**
 * The ESP32 eFuse field table (espefuse's esp32 mem_definition.py; ESP-IDF esp_efuse_table.csv),
 * with espefuse's names, and its
 * categories, descriptions and summary order as espefuse v4.12.0 prints them (checked field by
 * field against its summaries in test/fixtures/vectors/efuse-summary).
 * This is the single source of truth for field positions and for which WR_DIS / RD_DIS bit
 * protects each field: the virtual controller, the inspector and the burn engine all derive
 * their protection behaviour from it.
 *
 * Bit numbering: `bit` is the offset inside the block, N = 32·word + bit-in-word, the same
 * numbering espefuse's `burn_bit` uses. Every field is contiguous in that numbering.
 */

/** One block's words: BLOCK0 has 7, BLOCK1..3 have 8 (raw 256 bits, also in 3/4 mode). */
export type EfuseWords = number[][];

export type EfuseBlock = 0 | 1 | 2 | 3;

/** espefuse v4.12 summary categories, spelled as its JSON has them (the text title-cases them: "Mac", "Spi Pad"). */
export type EfuseCategory = 'calibration' | 'config' | 'flash' | 'identity' | 'jtag' | 'MAC' | 'security' | 'spi pad' | 'vdd';

/**
 * How a value is shown:
 * - flag: one bit, True/False
 * - number: unsigned integer
 * - bitcount: the meaning is the number of bits set (FLASH_CRYPT_CNT parity, SECURE_VERSION)
 * - mask: a bit mask of protection bits (WR_DIS, RD_DIS)
 * - enum: a value with named meanings (`values`, shown as that text; a value without a name is
 *   shown as its number)
 * - mac: the factory MAC, 6 bytes whose register order is the reverse of the printed
 *   aa:bb:cc:dd:ee:ff order, CRC in MAC_CRC
 * - custom-mac: 6 bytes in register order, MAC byte 0 first, CRC in CUSTOM_MAC_CRC
 * - crc: CRC-8 byte of a MAC
 * - key: bytes shown as hex in register order (key blocks); sensitive, masked in logs
 * - spi-pin: 5-bit GPIO number (30/31 mean GPIO 32/33, 0 = default pins)
 * - adc-vref: sign-magnitude ×7 mV around 1100 mV
 * - adc-tp: two's-complement ×4 around a base value (`base`)
 */
export type EfuseDisplay =
  | 'flag'
  | 'number'
  | 'bitcount'
  | 'mask'
  | 'enum'
  | 'mac'
  | 'custom-mac'
  | 'crc'
  | 'key'
  | 'spi-pin'
  | 'adc-vref'
  | 'adc-tp';

/** espefuse efuse_type: bool, uint:N or bytes:N. */
export type EfuseValueType = 'bool' | 'uint' | 'bytes';

export interface EfuseField {
  name: string;
  /** Other names espefuse accepts for the same field. */
  alt: readonly string[];
  block: EfuseBlock;
  /** First bit inside the block (32·word + bit). */
  bit: number;
  /** Number of bits. */
  len: number;
  category: EfuseCategory;
  description: string;
  /** WR_DIS bit (0..15) that freezes this field; undefined when nothing protects it. */
  wrDis: number | undefined;
  /** RD_DIS bit (0..3) that hides this field from software (reads as 0); undefined when none. */
  rdDis: number | undefined;
  type: EfuseValueType;
  display: EfuseDisplay;
  /** Meanings of enum values. */
  values?: Readonly<Record<number, string>>;
  /** Base value of adc-tp fields. */
  base?: number;
  /** Why a protection bit or position is uncertain, when the spec marks it UNCONFIRMED. */
  note?: string;
  /**
   * When espefuse v4.12's summary lists the field: always (undefined), only when
   * BLK3_PART_RESERVE is set ('blk3-part-reserve'), only when MAC_VERSION is 1 ('custom-mac').
   */
  summaryIf?: SummaryCondition;
}

/** A condition under which espefuse's summary lists a BLOCK3 sub-field (see EfuseField.summaryIf). */
export type SummaryCondition = 'blk3-part-reserve' | 'custom-mac';

/** Word index of the field's first bit. */
export function fieldWord(f: EfuseField): number {
  return Math.floor(f.bit / 32);
}

/** Bit position of the field's first bit inside its first word. */
export function fieldPos(f: EfuseField): number {
  return f.bit % 32;
}

interface Def {
  name: string;
  alt?: string[];
  block: EfuseBlock;
  word: number;
  pos: number;
  len: number;
  cat: EfuseCategory;
  desc: string;
  wr?: number;
  rd?: number;
  display: EfuseDisplay;
  values?: Record<number, string>;
  base?: number;
  note?: string;
  when?: SummaryCondition;
}

const CODING_SCHEME_VALUES: Record<number, string> = {
  0: 'NONE (BLK1-3 len=256 bits)',
  1: '3/4 (BLK1-3 len=192 bits)',
  2: 'REPEAT (BLK1-3 len=128 bits) not supported',
  3: 'NONE (BLK1-3 len=256 bits)',
};

/*
 * Categories, descriptions (empty where espefuse has none) and the order of the list are
 * espefuse v4.12.0's: its summary prints a category's fields in this order (BLOCK0 fields in
 * bit order, then SECURE_VERSION and MAC_VERSION, the key blocks, the conditional BLOCK3
 * sub-fields). Source: espefuse v4.12.0 summaries, test/fixtures/vectors/efuse-summary.
 */
const DEFS: Def[] = [
  // ---- BLOCK0 word 0: protection masks, flash encryption counter
  { name: 'WR_DIS', block: 0, word: 0, pos: 0, len: 16, cat: 'config', desc: 'Efuse write disable mask', wr: 1, display: 'mask' },
  { name: 'RD_DIS', block: 0, word: 0, pos: 16, len: 4, cat: 'config', desc: 'Disable reading from BlOCK1-3', wr: 0, display: 'mask' },
  {
    name: 'FLASH_CRYPT_CNT', block: 0, word: 0, pos: 20, len: 7, cat: 'flash', wr: 2, display: 'bitcount',
    desc: 'Flash encryption is enabled if this field has an odd number of bits set',
  },
  {
    name: 'UART_DOWNLOAD_DIS', block: 0, word: 0, pos: 27, len: 1, cat: 'security', wr: 2, display: 'flag',
    desc: 'Disable UART download mode. Valid for ESP32 V3 and newer; only',
  },
  // ---- BLOCK0 words 1-2: factory MAC
  {
    name: 'MAC', alt: ['MAC_FACTORY'], block: 0, word: 1, pos: 0, len: 48, cat: 'MAC', wr: 3, display: 'mac',
    desc: 'MAC address',
  },
  { name: 'MAC_CRC', alt: ['MAC_FACTORY_CRC'], block: 0, word: 2, pos: 16, len: 8, cat: 'MAC', wr: 3, display: 'crc', desc: 'CRC8 for MAC address' },
  // ---- BLOCK0 word 3: chip identity
  { name: 'DISABLE_APP_CPU', alt: ['CHIP_VER_DIS_APP_CPU'], block: 0, word: 3, pos: 0, len: 1, cat: 'config', wr: 3, display: 'flag', desc: 'Disables APP CPU' },
  { name: 'DISABLE_BT', alt: ['CHIP_VER_DIS_BT'], block: 0, word: 3, pos: 1, len: 1, cat: 'config', wr: 3, display: 'flag', desc: 'Disables Bluetooth' },
  {
    name: 'CHIP_PACKAGE_4BIT', alt: ['CHIP_VER_PKG_4BIT'], block: 0, word: 3, pos: 2, len: 1, cat: 'identity', display: 'flag',
    desc: 'Chip package identifier #4bit', note: 'no write-protect in espefuse ≥4.6; espefuse 4.0 used WR_DIS 3 (UNCONFIRMED)',
  },
  { name: 'DIS_CACHE', alt: ['CHIP_VER_DIS_CACHE'], block: 0, word: 3, pos: 3, len: 1, cat: 'config', wr: 3, display: 'flag', desc: 'Disables cache' },
  {
    name: 'SPI_PAD_CONFIG_HD', block: 0, word: 3, pos: 4, len: 5, cat: 'spi pad', wr: 3, display: 'spi-pin',
    desc: 'read for SPI_pad_config_hd',
    note: 'IDF header and TRM say WR_DIS 3, espefuse ≥4.6 lists none: the conservative choice (protected by 3) is used',
  },
  {
    name: 'CHIP_PACKAGE', alt: ['CHIP_VER_PKG'], block: 0, word: 3, pos: 9, len: 3, cat: 'identity', display: 'number',
    desc: 'Chip package identifier', note: 'no write-protect in espefuse ≥4.6; espefuse 4.0 used WR_DIS 3 (UNCONFIRMED)',
  },
  { name: 'CHIP_CPU_FREQ_LOW', block: 0, word: 3, pos: 12, len: 1, cat: 'config', display: 'flag', desc: 'If set alongside EFUSE_RD_CHIP_CPU_FREQ_RATED; the ESP32\'s max CPU frequency is rated for 160MHz. 240MHz otherwise' },
  { name: 'CHIP_CPU_FREQ_RATED', block: 0, word: 3, pos: 13, len: 1, cat: 'config', display: 'flag', desc: 'If set; the ESP32\'s maximum CPU frequency has been rated' },
  {
    name: 'BLK3_PART_RESERVE', block: 0, word: 3, pos: 14, len: 1, cat: 'config', wr: 10, rd: 3, display: 'flag',
    desc: 'BLOCK3 partially served for ADC calibration data',
    note: 'RD_DIS 3 per TRM and espefuse; the IDF header lists only three fields (UNCONFIRMED, hidden here)',
  },
  {
    name: 'CHIP_VER_REV1', block: 0, word: 3, pos: 15, len: 1, cat: 'identity', display: 'flag', desc: 'bit is set to 1 for rev1 silicon',
    note: 'no write-protect in espefuse ≥4.6; espefuse 4.0 used WR_DIS 3 (UNCONFIRMED)',
  },
  // ---- BLOCK0 word 4: oscillator, ADC reference, VDD_SDIO
  {
    name: 'CLK8M_FREQ', alt: ['CK8M_FREQ'], block: 0, word: 4, pos: 0, len: 8, cat: 'config', wr: 4, display: 'number',
    desc: '8MHz clock freq override', note: 'WR_DIS 4 per espefuse yaml; QEMU calls bit 4 unused (UNCONFIRMED)',
  },
  {
    name: 'ADC_VREF', block: 0, word: 4, pos: 8, len: 5, cat: 'calibration', wr: 4, display: 'adc-vref',
    desc: 'True ADC reference voltage', note: 'WR_DIS 4 per espefuse yaml (UNCONFIRMED)',
  },
  { name: 'XPD_SDIO_REG', block: 0, word: 4, pos: 14, len: 1, cat: 'vdd', wr: 5, display: 'flag', desc: 'read for XPD_SDIO_REG' },
  { name: 'XPD_SDIO_TIEH', alt: ['SDIO_TIEH'], block: 0, word: 4, pos: 15, len: 1, cat: 'vdd', wr: 5, display: 'enum', desc: 'If XPD_SDIO_FORCE & XPD_SDIO_REG', values: { 0: '1.8V', 1: '3.3V' } },
  { name: 'XPD_SDIO_FORCE', alt: ['SDIO_FORCE'], block: 0, word: 4, pos: 16, len: 1, cat: 'vdd', wr: 5, display: 'flag', desc: 'Ignore MTDI pin (GPIO12) for VDD_SDIO on reset' },
  // ---- BLOCK0 word 5: SPI pads, revision, flash crypt config
  { name: 'SPI_PAD_CONFIG_CLK', block: 0, word: 5, pos: 0, len: 5, cat: 'spi pad', wr: 6, display: 'spi-pin', desc: 'Override SD_CLK pad (GPIO6/SPICLK)' },
  { name: 'SPI_PAD_CONFIG_Q', block: 0, word: 5, pos: 5, len: 5, cat: 'spi pad', wr: 6, display: 'spi-pin', desc: 'Override SD_DATA_0 pad (GPIO7/SPIQ)' },
  { name: 'SPI_PAD_CONFIG_D', block: 0, word: 5, pos: 10, len: 5, cat: 'spi pad', wr: 6, display: 'spi-pin', desc: 'Override SD_DATA_1 pad (GPIO8/SPID)' },
  { name: 'SPI_PAD_CONFIG_CS0', block: 0, word: 5, pos: 15, len: 5, cat: 'spi pad', wr: 6, display: 'spi-pin', desc: 'Override SD_CMD pad (GPIO11/SPICS0)' },
  {
    name: 'CHIP_VER_REV2', block: 0, word: 5, pos: 20, len: 1, cat: 'identity', display: 'flag', desc: '',
    note: 'no write-protect in espefuse ≥4.6; espefuse 4.0 used WR_DIS 6 (UNCONFIRMED)',
  },
  { name: 'VOL_LEVEL_HP_INV', block: 0, word: 5, pos: 22, len: 2, cat: 'config', wr: 3, display: 'number', desc: 'This field stores the voltage level for CPU to run at 240 MHz; or for flash/PSRAM to run at 80 MHz.0x0: level 7; 0x1: level 6; 0x2: level 5; 0x3: level 4. (RO)' },
  { name: 'WAFER_VERSION_MINOR', block: 0, word: 5, pos: 24, len: 2, cat: 'identity', display: 'number', desc: '' },
  {
    name: 'FLASH_CRYPT_CONFIG', alt: ['ENCRYPT_CONFIG'], block: 0, word: 5, pos: 28, len: 4, cat: 'flash', wr: 10, rd: 3, display: 'number',
    desc: 'Flash encryption config (key tweak bits)',
  },
  // ---- BLOCK0 word 6: coding scheme and security switches
  { name: 'CODING_SCHEME', block: 0, word: 6, pos: 0, len: 2, cat: 'config', wr: 10, rd: 3, display: 'enum', desc: 'Efuse variable block length scheme', values: CODING_SCHEME_VALUES },
  { name: 'CONSOLE_DEBUG_DISABLE', block: 0, word: 6, pos: 2, len: 1, cat: 'config', wr: 15, display: 'flag', desc: 'Disable ROM BASIC interpreter fallback' },
  { name: 'DISABLE_SDIO_HOST', block: 0, word: 6, pos: 3, len: 1, cat: 'config', display: 'flag', desc: '' },
  { name: 'ABS_DONE_0', block: 0, word: 6, pos: 4, len: 1, cat: 'security', wr: 12, display: 'flag', desc: 'Secure boot V1 is enabled for bootloader image' },
  { name: 'ABS_DONE_1', block: 0, word: 6, pos: 5, len: 1, cat: 'security', wr: 13, display: 'flag', desc: 'Secure boot V2 is enabled for bootloader image' },
  { name: 'JTAG_DISABLE', alt: ['DISABLE_JTAG'], block: 0, word: 6, pos: 6, len: 1, cat: 'jtag', wr: 14, display: 'flag', desc: 'Disable JTAG' },
  { name: 'DISABLE_DL_ENCRYPT', block: 0, word: 6, pos: 7, len: 1, cat: 'security', wr: 15, display: 'flag', desc: 'Disable flash encryption in UART bootloader' },
  { name: 'DISABLE_DL_DECRYPT', block: 0, word: 6, pos: 8, len: 1, cat: 'security', wr: 15, display: 'flag', desc: 'Disable flash decryption in UART bootloader' },
  { name: 'DISABLE_DL_CACHE', block: 0, word: 6, pos: 9, len: 1, cat: 'config', wr: 15, display: 'flag', desc: 'Disable flash cache in UART bootloader' },
  { name: 'KEY_STATUS', block: 0, word: 6, pos: 10, len: 1, cat: 'security', wr: 10, rd: 3, display: 'flag', desc: 'Usage of efuse block 3 (reserved)' },
  // ---- BLOCK3 sub-fields espefuse always lists (they alias the BLOCK3 whole-block field)
  { name: 'SECURE_VERSION', block: 3, word: 4, pos: 0, len: 32, cat: 'security', wr: 9, rd: 2, display: 'bitcount', desc: 'Secure version for anti-rollback' },
  {
    name: 'MAC_VERSION', alt: ['MAC_CUSTOM_VER'], block: 3, word: 5, pos: 24, len: 8, cat: 'MAC', wr: 9, rd: 2, display: 'enum', desc: 'Version of the MAC field',
    values: { 1: 'Custom MAC in BLOCK3' }, note: 'values other than 0 and 1 are shown as numbers (UNCONFIRMED: no vector has one)',
  },
  // ---- Key blocks (whole-block fields)
  { name: 'BLOCK1', alt: ['ENCRYPT_FLASH_KEY', 'flash_encryption'], block: 1, word: 0, pos: 0, len: 256, cat: 'security', wr: 7, rd: 0, display: 'key', desc: 'Flash encryption key' },
  { name: 'BLOCK2', alt: ['SECURE_BOOT_KEY', 'secure_boot_v1', 'secure_boot_v2'], block: 2, word: 0, pos: 0, len: 256, cat: 'security', wr: 8, rd: 1, display: 'key', desc: 'Security boot key' },
  { name: 'BLOCK3', alt: [], block: 3, word: 0, pos: 0, len: 256, cat: 'security', wr: 9, rd: 2, display: 'key', desc: 'Variable Block 3' },
  // ---- BLOCK3 sub-fields espefuse lists only when they are valid (word 2 is reserved: no field)
  { name: 'CUSTOM_MAC_CRC', alt: ['MAC_CUSTOM_CRC'], block: 3, word: 0, pos: 0, len: 8, cat: 'MAC', wr: 9, rd: 2, display: 'crc', desc: 'CRC8 for custom MAC address', when: 'custom-mac' },
  { name: 'CUSTOM_MAC', alt: ['MAC_CUSTOM'], block: 3, word: 0, pos: 8, len: 48, cat: 'MAC', wr: 9, rd: 2, display: 'custom-mac', desc: 'Custom MAC address', when: 'custom-mac' },
  { name: 'ADC1_TP_LOW', block: 3, word: 3, pos: 0, len: 7, cat: 'calibration', wr: 9, rd: 2, display: 'adc-tp', base: 278, desc: 'ADC1 Two Point calibration low point. Only valid if EFUSE_RD_BLK3_PART_RESERVE', when: 'blk3-part-reserve' },
  { name: 'ADC1_TP_HIGH', block: 3, word: 3, pos: 7, len: 9, cat: 'calibration', wr: 9, rd: 2, display: 'adc-tp', base: 3265, desc: 'ADC1 Two Point calibration high point. Only valid if EFUSE_RD_BLK3_PART_RESERVE', when: 'blk3-part-reserve' },
  { name: 'ADC2_TP_LOW', block: 3, word: 3, pos: 16, len: 7, cat: 'calibration', wr: 9, rd: 2, display: 'adc-tp', base: 421, desc: 'ADC2 Two Point calibration low point. Only valid if EFUSE_RD_BLK3_PART_RESERVE', when: 'blk3-part-reserve' },
  { name: 'ADC2_TP_HIGH', block: 3, word: 3, pos: 23, len: 9, cat: 'calibration', wr: 9, rd: 2, display: 'adc-tp', base: 3406, desc: 'ADC2 Two Point calibration high point. Only valid if EFUSE_RD_BLK3_PART_RESERVE', when: 'blk3-part-reserve' },
];

function build(d: Def): EfuseField {
  const f: EfuseField = {
    name: d.name,
    alt: d.alt ?? [],
    block: d.block,
    bit: d.word * 32 + d.pos,
    len: d.len,
    category: d.cat,
    description: d.desc,
    wrDis: d.wr,
    rdDis: d.rd,
    type: d.len === 1 ? 'bool' : d.display === 'key' || d.display === 'custom-mac' || d.display === 'mac' ? 'bytes' : 'uint',
    display: d.display,
  };
  if (d.values) f.values = d.values;
  if (d.base !== undefined) f.base = d.base;
  if (d.note) f.note = d.note;
  if (d.when) f.summaryIf = d.when;
  return Object.freeze(f);
}

/** Every eFuse field in espefuse v4.12's summary order: BLOCK0 in bit order, SECURE_VERSION, MAC_VERSION, the key blocks, the conditional BLOCK3 sub-fields. */
export const EFUSE_FIELDS: readonly EfuseField[] = Object.freeze(DEFS.map(build));

/**
 * A value espefuse's summary shows besides the eFuse fields: computed from other fields (and,
 * for WAFER_VERSION_MAJOR, from bit 31 of the APB_CTL_DATE register). It has no word or bit
 * position (`null` in espefuse's JSON), is always readable and writeable there, and is never
 * burned. Source: espefuse v4.12.0 summaries (test/fixtures/vectors/efuse-summary).
 */
export interface CalculatedField {
  name: 'WAFER_VERSION_MAJOR' | 'PKG_VERSION';
  block: 0;
  len: number;
  category: EfuseCategory;
  description: string;
}

/** espefuse's calculated summary fields, in its order (after every eFuse field). */
export const CALCULATED_FIELDS: readonly CalculatedField[] = Object.freeze([
  {
    name: 'WAFER_VERSION_MAJOR', block: 0, len: 3, category: 'identity',
    description: 'calc WAFER VERSION MAJOR from CHIP_VER_REV1 and CHIP_VER_REV2 and apb_ctl_date (read only)',
  },
  { name: 'PKG_VERSION', block: 0, len: 4, category: 'identity', description: 'calc Chip package = CHIP_PACKAGE_4BIT << 3 + CHIP_PACKAGE (read only)' },
] as const);

/**
 * Fields that overlap another field on purpose: the BLOCK3 sub-fields live inside the BLOCK3
 * whole-block field (espefuse's esp32 mem_definition.py). No other overlaps exist.
 */
export const ALIASING_FIELDS: readonly string[] = ['BLOCK3'];

const BY_NAME = new Map<string, EfuseField>();
for (const f of EFUSE_FIELDS) {
  BY_NAME.set(f.name.toUpperCase(), f);
  for (const a of f.alt) BY_NAME.set(a.toUpperCase(), f);
}

/** Looks a field up by its espefuse name or an alternative name (case-insensitive). */
export function findField(name: string): EfuseField | undefined {
  return BY_NAME.get(name.toUpperCase());
}

/** Like findField, for names that are known to exist (throws on a typo: a programming error). */
export function field(name: string): EfuseField {
  const f = findField(name);
  if (!f) throw new Error(`unknown eFuse field ${name}`);
  return f;
}

export function fieldsInBlock(block: EfuseBlock): EfuseField[] {
  return EFUSE_FIELDS.filter((f) => f.block === block);
}

/** Fields frozen by a WR_DIS bit (all of them at once: one bit protects a group, ESP32 TRM eFuse chapter). */
export function fieldsProtectedByWrDis(bit: number): EfuseField[] {
  return EFUSE_FIELDS.filter((f) => f.wrDis === bit);
}

/** Fields hidden by an RD_DIS bit. */
export function fieldsProtectedByRdDis(bit: number): EfuseField[] {
  return EFUSE_FIELDS.filter((f) => f.rdDis === bit);
}

/** Block-sized bit mask (one number per word) covering a field. */
export function fieldMask(f: EfuseField): number[] {
  return placeBits(f, (1n << BigInt(f.len)) - 1n);
}

/** A fresh all-zero eFuse image: BLOCK0 7 words, BLOCK1..3 8 words. */
export function emptyWords(): EfuseWords {
  return BLOCK_WORDS.map((n) => new Array<number>(n).fill(0));
}

export function cloneWords(w: EfuseWords): EfuseWords {
  return w.map((b) => b.slice());
}

function checkShape(words: EfuseWords, block: number): number[] {
  const b = words[block];
  if (!b || b.length < BLOCK_WORDS[block]!) throw new RangeError(`eFuse words have no complete BLOCK${block}`);
  return b;
}

/** A block's words as one little-endian bigint (bit N = 32·word + bit). */
export function blockToBigInt(blockWords: readonly number[]): bigint {
  let v = 0n;
  for (let i = blockWords.length - 1; i >= 0; i--) v = (v << 32n) | BigInt(blockWords[i]! >>> 0);
  return v;
}

function placeBits(f: EfuseField, value: bigint): number[] {
  const n = BLOCK_WORDS[f.block]!;
  const shifted = value << BigInt(f.bit);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) out[i] = Number((shifted >> BigInt(32 * i)) & 0xffffffffn);
  return out;
}

/** The raw value of a field read from block words (no interpretation). */
export function readFieldRaw(words: EfuseWords, f: EfuseField): bigint {
  const b = checkShape(words, f.block);
  return (blockToBigInt(b) >> BigInt(f.bit)) & ((1n << BigInt(f.len)) - 1n);
}

/** The raw value as a number, for fields of at most 48 bits (throws for longer ones). */
export function readFieldNumber(words: EfuseWords, f: EfuseField): number {
  if (f.len > 48) throw new RangeError(`${f.name} is ${f.len} bits wide; read it with readFieldRaw or readFieldBytes`);
  return Number(readFieldRaw(words, f));
}

/** A bytes field in register byte order (byte i = bits 8i..8i+7 of the field). */
export function readFieldBytes(words: EfuseWords, f: EfuseField): Buffer {
  const v = readFieldRaw(words, f);
  const out = Buffer.alloc(Math.ceil(f.len / 8));
  for (let i = 0; i < out.length; i++) out[i] = Number((v >> BigInt(8 * i)) & 0xffn);
  return out;
}

function toBig(f: EfuseField, value: bigint | number | Uint8Array): bigint {
  let v: bigint;
  if (value instanceof Uint8Array) {
    v = 0n;
    for (let i = value.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(value[i]!);
  } else v = BigInt(value);
  if (v < 0n || v >> BigInt(f.len) !== 0n) throw new RangeError(`value does not fit the ${f.len}-bit field ${f.name}`);
  return v;
}

/**
 * The block-sized words that, OR-ed into the block by a program operation, set `value` in the
 * field: only the field's bits can be non-zero. Bytes values are in register byte order.
 */
export function fieldWords(f: EfuseField, value: bigint | number | Uint8Array): number[] {
  return placeBits(f, toBig(f, value));
}

/** A copy of `words` with the field replaced by `value` (other bits untouched). */
export function withField(words: EfuseWords, f: EfuseField, value: bigint | number | Uint8Array): EfuseWords {
  const out = cloneWords(words);
  const blk = checkShape(out, f.block);
  const mask = fieldMask(f);
  const vals = fieldWords(f, value);
  for (let i = 0; i < blk.length; i++) blk[i] = ((blk[i]! & ~mask[i]!) | vals[i]!) >>> 0;
  return out;
}

export function popcount(v: bigint | number): number {
  let x = BigInt(v);
  let n = 0;
  while (x > 0n) {
    n += Number(x & 1n);
    x >>= 1n;
  }
  return n;
}

/** Whether a WR_DIS bit is set in BLOCK0 word 0 of `words`. */
export function isWrDisSet(words: EfuseWords, bit: number): boolean {
  return ((checkShape(words, 0)[0]! >>> bit) & 1) === 1;
}

/** Whether an RD_DIS bit is set (BLOCK0 word0 bits 19:16). */
export function isRdDisSet(words: EfuseWords, bit: number): boolean {
  return ((checkShape(words, 0)[0]! >>> (16 + bit)) & 1) === 1;
}

/** Whether the field can still be programmed given the WR_DIS bits in `words`. */
export function isFieldWritable(words: EfuseWords, f: EfuseField): boolean {
  return f.wrDis === undefined || !isWrDisSet(words, f.wrDis);
}

/** Whether software can read the field given the RD_DIS bits in `words`. */
export function isFieldReadable(words: EfuseWords, f: EfuseField): boolean {
  return f.rdDis === undefined || !isRdDisSet(words, f.rdDis);
}

/**
 * Per-block masks of the bits a WR_DIS value protects: the whole block for BLOCK1..3 (WR_DIS
 * 7/8/9) and the protected fields' bits in BLOCK0. The program operation leaves these bits alone.
 */
export function writeProtectMask(wrDis: number): number[][] {
  const masks = BLOCK_WORDS.map((n) => new Array<number>(n).fill(0));
  for (let bit = 0; bit < 16; bit++) {
    if (((wrDis >>> bit) & 1) === 0) continue;
    for (const f of fieldsProtectedByWrDis(bit)) {
      const m = fieldMask(f);
      const blk = masks[f.block]!;
      for (let i = 0; i < blk.length; i++) blk[i] = (blk[i]! | m[i]!) >>> 0;
    }
  }
  return masks;
}

/**
 * Per-block masks of the bits an RD_DIS value hides from the read registers (they read 0):
 * whole BLOCK1..3 for bits 0..2, the BLOCK0 partial fields for bit 3.
 */
export function readProtectMask(rdDis: number): number[][] {
  const masks = BLOCK_WORDS.map((n) => new Array<number>(n).fill(0));
  for (let bit = 0; bit < 4; bit++) {
    if (((rdDis >>> bit) & 1) === 0) continue;
    for (const f of fieldsProtectedByRdDis(bit)) {
      const m = fieldMask(f);
      const blk = masks[f.block]!;
      for (let i = 0; i < blk.length; i++) blk[i] = (blk[i]! | m[i]!) >>> 0;
    }
  }
  return masks;
}

/** CODING_SCHEME values. */
export const CodingScheme = { NONE: 0, THREE_FOUR: 1, REPEAT: 2, NONE_RECOVERY: 3 } as const;

/** Usable data bits of BLOCK1..3 under a coding scheme (BLOCK0 is always uncoded, 224 bits). */
export function blockDataBits(block: EfuseBlock, codingScheme: number): number {
  if (block === 0) return 7 * 32;
  if (codingScheme === CodingScheme.REPEAT) return 128;
  return keyBits(codingScheme === CodingScheme.THREE_FOUR ? '3/4' : 'none');
}

/** CRC-8 of a MAC (reflected poly 0x8C, init 0, no final XOR), bytes in printed order (espefuse's MAC CRC check). */
export function macCrc8(mac: Uint8Array): number {
  let crc = 0;
  for (const b of mac) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = crc & 1 ? (crc >>> 1) ^ 0x8c : crc >>> 1;
  }
  return crc & 0xff;
}

/** The factory MAC bytes in printed order (aa:bb:… = bytes[0..5]) from BLOCK0. */
export function factoryMacBytes(words: EfuseWords): Buffer {
  const v = readFieldRaw(words, field('MAC'));
  const out = Buffer.alloc(6);
  for (let i = 0; i < 6; i++) out[i] = Number((v >> BigInt(8 * (5 - i))) & 0xffn);
  return out;
}

/** The MAC field value (48-bit big-endian number) for MAC bytes in printed order. */
export function macBytesToValue(mac: Uint8Array): bigint {
  if (mac.length !== 6) throw new RangeError('a MAC has 6 bytes');
  let v = 0n;
  for (const b of mac) v = (v << 8n) | BigInt(b);
  return v;
}

export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
