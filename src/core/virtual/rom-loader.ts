import * as zlib from 'node:zlib';
import { Op, RomError, SYNC_PAYLOAD } from '../rom/opcodes';
import { checksum, decodeRequest, encodeResponse, HEADER_LEN, type Request } from '../rom/packet';
import type { Faults } from './faults';
import { romXtalEstimate, rtcCaliFor, type RegisterSpace } from './registers';
import type { SpiFlash } from './spi-flash';
import { EFUSE_BLK0_RDATA4_REG, PAGE_SIZE, SECTOR_SIZE } from '../chip/esp32';
import { eraseMs, flashReadMs, type TimingModel } from '../chip/flash-timing';

/**
 * The ESP32 mask-ROM serial loader (esptool docs, Serial Protocol; esptool's loader.py and
 * targets/esp32.py): ROM-format replies with
 * 4 status bytes `[status, error, 0, 0]` and a stale value field (the last READ_REG result).
 * No flasher stub is emulated (this product never uploads one): MEM_END with a jump hands
 * control to code the model cannot run, so the board goes silent until it is reset.
 *
 * DISABLE_DL_ENCRYPT / _DECRYPT / _CACHE (ESP32 TRM, eFuse controller chapter) restrict the
 * flash-encryption engine and the MMU cache in download mode. No ROM command uses either (the
 * ROM has no encrypted write, and READ_FLASH_SLOW / MD5 read raw flash through SPI), so they
 * have no observable effect on this loader; they matter to a stub model, which is not built.
 */
export interface LoaderEnv {
  flash: SpiFlash;
  regs: RegisterSpace;
  faults: Faults | undefined;
  timing: TimingModel | undefined;
  /**
   * Charges busy time to the device's time line (timing model on): the reply that follows goes
   * out only after it. `flash` marks erase/program time.
   */
  spend(ms: number, flash: boolean): void;
  /** Sends one response packet (the device SLIP-encodes it). */
  send(packet: Buffer): Promise<void>;
  uartBaud(): number;
  /** Switches the chip's UART to a new rate (after the reply went out at the old one). */
  setUartBaud(baud: number): void;
  /** FLASH_END / FLASH_DEFL_END: reboot (0) or run user code from flash (1). */
  leaveLoader(runUserCode: boolean): void;
  /** MEM_END with a jump: the ROM starts code at `entry`. */
  jumpToRam(entry: number): void;
  /** Opcode byte used in the reply to an unknown opcode (UNCONFIRMED, default 0x00). */
  unknownOpcodeReplyOp: number;
  /**
   * How many times that rejection frame is sent (UNCONFIRMED: 1 is assumed,
   * esptool's comment says the ROM repeats it up to 8 times). Tests set 8 to prove a client
   * drains the repeats instead of reading them as the answer to its next command.
   */
  unknownOpcodeReplyRepeats: number;
}

/** Plausible non-zero SYNC value: the observed 0x20120707 is the payload's first word. */
const SYNC_VALUE = 0x20120707;

type WriteSession = { kind: 'flash'; offset: number; blockSize: number; numBlocks: number };
type DeflSession = {
  kind: 'defl';
  offset: number;
  eraseSize: number;
  written: number;
  inflater: zlib.Inflate;
  out: Buffer[];
  failed: boolean;
  ended: boolean;
};
type MemSession = { addr: number; size: number; blockSize: number; numBlocks: number };

class Reject {
  constructor(readonly code: number) {}
}

export class RomLoader {
  private lastValue = 0;
  private spiAttached = false;
  /** SPI_SET_PARAMS total size; bounds flash commands like the ROM's flashchip struct. */
  private declaredSize: number | undefined;
  private write: WriteSession | DeflSession | undefined;
  private mem: MemSession | undefined;

  constructor(private readonly env: LoaderEnv) {}

  /** Back to the state right after a chip reset. */
  reset(): void {
    this.lastValue = 0;
    this.spiAttached = false;
    this.declaredSize = undefined;
    this.endDefl();
    this.write = undefined;
    this.mem = undefined;
  }

  async handleFrame(frame: Buffer): Promise<void> {
    const req = decodeRequest(frame);
    if ('error' in req) {
      // A frame too short or not a request is ignored; a size field that disagrees with the
      // data is an invalid message (ROM error 0x05).
      if (frame.length >= HEADER_LEN && frame[0] === 0x00) await this.reply(frame[1]!, RomError.INVALID_MESSAGE);
      return;
    }
    try {
      await this.dispatch(req);
    } catch (e) {
      if (e instanceof Reject) await this.reply(req.op, e.code);
      else throw e;
    }
  }

  private async reply(op: number, error = 0, payload: Uint8Array = Buffer.alloc(0), value = this.lastValue): Promise<void> {
    const status = Buffer.from([error ? 1 : 0, error, 0, 0]);
    await this.env.send(encodeResponse(op, value, Buffer.concat([payload, status])));
  }

