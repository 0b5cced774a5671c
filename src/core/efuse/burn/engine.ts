import { UserError } from '../../errors';
import {
  BLOCK_COUNT, BLOCK_WORDS, CLK_SEL0_MASK, CLK_SEL1_MASK, CLK_SEL1_SHIFT, CMD_PGM, CMD_READ, CMD_TIMEOUT_MS,
  CONF_PROGRAM_MAGIC, CONF_READ_MAGIC, DAC_CLK_DIV_MASK, DEC_STATUS_MASK, EFUSE_CLK, EFUSE_CMD, EFUSE_CONF,
  EFUSE_DAC_CONF, EFUSE_DEC_STATUS, EFUSE_TIMING, rdataAddr, wdataAddr,
} from '../registers';
import type { EfuseBlock } from '../fields';
import type { EfuseRegisterAccess } from '../access';

/**
 * Programs one eFuse block through the controller sequence espefuse uses (esp32 fields.py
 * efuse_program) and checks
 * the result. Nothing here decides *what* to burn: that is the plan's job; this only makes
 * sure the requested bits end up set, or says clearly that they did not.
 */
export interface BlockBurn {
  block: EfuseBlock;
  /** Words for the WDATA window (the 3/4-encoded form for BLOCK1..3 on 3/4 chips). */
  program: readonly number[];
  /** Bits that must read back as 1 afterwards, in read-window terms (decoded for 3/4). */
  expect: readonly number[];
}

export interface EngineOptions {
  /** APB clock in MHz (= crystal in ROM download mode); decides the timing registers. */
  apbMhz?: 26 | 40 | 80;
  /** How long to wait for EFUSE_CMD to clear; espefuse uses 0.25 s. */
  timeoutMs?: number;
  onProgress?(message: string): void;
}

/** espefuse's retry rule: at most three program passes per block. */
export const MAX_BURN_PASSES = 3;
/** Extra reload + DEC_STATUS checks after a program pass (espefuse does five). */
export const EXTRA_DECODE_CHECKS = 5;
/** A slow link still gets this many polls before a timeout is declared. */
const MIN_POLLS = 5;

