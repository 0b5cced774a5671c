import { BLOCK_COUNT, BLOCK_WORDS, EFUSE_DEC_STATUS, DEC_STATUS_MASK, rdataAddr } from './registers';
import type { EfuseWords } from './fields';

/**
 * The only thing the eFuse code needs from a device: register reads and writes. The ROM
 * loader client provides it over a serial/TCP link, the virtual ESP32 provides it directly.
 */
export interface EfuseRegisterAccess {
  readReg(addr: number): Promise<number>;
  writeReg(addr: number, value: number): Promise<void>;
  /**
   * Optional: a number that changes whenever the eFuses may have changed (the ROM loader client
   * counts writes into the eFuse controller, resets and RAM code). While it stays the same,
   * readEfuses answers from its last snapshot instead of reading 32 registers again.
   */
  readonly efuseEpoch?: number;
}

/** What software can see of the eFuses right now: the read windows and the 3/4 decode status. */
export interface EfuseSnapshot {
  /** Read-window words: BLOCK0 7 words, BLOCK1..3 8 words (3/4: words 6, 7 carry no data). */
  words: EfuseWords;
  /** EFUSE_DEC_STATUS & 0xFFF: non-zero means a 3/4 check failed somewhere. */
  decStatus: number;
}

/** The last snapshot per access, with the epoch it was read in. */
const lastSnapshot = new WeakMap<EfuseRegisterAccess, { epoch: number; snap: EfuseSnapshot }>();

function copy(snap: EfuseSnapshot): EfuseSnapshot {
  return { words: snap.words.map((b) => [...b]), decStatus: snap.decStatus };
}

/**
 * Reads every read-window register and DEC_STATUS (no reload: the chip loads them at reset). An
 * access with an `efuseEpoch` that has not changed since its last read gets a copy of that read.
 */
export async function readEfuses(access: EfuseRegisterAccess): Promise<EfuseSnapshot> {
  const epoch = access.efuseEpoch;
  const last = epoch === undefined ? undefined : lastSnapshot.get(access);
  if (last && last.epoch === epoch) return copy(last.snap);
  const words: EfuseWords = [];
  for (let b = 0; b < BLOCK_COUNT; b++) {
    const blk: number[] = [];
    for (let w = 0; w < BLOCK_WORDS[b]!; w++) blk.push((await access.readReg(rdataAddr(b, w))) >>> 0);
    words.push(blk);
  }
  const decStatus = ((await access.readReg(EFUSE_DEC_STATUS)) & DEC_STATUS_MASK) >>> 0;
  const snap = { words, decStatus };
  if (epoch !== undefined && access.efuseEpoch === epoch) lastSnapshot.set(access, { epoch, snap: copy(snap) });
  return snap;
}