  private need(req: Request, len: number): void {
    if (req.data.length !== len) throw new Reject(RomError.INVALID_MESSAGE);
  }

  private u32(req: Request, i: number): number {
    return req.data.readUInt32LE(4 * i);
  }

  private async dispatch(req: Request): Promise<void> {
    switch (req.op) {
      case Op.SYNC:
        return this.sync(req);
      case Op.READ_REG: {
        this.need(req, 4);
        const addr = this.u32(req, 0);
        if (addr & 3) throw new Reject(RomError.INVALID_MESSAGE); // word-aligned only
        this.lastValue = this.env.regs.read(addr) >>> 0;
        return this.reply(req.op);
      }
      case Op.WRITE_REG:
        return this.writeReg(req);
      case Op.SPI_ATTACH:
        // ROM takes 8 bytes; whether it tolerates 4 is UNCONFIRMED, so 4 is rejected.
        this.need(req, 8);
        this.spiAttached = true;
        return this.reply(req.op);
      case Op.SPI_SET_PARAMS: {
        this.need(req, 24);
        const total = this.u32(req, 1);
        this.declaredSize = total;
        return this.reply(req.op);
      }
      case Op.CHANGE_BAUDRATE:
        return this.changeBaud(req);
      case Op.FLASH_BEGIN:
        return this.flashBegin(req);
      case Op.FLASH_DATA:
        return this.flashData(req);
      case Op.FLASH_END:
        return this.flashEnd(req, false);
      case Op.FLASH_DEFL_BEGIN:
        return this.deflBegin(req);
      case Op.FLASH_DEFL_DATA:
        return this.deflData(req);
      case Op.FLASH_DEFL_END:
        return this.flashEnd(req, true);
      case Op.SPI_FLASH_MD5:
        return this.md5(req);
      case Op.READ_FLASH_SLOW:
        return this.readSlow(req);
      case Op.MEM_BEGIN:
        return this.memBegin(req);
      case Op.MEM_DATA:
        return this.memData(req);
      case Op.MEM_END:
        return this.memEnd(req);
      default:
        // Unknown opcode (GET_SECURITY_INFO, stub-only 0xD0–0xD4…): a frame whose opcode does not
        // echo the request, status 01 05, once by default (repeat count UNCONFIRMED).
        for (let i = 0; i < Math.max(1, this.env.unknownOpcodeReplyRepeats); i++) await this.reply(this.env.unknownOpcodeReplyOp, RomError.INVALID_MESSAGE);
        return;
    }
  }

  private async sync(req: Request): Promise<void> {
    if (!req.data.equals(Buffer.from(SYNC_PAYLOAD))) throw new Reject(RomError.INVALID_MESSAGE);
    // The ROM answers SYNC eight times.
    for (let i = 0; i < 8; i++) await this.reply(req.op, 0, Buffer.alloc(0), SYNC_VALUE);
  }

  private async writeReg(req: Request): Promise<void> {
    if (req.data.length === 0 || req.data.length % 16 !== 0) throw new Reject(RomError.INVALID_MESSAGE);
    for (let i = 0; i < req.data.length / 16; i++) {
      const addr = this.u32(req, 4 * i);
      const value = this.u32(req, 4 * i + 1);
      const mask = this.u32(req, 4 * i + 2);
      const delayUs = this.u32(req, 4 * i + 3);
      if (addr & 3) throw new Reject(RomError.INVALID_MESSAGE);
      // Several tuples and the delay before the write follow the stub; for the ROM both are
      // UNCONFIRMED. The product's client sends one tuple with delay 0, so it does
      // not depend on either; esptool's delay_after_us tuple is accepted too.
      if (this.env.timing && delayUs) this.env.spend(delayUs / 1000, false);
      const v = mask === 0xffffffff ? value : ((this.env.regs.read(addr) & ~mask) | (value & mask)) >>> 0;
      this.env.regs.write(addr, v);
    }
    return this.reply(req.op);
  }

  private async changeBaud(req: Request): Promise<void> {
    this.need(req, 8);
    const requested = this.u32(req, 0);
    if (requested === 0) throw new Reject(RomError.INVALID_MESSAGE);
    // esptool pre-distorts the rate by the ROM's crystal estimate (esptool loader.py change_baud);
    // the ROM divides the
    // distorted value by that same estimate, so invert it here to find the real line rate.
    const ck8m = Number(this.env.regs.read(EFUSE_BLK0_RDATA4_REG) & 0xff);
    const xtal = romXtalEstimate(rtcCaliFor(ck8m), ck8m);
    const valid = xtal > 33e6 ? 40e6 : 26e6;
    const actual = xtal > 0 ? Math.round((requested * valid) / xtal) : requested;
    await this.reply(req.op);
    this.env.setUartBaud(actual);
  }