export interface BlockBurnResult {
  passes: number;
  /** The block's read window after the burn. */
  readBack: number[];
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitIdle(access: EfuseRegisterAccess, timeoutMs: number): Promise<void> {
  const start = Date.now();
  for (let polls = 1; ; polls++) {
    if (((await access.readReg(EFUSE_CMD)) & (CMD_PGM | CMD_READ)) === 0) return;
    if (polls >= MIN_POLLS && Date.now() - start > timeoutMs) {
      throw new UserError('E_EFUSE_TIMEOUT', 'Timed out waiting for the eFuse controller command to complete; check the connection and run the same command again (completed steps are recognised).');
    }
    // Yield to timers: the controller (real or virtual) finishes asynchronously.
    await sleep(1);
  }
}

/** Reload the read windows from the physical fuses (CONF = read magic, CMD = READ). */
export async function reloadEfuses(access: EfuseRegisterAccess, timeoutMs = CMD_TIMEOUT_MS): Promise<void> {
  await access.writeReg(EFUSE_CONF, CONF_READ_MAGIC);
  await access.writeReg(EFUSE_CMD, CMD_READ);
  await waitIdle(access, timeoutMs);
}

async function setTiming(access: EfuseRegisterAccess, apbMhz: 26 | 40 | 80): Promise<void> {
  const t = EFUSE_TIMING[apbMhz];
  // Read-modify-write of the individual fields, as ESP-IDF does (esp_efuse_utility.c).
  const clk = await access.readReg(EFUSE_CLK);
  await access.writeReg(EFUSE_CLK, ((clk & ~(CLK_SEL0_MASK | CLK_SEL1_MASK)) | t.sel0 | (t.sel1 << CLK_SEL1_SHIFT)) >>> 0);
  const dac = await access.readReg(EFUSE_DAC_CONF);
  await access.writeReg(EFUSE_DAC_CONF, ((dac & ~DAC_CLK_DIV_MASK) | t.dacClkDiv) >>> 0);
}

/**
 * A program command burns the WDATA of *every* block, so stale data left in another block's
 * program registers would be burned too. We clear them all first (espefuse does not; being
 * stricter costs a few register writes and removes a way to burn something nobody planned).
 */
async function clearAllWdata(access: EfuseRegisterAccess): Promise<void> {
  for (let b = 0; b < BLOCK_COUNT; b++) {
    for (let w = 0; w < BLOCK_WORDS[b]!; w++) await access.writeReg(wdataAddr(b, w), 0);
  }
}

/** Attempts to get the program registers to read back exactly as staged before giving up. */
export const STAGE_ATTEMPTS = 3;

/**
 * Writes the block's words into WDATA (every other block's WDATA zero) and reads *all* WDATA
 * registers back before any program command. WRITE_REG carries no checksum, so one garbled byte
 * on the serial link can change a value or an address; a PGM would then burn bits nobody planned,
 * for ever (the fault campaign found this). Only when the registers hold exactly the plan is the
 * program command sent; otherwise nothing is burned and the user is told.
 */
async function stageWdata(access: EfuseRegisterAccess, burn: BlockBurn): Promise<void> {
  for (let attempt = 1; attempt <= STAGE_ATTEMPTS; attempt++) {
    await clearAllWdata(access);
    for (let w = 0; w < burn.program.length; w++) await access.writeReg(wdataAddr(burn.block, w), burn.program[w]! >>> 0);
    let same = true;
    for (let b = 0; b < BLOCK_COUNT && same; b++) {
      for (let w = 0; w < BLOCK_WORDS[b]! && same; w++) {
        const want = b === burn.block ? burn.program[w]! >>> 0 : 0;
        same = (await access.readReg(wdataAddr(b, w))) >>> 0 === want;
      }
    }
    if (same) return;
  }
  await clearAllWdata(access);
  throw new UserError('E_EFUSE_STAGING', `The eFuse program registers did not read back as written ${STAGE_ATTEMPTS} times (a garbled serial link?), so nothing was burned in this step; check the cable and run the same command again (completed steps are recognised).`);
}

async function readBlock(access: EfuseRegisterAccess, block: number): Promise<number[]> {
  const out: number[] = [];
  for (let w = 0; w < BLOCK_WORDS[block]!; w++) out.push((await access.readReg(rdataAddr(block, w))) >>> 0);
  return out;
}

function missingBits(readBack: readonly number[], expect: readonly number[]): boolean {
  return expect.some((e, i) => ((e >>> 0) & ~(readBack[i]! >>> 0)) !== 0);
}

export async function burnBlock(access: EfuseRegisterAccess, burn: BlockBurn, opts: EngineOptions = {}): Promise<BlockBurnResult> {
  const timeout = opts.timeoutMs ?? CMD_TIMEOUT_MS;
  const n = BLOCK_WORDS[burn.block]!;
  if (burn.program.length !== n || burn.expect.length !== n) throw new RangeError(`BLOCK${burn.block} burns take ${n} words`);
  let readBack: number[] = [];
  for (let pass = 1; pass <= MAX_BURN_PASSES; pass++) {
    // Timing and EFUSE_CONF first, the program registers last: a garbled address in any of those
    // writes could land in a WDATA register, and only a write made before the read-back check is
    // caught by it (campaign seed robust-q9, run 104 of the 3/4-coding GPy: BLOCK3 bits burned).
    await setTiming(access, opts.apbMhz ?? 40);
    await access.writeReg(EFUSE_CONF, CONF_PROGRAM_MAGIC);
    await stageWdata(access, burn);
    await access.writeReg(EFUSE_CMD, CMD_PGM);
    await waitIdle(access, timeout);
    let codingError = false;
    for (let check = 0; check <= EXTRA_DECODE_CHECKS && !codingError; check++) {
      await reloadEfuses(access, timeout);
      codingError = ((await access.readReg(EFUSE_DEC_STATUS)) & DEC_STATUS_MASK) !== 0;
    }
    readBack = await readBlock(access, burn.block);
    if (codingError) {
      opts.onProgress?.(`Coding check error in BLOCK${burn.block} after pass ${pass}; burning it again.`);
      continue;
    }
    if (missingBits(readBack, burn.expect)) {
      opts.onProgress?.(`Not all bits of BLOCK${burn.block} were set after pass ${pass}; burning it again.`);
      continue;
    }
    // ESP-IDF clears the program registers afterwards; so do we, so nothing lingers there.
    await clearAllWdata(access);
    return { passes: pass, readBack };
  }
  await clearAllWdata(access);
  throw new UserError('E_BURN_FAILED', `After ${MAX_BURN_PASSES} attempts the requested bits of BLOCK${burn.block} are still not set (or its coding check fails); stop here, keep the board and the audit log, and run \`efuse summary\` to see its state.`);
}
