import { decode34, dataToWords34 } from '../efuse/coding34';
import {
  CodingScheme,
  cloneWords,
  emptyWords,
  field,
  readFieldRaw,
  readProtectMask,
  writeProtectMask,
  type EfuseField,
  type EfuseWords,
} from '../efuse/fields';
import * as R from '../efuse/registers';

/**
 * The ESP32 eFuse controller as the ESP32 TRM's eFuse chapter describes it:
 * - `raw` is the physical bit array (never masked); bits only go 0 → 1.
 * - WDATA registers hold program data; a PGM command (with EFUSE_CONF = 0x5A5A) ORs every
 *   block's WDATA into `raw`, except the bits the *effective* WR_DIS protects. The effective
 *   WR_DIS/RD_DIS are captured at the last READ (or reset), so a WR_DIS bit burned in the same
 *   PGM as the data it protects does not block that data (UNCONFIRMED on silicon).
 * - A READ command (EFUSE_CONF = 0x5AA5) recomputes the read windows from `raw`: 3/4 decode
 *   (DEC_STATUS on bad check bytes), then RD_DIS masking (read-protected bits read 0).
 * - A CMD written while CONF holds any other value is ignored (QEMU; UNCONFIRMED on silicon).
 * - WDATA is left as is after PGM (UNCONFIRMED whether silicon clears it; QEMU doesn't). This is
 *   the conservative choice: a later PGM (of any block) burns stale program data again, so a tool
 *   that forgets to clear WDATA shows the extra bits in a rehearsal instead of only on a chip.
 *   A chip reset clears WDATA (register reset values).
 * Protection comes only from the field table (fields.ts).
 */

/** Called before each word is programmed; throwing aborts the burn there (power-loss faults). */
export type EfuseStepHook = (block: number, word: number) => void;

export interface EfuseControllerOptions {
  /** Initial physical content; default all zeros. */
  raw?: EfuseWords;
  /** How many READ_REGs of EFUSE_CMD still see the command bit after it was issued (default 1). */
  busyPolls?: number;
}

export class EfuseController {
  private raw: EfuseWords;
  private wdata: EfuseWords = emptyWords();
  private rdata: EfuseWords = emptyWords();
  private conf = R.CONF_FORCE_NO_WR_RD_DIS;
  private cmd = 0;
  private busyLeft = 0;
  private clk = R.CLK_RESET;
  private dacConf = R.DAC_CONF_RESET;
  private intRaw = 0;
  private intEna = 0;
  private decStatus = 0;
  private date = R.DATE_RESET;
  private effWrDis = 0;
  private effRdDis = 0;
  private readonly busyPolls: number;
  /** Fault hook; see EfuseStepHook. */
  onProgramWord: EfuseStepHook | undefined;

  constructor(opts: EfuseControllerOptions = {}) {
    this.raw = opts.raw ? cloneWords(opts.raw) : emptyWords();
    this.busyPolls = opts.busyPolls ?? 1;
    this.reset();
  }

  /** Chip reset: registers back to their reset values, then the load the chip performs at reset. */
  reset(): void {
    this.wdata = emptyWords();
    this.conf = R.CONF_FORCE_NO_WR_RD_DIS;
    this.cmd = 0;
    this.busyLeft = 0;
    this.clk = R.CLK_RESET;
    this.dacConf = R.DAC_CONF_RESET;
    this.intRaw = 0;
    this.intEna = 0;
    this.date = R.DATE_RESET;
    this.reload();
  }

  /** Copy of the physical bits (what the flash-encryption and secure-boot hardware use). */
  rawWords(): EfuseWords {
    return cloneWords(this.raw);
  }

  /** Copy of the read windows as software sees them after the last READ. */
  readWords(): EfuseWords {
    return cloneWords(this.rdata);
  }

  /** Replaces the physical bits (factory setup, state-file load) and reloads. */
  setRaw(raw: EfuseWords): void {
    this.changes++;
    this.raw = cloneWords(raw);
    for (let b = 0; b < R.BLOCK_COUNT; b++) {
      const blk = this.raw[b];
      if (!blk || blk.length !== R.BLOCK_WORDS[b]) throw new RangeError(`BLOCK${b} must have ${R.BLOCK_WORDS[b]} words`);
      for (let i = 0; i < blk.length; i++) blk[i] = blk[i]! >>> 0;
    }
    this.reload();
  }

  /** A field's physical value (test/inspection accessor; ignores read protection). */
  rawField(f: EfuseField | string): bigint {
    return readFieldRaw(this.raw, typeof f === 'string' ? field(f) : f);
  }

  /** A field as software reads it (read-protected bits are 0). */
  visibleField(f: EfuseField | string): bigint {
    return readFieldRaw(this.rdata, typeof f === 'string' ? field(f) : f);
  }

  /** The physical coding scheme (CODING_SCHEME from `raw`, which read protection cannot hide from hardware). */
  get codingScheme(): number {
    return this.raw[0]![6]! & 3;
  }

  get decodeStatus(): number {
    return this.decStatus;
  }

  /** Whether an address belongs to the controller's register space. */
  static owns(addr: number): boolean {
    return addr >= R.EFUSE_BASE && addr <= R.EFUSE_END;
  }

