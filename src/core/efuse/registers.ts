/**
 * ESP32 eFuse controller register map (ESP32 TRM, eFuse controller chapter; ESP-IDF
 * soc/esp32/include/soc/efuse_reg.h). Addresses are absolute
 * (DR_REG_EFUSE_BASE + offset) so they can be passed straight to READ_REG / WRITE_REG.
 */
import { EFUSE_BASE } from '../chip/esp32';

export { EFUSE_BASE };

/** Number of 32-bit words per block: BLOCK0 has 7, BLOCK1..3 have 8. */
export const BLOCK_WORDS: readonly number[] = [7, 8, 8, 8];
export const BLOCK_COUNT = 4;

/** Offsets of the read (RDATA) windows, word 0 of each block. */
const RDATA_OFFSET: readonly number[] = [0x000, 0x038, 0x058, 0x078];
/** Offsets of the write (WDATA, program data) windows, word 0 of each block. */
const WDATA_OFFSET: readonly number[] = [0x01c, 0x098, 0x0b8, 0x0d8];

export const EFUSE_CLK = EFUSE_BASE + 0x0f8;
export const EFUSE_CONF = EFUSE_BASE + 0x0fc;
export const EFUSE_STATUS = EFUSE_BASE + 0x100;
export const EFUSE_CMD = EFUSE_BASE + 0x104;
export const EFUSE_INT_RAW = EFUSE_BASE + 0x108;
export const EFUSE_INT_ST = EFUSE_BASE + 0x10c;
export const EFUSE_INT_ENA = EFUSE_BASE + 0x110;
export const EFUSE_INT_CLR = EFUSE_BASE + 0x114;
export const EFUSE_DAC_CONF = EFUSE_BASE + 0x118;
export const EFUSE_DEC_STATUS = EFUSE_BASE + 0x11c;
export const EFUSE_DATE = EFUSE_BASE + 0x1fc;
/** Last address of the controller's register space (EFUSE_DATE). */
export const EFUSE_END = EFUSE_DATE + 3;

/** EFUSE_CONF.OP_CODE values (bits 15:0): any other value makes a CMD write a no-op. */
export const CONF_PROGRAM_MAGIC = 0x5a5a;
export const CONF_READ_MAGIC = 0x5aa5;
export const CONF_OP_CODE_MASK = 0xffff;
/** EFUSE_CONF bit16 FORCE_NO_WR_RD_DIS: reset value 1, meaning UNCONFIRMED (not modelled). */
export const CONF_FORCE_NO_WR_RD_DIS = 1 << 16;

/** EFUSE_CMD bits; both self-clear when the operation completes. */
export const CMD_READ = 0x1;
export const CMD_PGM = 0x2;

/** EFUSE_INT_RAW bits. */
export const INT_READ_DONE = 0x1;
export const INT_PGM_DONE = 0x2;

/** Reset values (ESP-IDF efuse_reg.h). */
export const CLK_RESET = 0x4052; // SEL0 0x52, SEL1 0x40, CLK_EN 0
export const DAC_CONF_RESET = 40;
export const DATE_RESET = 0x16042600;

/** EFUSE_DEC_STATUS: bits 11:0 flag 3/4 decode warnings (bit layout UNCONFIRMED; 4 bits per block assumed). */
export const DEC_STATUS_MASK = 0xfff;

/** EFUSE_CLK / EFUSE_DAC_CONF fields (espefuse esp32 fields.py set_efuse_timing). */
export const CLK_SEL0_MASK = 0xff;
export const CLK_SEL1_SHIFT = 8;
export const CLK_SEL1_MASK = 0xff00;
export const CLK_EN = 1 << 16;
export const DAC_CLK_DIV_MASK = 0xff;
export const DAC_CLK_PAD_SEL = 1 << 8;

/** Timing values espefuse programs before every burn, keyed by APB frequency in MHz (espefuse esp32 fields.py). */
export const EFUSE_TIMING: Readonly<Record<26 | 40 | 80, { sel0: number; sel1: number; dacClkDiv: number }>> = {
  26: { sel0: 250, sel1: 255, dacClkDiv: 52 },
  40: { sel0: 160, sel1: 255, dacClkDiv: 80 },
  80: { sel0: 80, sel1: 128, dacClkDiv: 100 },
};

/** espefuse gives up waiting for EFUSE_CMD to clear after this long (espefuse esp32 fields.py). */
export const CMD_TIMEOUT_MS = 250;

function checkBlockWord(block: number, word: number): void {
  if (!Number.isInteger(block) || block < 0 || block >= BLOCK_COUNT) throw new RangeError(`no eFuse block ${block}`);
  if (!Number.isInteger(word) || word < 0 || word >= BLOCK_WORDS[block]!) throw new RangeError(`BLOCK${block} has no word ${word}`);
}

/** Address of EFUSE_BLKn_RDATAw. */
export function rdataAddr(block: number, word: number): number {
  checkBlockWord(block, word);
  return EFUSE_BASE + RDATA_OFFSET[block]! + 4 * word;
}

/** Address of EFUSE_BLKn_WDATAw. */
export function wdataAddr(block: number, word: number): number {
  checkBlockWord(block, word);
  return EFUSE_BASE + WDATA_OFFSET[block]! + 4 * word;
}

export type EfuseWindow = { kind: 'rdata' | 'wdata'; block: number; word: number };

/** Classifies an address inside the RDATA/WDATA windows; undefined for every other address. */
export function classifyDataAddr(addr: number): EfuseWindow | undefined {
  if ((addr & 3) !== 0) return undefined;
  for (let block = 0; block < BLOCK_COUNT; block++) {
    const n = BLOCK_WORDS[block]!;
    const r = addr - EFUSE_BASE - RDATA_OFFSET[block]!;
    if (r >= 0 && r < 4 * n) return { kind: 'rdata', block, word: r / 4 };
    const w = addr - EFUSE_BASE - WDATA_OFFSET[block]!;
    if (w >= 0 && w < 4 * n) return { kind: 'wdata', block, word: w / 4 };
  }
  return undefined;
}
