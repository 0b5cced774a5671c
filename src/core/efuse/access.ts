import { BLOCK_COUNT, BLOCK_WORDS, EFUSE_DEC_STATUS, DEC_STATUS_MASK, rdataAddr } from './registers';
import type { EfuseWords } from './fields';

/**
 * The only thing the eFuse code needs from a device: register reads and writes. The ROM
 * loader client provides it over a serial/TCP link, the virtual ESP32 provides it directly.
 */
export interface EfuseRegisterAccess {
  readReg(addr: number): Promise<number>;
  writeReg(addr: number, value: number): Promise<void>;
}

/** What software can see of the eFuses right now: the read windows and the 3/4 decode status. */
export interface EfuseSnapshot {
  /** Read-window words: BLOCK0 7 words, BLOCK1..3 8 words (3/4: words 6, 7 carry no data). */
  words: EfuseWords;
  /** EFUSE_DEC_STATUS & 0xFFF: non-zero means a 3/4 check failed somewhere. */
  decStatus: number;
}

/** Reads every read-window register and DEC_STATUS (no reload: the chip loads them at reset). */
export async function readEfuses(access: EfuseRegisterAccess): Promise<EfuseSnapshot> {
  const words: EfuseWords = [];
  for (let b = 0; b < BLOCK_COUNT; b++) {
    const blk: number[] = [];
    for (let w = 0; w < BLOCK_WORDS[b]!; w++) blk.push((await access.readReg(rdataAddr(b, w))) >>> 0);
    words.push(blk);
  }
  const decStatus = ((await access.readReg(EFUSE_DEC_STATUS)) & DEC_STATUS_MASK) >>> 0;
  return { words, decStatus };
}