  readReg(addr: number): number {
    const win = R.classifyDataAddr(addr);
    if (win) return (win.kind === 'rdata' ? this.rdata : this.wdata)[win.block]![win.word]! >>> 0;
    switch (addr) {
      case R.EFUSE_CLK:
        return this.clk;
      case R.EFUSE_CONF:
        return this.conf;
      case R.EFUSE_CMD: {
        if (this.busyLeft > 0) {
          this.busyLeft--;
          if (this.busyLeft === 0) {
            const v = this.cmd;
            this.cmd = 0;
            return v;
          }
        }
        return this.cmd;
      }
      case R.EFUSE_INT_RAW:
        return this.intRaw;
      case R.EFUSE_INT_ST:
        return this.intRaw & this.intEna;
      case R.EFUSE_INT_ENA:
        return this.intEna;
      case R.EFUSE_DAC_CONF:
        return this.dacConf;
      case R.EFUSE_DEC_STATUS:
        return this.decStatus;
      case R.EFUSE_DATE:
        return this.date;
      default:
        return 0; // EFUSE_STATUS (debug) and reserved words
    }
  }

  writeReg(addr: number, value: number): void {
    const v = value >>> 0;
    const win = R.classifyDataAddr(addr);
    if (win) {
      if (win.kind === 'wdata') this.wdata[win.block]![win.word] = v;
      return; // RDATA is read-only
    }
    switch (addr) {
      case R.EFUSE_CLK:
        this.clk = v & 0x1ffff;
        return;
      case R.EFUSE_CONF:
        this.conf = v & 0x1ffff;
        return;
      case R.EFUSE_CMD:
        this.command(v & 3);
        return;
      case R.EFUSE_INT_ENA:
        this.intEna = v & 3;
        return;
      case R.EFUSE_INT_CLR:
        this.intRaw &= ~v & 3;
        return;
      case R.EFUSE_DAC_CONF:
        this.dacConf = v & 0x1ff;
        return;
      case R.EFUSE_DATE:
        this.date = v;
        return;
      default:
        return;
    }
  }

  private command(bits: number): void {
    if (this.cmd !== 0) return; // busy: a new command is not accepted until the current one ends
    const op = this.conf & R.CONF_OP_CODE_MASK;
    let ran = 0;
    if (bits & R.CMD_PGM && op === R.CONF_PROGRAM_MAGIC) {
      this.cmd = R.CMD_PGM;
      this.busyLeft = this.busyPolls;
      this.program();
      this.intRaw |= R.INT_PGM_DONE;
      ran = R.CMD_PGM;
    } else if (bits & R.CMD_READ && op === R.CONF_READ_MAGIC) {
      this.cmd = R.CMD_READ;
      this.busyLeft = this.busyPolls;
      this.reload();
      this.intRaw |= R.INT_READ_DONE;
      ran = R.CMD_READ;
    }
    if (ran && this.busyPolls === 0) this.cmd = 0;
  }

  /** Bumped by every programmed word and setRaw: a state file knows whether it is behind. */
  changes = 0;

  /** PGM: raw |= wdata & ~protected, word by word (a power loss can stop it between words). */
  private program(): void {
    const protect = writeProtectMask(this.effWrDis);
    for (let b = 0; b < R.BLOCK_COUNT; b++) {
      for (let w = 0; w < R.BLOCK_WORDS[b]!; w++) {
        const add = this.wdata[b]![w]! & ~protect[b]![w]!;
        if ((add & ~this.raw[b]![w]!) === 0) continue;
        this.onProgramWord?.(b, w);
        this.raw[b]![w] = (this.raw[b]![w]! | add) >>> 0;
        this.changes++;
      }
    }
  }

  /** READ: rebuild the read windows from raw, and capture the effective protection bits. */
  private reload(): void {
    const coding = this.raw[0]![6]! & 3;
    const rd = emptyWords();
    let dec = 0;
    rd[0] = this.raw[0]!.slice();
    for (let b = 1; b < R.BLOCK_COUNT; b++) {
      if (coding === CodingScheme.THREE_FOUR) {
        const d = decode34(this.raw[b]!);
        rd[b] = [...dataToWords34(d.data), 0, 0];
        // DEC_STATUS layout is UNCONFIRMED: 4 bits per block (one per 6-byte group), BLOCK1 in 3:0.
        d.groupErrors.forEach((e, g) => {
          if (e) dec |= 1 << (4 * (b - 1) + g);
        });
      } else {
        rd[b] = this.raw[b]!.slice();
      }
    }
    this.effWrDis = this.raw[0]![0]! & 0xffff;
    this.effRdDis = (this.raw[0]![0]! >>> 16) & 0xf;
    const hide = readProtectMask(this.effRdDis);
    for (let b = 0; b < R.BLOCK_COUNT; b++) for (let w = 0; w < R.BLOCK_WORDS[b]!; w++) rd[b]![w] = (rd[b]![w]! & ~hide[b]![w]!) >>> 0;
    this.rdata = rd;
    this.decStatus = dec & R.DEC_STATUS_MASK;
  }
}