  private flashLimit(): number {
    return this.declaredSize ?? this.env.flash.size;
  }

  /** Addresses past the physical chip but inside the declared size wrap (NOR ignores the upper address bits). */
  private phys(addr: number): number {
    return addr % this.env.flash.size;
  }

  private requireAttach(): void {
    // ROM flash commands before SPI_ATTACH: the real error is UNCONFIRMED; 01 05 is used.
    if (!this.spiAttached) throw new Reject(RomError.INVALID_MESSAGE);
  }

  private async eraseRegion(offset: number, size: number): Promise<void> {
    if (size === 0) return;
    const first = Math.floor(offset / SECTOR_SIZE);
    const last = Math.floor((offset + size - 1) / SECTOR_SIZE);
    for (let s = first; s <= last; s++) {
      const addr = this.phys(s * SECTOR_SIZE);
      this.env.faults?.step('flash-erase', `sector 0x${addr.toString(16)}`);
      this.env.flash.eraseSector(addr);
    }
    // Erased before the reply (ROM erase-on-begin, as esptool's write_flash --no-stub waits for it): the host waits for all of it, at
    // the profile's erase granularity (per sector, or in 64 KiB blocks where they fit).
    if (this.env.timing) this.env.spend(eraseMs(this.env.timing, offset, size), true);
  }

  /** Programs page by page, then reads back; false when the read-back differs (ROM error 0x08). */
  private async programVerify(offset: number, data: Uint8Array): Promise<boolean> {
    let pos = 0;
    while (pos < data.length) {
      const addr = offset + pos;
      const n = Math.min(PAGE_SIZE - (addr % PAGE_SIZE), data.length - pos);
      const p = this.phys(addr);
      this.env.faults?.step('flash-program', `page 0x${(p - (p % PAGE_SIZE)).toString(16)}`);
      this.env.flash.program(p, data.subarray(pos, pos + n));
      // Programmed before the ACK (the ROM writes synchronously).
      if (this.env.timing) this.env.spend(this.env.timing.pageProgramMs, true);
      pos += n;
    }
    pos = 0;
    while (pos < data.length) {
      const p = this.phys(offset + pos);
      const n = Math.min(this.env.flash.size - p, data.length - pos);
      if (!this.env.flash.read(p, n).equals(Buffer.from(data.subarray(pos, pos + n)))) return false;
      pos += n;
    }
    return true;
  }

  private async flashBegin(req: Request): Promise<void> {
    // The ESP32 ROM takes exactly 4 words (no encrypted-write flag: a fifth word is only for chips
    // whose ROM writes encrypted flash). What it does with
    // a 5th word (esptool-js sends one) is UNCONFIRMED: rejected with 01 05, the conservative choice.
    this.need(req, 16);
    this.requireAttach();
    const [eraseSize, numBlocks, blockSize, offset] = [0, 1, 2, 3].map((i) => this.u32(req, i)) as [number, number, number, number];
    if (offset + eraseSize > this.flashLimit()) throw new Reject(RomError.FAILED_TO_ACT);
    this.endDefl();
    this.write = { kind: 'flash', offset, blockSize, numBlocks };
    // The ROM erases the whole region on BEGIN (every overlapping 4 KiB sector; granularity UNCONFIRMED).
    await this.eraseRegion(offset, eraseSize);
    return this.reply(req.op);
  }

  private dataHeader(req: Request): { len: number; seq: number; data: Buffer } {
    if (req.data.length < 16) throw new Reject(RomError.INVALID_MESSAGE);
    const len = this.u32(req, 0);
    const seq = this.u32(req, 1);
    const data = req.data.subarray(16);
    if (data.length !== len) throw new Reject(RomError.INVALID_MESSAGE);
    if (checksum(data) !== (req.checksum & 0xff)) throw new Reject(RomError.INVALID_CRC);
    return { len, seq, data };
  }

  private async flashData(req: Request): Promise<void> {
    const { seq, data } = this.dataHeader(req);
    const w = this.write;
    if (!w || w.kind !== 'flash') throw new Reject(RomError.INVALID_MESSAGE);
    // Written at offset + seq·block_size (whether the ROM enforces sequential seq is UNCONFIRMED).
    const addr = w.offset + seq * w.blockSize;
    if (addr + data.length > this.flashLimit()) throw new Reject(RomError.FAILED_TO_ACT);
    const ok = await this.programVerify(addr, data);
    return this.reply(req.op, ok ? 0 : RomError.FLASH_WRITE_ERROR);
  }

  private async flashEnd(req: Request, defl: boolean): Promise<void> {
    this.need(req, 4);
    const runUserCode = this.u32(req, 0) !== 0;
    if (defl) this.endDefl();
    this.write = undefined;
    await this.reply(req.op);
    this.env.leaveLoader(runUserCode);
  }

  private endDefl(): void {
    if (this.write?.kind === 'defl') {
      this.write.inflater.removeAllListeners();
      this.write.inflater.on('error', () => undefined);
      this.write.inflater.destroy();
    }
  }

  private async deflBegin(req: Request): Promise<void> {
    this.need(req, 16);
    this.requireAttach();
    const [eraseSize, , , offset] = [0, 1, 2, 3].map((i) => this.u32(req, i)) as [number, number, number, number];
    if (offset + eraseSize > this.flashLimit()) throw new Reject(RomError.FAILED_TO_ACT);
    this.endDefl();
    const inflater = zlib.createInflate();
    const s: DeflSession = { kind: 'defl', offset, eraseSize, written: 0, inflater, out: [], failed: false, ended: false };
    inflater.on('data', (d: Buffer) => s.out.push(d));
    inflater.on('error', () => {
      s.failed = true;
    });
    inflater.on('end', () => {
      s.ended = true;
    });
    this.write = s;
    // ROM: size is the uncompressed length rounded up to 0x400 and erased up-front.
    await this.eraseRegion(offset, eraseSize);
    return this.reply(req.op);
  }

  private inflate(s: DeflSession, chunk: Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (s.failed || s.ended) return resolve();
      const onError = (): void => resolve();
      s.inflater.once('error', onError);
      s.inflater.write(chunk);
      s.inflater.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        s.inflater.off('error', onError);
        resolve();
      });
    });
  }

  private async deflData(req: Request): Promise<void> {
    const { data } = this.dataHeader(req);
    const s = this.write;
    if (!s || s.kind !== 'defl') throw new Reject(RomError.INVALID_MESSAGE);
    if (s.failed) throw new Reject(RomError.DEFLATE_ERROR);
    await this.inflate(s, data);
    if (s.failed) throw new Reject(RomError.DEFLATE_ERROR);
    const out = Buffer.concat(s.out);
    s.out = [];
    if (out.length > 0) {
      const addr = s.offset + s.written;
      if (addr + out.length > this.flashLimit()) throw new Reject(RomError.FAILED_TO_ACT);
      s.written += out.length;
      const ok = await this.programVerify(addr, out);
      if (!ok) throw new Reject(RomError.FLASH_WRITE_ERROR);
    }
    return this.reply(req.op);
  }

  private async md5(req: Request): Promise<void> {
    this.need(req, 16);
    this.requireAttach();
    const addr = this.u32(req, 0);
    const size = this.u32(req, 1);
    if (addr + size > this.flashLimit() || addr + size > this.env.flash.size) throw new Reject(RomError.FAILED_TO_ACT);
    const hex = this.env.flash.md5(addr, size).toString('hex');
    // The ROM reads the whole range over SPI before it answers (verification, not flash writing).
    if (this.env.timing) this.env.spend(flashReadMs(this.env.timing, size), false);
    return this.reply(req.op, 0, Buffer.from(hex, 'ascii'));
  }

  private async readSlow(req: Request): Promise<void> {
    this.need(req, 8);
    this.requireAttach();
    const offset = this.u32(req, 0);
    const length = this.u32(req, 1);
    if (length > 64) throw new Reject(RomError.FLASH_READ_LENGTH_ERROR);
    if (offset + length > this.flashLimit()) throw new Reject(RomError.FLASH_READ_ERROR);
    const out = Buffer.alloc(64, 0xff);
    for (let i = 0; i < length; i++) out[i] = this.env.flash.read(this.phys(offset + i), 1)[0]!;
    // Always 64 data bytes, only the first `length` meaningful (esptool loader.py read_flash_slow).
    return this.reply(req.op, 0, out);
  }

  private async memBegin(req: Request): Promise<void> {
    this.need(req, 16);
    const [size, numBlocks, blockSize, addr] = [0, 1, 2, 3].map((i) => this.u32(req, i)) as [number, number, number, number];
    this.mem = { size, numBlocks, blockSize, addr };
    return this.reply(req.op);
  }

  private async memData(req: Request): Promise<void> {
    const { seq, data } = this.dataHeader(req);
    const m = this.mem;
    if (!m) throw new Reject(RomError.INVALID_MESSAGE);
    this.env.regs.writeBytes(m.addr + seq * m.blockSize, data);
    return this.reply(req.op);
  }

  private async memEnd(req: Request): Promise<void> {
    this.need(req, 8);
    const noEntry = this.u32(req, 0) !== 0;
    const entry = this.u32(req, 1);
    this.mem = undefined;
    await this.reply(req.op);
    if (!noEntry) this.env.jumpToRam(entry);
  }
}
