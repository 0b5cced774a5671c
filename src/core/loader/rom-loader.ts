import { Op, SYNC_PAYLOAD, ROM_ERROR_TEXT, RomError, opName, READ_FLASH_SLOW_MAX } from '../rom/opcodes';
import { slipEncode } from '../rom/slip';
import { checksum, decodeResponse, encodeRequest, HEADER_LEN, words } from '../rom/packet';
import type { Transport } from '../transport/transport';
import { realClock, type Clock } from './clock';
import { FrameReader, ReadFailure } from './frame-reader';
import { LinkError, fromReadFailure, hexExcerpt, linkError } from './link-error';
import { writeFlash, md5, readFlash, type FlashProgress, type WriteFlashOptions, type WriteFlashResult } from './flash';
import { DEFAULT_TIMEOUT_MS, MD5_MS_PER_MB, MEM_END_ROM_TIMEOUT_MS, SYNC_TIMEOUT_MS, timeoutPerMb } from './timeouts';
import { EFUSE_BASE, EFUSE_BLK0_RDATA4_REG, RTC_CALI_CFG1_REG } from '../chip/esp32';
import { EFUSE_END } from '../efuse/registers';

export interface RomLoaderOptions {
  clock?: Clock;
  /** Advice on entering download mode, quoted when the chip sends nothing (set by connect()). */
  downloadHint?: string;
  /** Receives one line per command, for --verbose output. Never gets payload bytes. */
  trace?: (line: string) => void;
}

export interface CommandResult {
  /** The header's value field: meaningful for READ_REG (and SYNC) only. */
  value: number;
  /** Response data before the status bytes. */
  payload: Buffer;
}


/** A frame that is our own request coming back (direction 0x00, the same opcode): a loopback or TX wired to RX. */
function isEcho(frame: Buffer, op: number): boolean {
  return frame.length >= HEADER_LEN && frame[0] === 0x00 && frame[1] === op;
}

/** The ROM answers SYNC eight times: a late copy is expected, not a wrong reply. */
function isStaleSync(frame: Buffer): boolean {
  return decodeResponse(frame)?.op === Op.SYNC;
}

/** The frames that were not the reply, as a message shows them (kinds, then the first in hex). */
function describeUnmatched(frames: readonly Buffer[], op: number): string {
  if (frames.length === 0) return 'nothing else';
  const first = frames[0]!;
  const kind = (f: Buffer): string => {
    if (isEcho(f, op)) return `an echo of the ${opName(op)} request itself (a loopback, or TX wired to RX)`;
    const r = decodeResponse(f);
    if (r) return `a reply for ${opName(r.op)} instead of ${opName(op)}`;
    return 'a frame that is not a loader reply';
  };
  const kinds = [...new Set(frames.map(kind))];
  return `received ${frames.length} frame${frames.length === 1 ? '' : 's'}: ${kinds.join('; ')}; the first was ${hexExcerpt(first)}`;
}

/** Frames a command may be answered by before we give up on matching (esptool: 100). */
const MAX_NON_MATCHING = 100;

/**
 * Client of the ESP32 mask-ROM serial loader. One command at a time; each one discards stale
 * input, sends a SLIP frame and waits for the reply whose opcode matches (as esptool's loader.py
 * command() does), checking the
 * 4-byte ROM status. Never uploads a flasher stub: everything here is the ROM's own command set.
 */
export class RomLoader {
  readonly reader: FrameReader;
  readonly clock: Clock;
  downloadHint: string | undefined;
  private readonly trace: ((line: string) => void) | undefined;
  private busy = false;
  /** The reply that may send `prepared` at once (see sendPreparedOnAck): to `op` block `seq`, while `wanted()`. */
  private armed: { op: number; seq: number; wanted: () => boolean } | undefined;
  /** A *_DATA frame encoded ahead of its turn (see dataCommand). */
  private prepared: { op: number; seq: number; block: Uint8Array; frame: Buffer; sent?: Promise<void> } | undefined;
  /**
   * Changes whenever the chip's eFuses may have changed since the last command: a WRITE_REG into
   * the eFuse controller (programming needs EFUSE_CMD there, and so does reloading the read
   * windows), or any command that is not a plain read, flash or link command (SYNC after a reset,
   * RAM code). readEfuses (efuse/access.ts) reuses a snapshot only while this stays the same.
   */
  efuseEpoch = 0;

  constructor(
    readonly transport: Transport,
    opts: RomLoaderOptions = {},
  ) {
    this.clock = opts.clock ?? realClock;
    this.reader = new FrameReader(transport, { clock: this.clock });
    this.downloadHint = opts.downloadHint;
    this.trace = opts.trace;
    this.reader.start();
    this.reader.onFrame = (f) => this.sendPreparedOnAck(f);
  }

  dispose(): void {
    this.reader.stop();
  }

  get port(): string {
    return this.transport.url;
  }

  /**
   * Sends one command and returns its matching reply. `payloadLen` is how many data bytes
   * precede the status (MD5: 32, READ_FLASH_SLOW: 64); the status is read right after them.
   */
  async command(op: number, data: Uint8Array, chk = 0, timeoutMs = DEFAULT_TIMEOUT_MS, payloadLen = 0): Promise<CommandResult> {
    // Before sending: a command that timed out may still have run.
    if (mayChangeEfuses(op, data)) this.efuseEpoch++;
    return this.send(op, slipEncode(encodeRequest(op, data, chk)), data.length, timeoutMs, payloadLen);
  }

  /**
   * Sends an encoded request frame and waits for its reply. `meanwhile` runs once the frame is on
   * its way (encoding the next data block there keeps that work out of the time between a reply
   * and the next request, which every one of a large region's blocks waits for). `sent`: the frame
   * already went out (sendPreparedOnAck), so it is not written again and a reply that came in
   * since is not discarded.
   */
  private async send(op: number, frame: Buffer, dataLength: number, timeoutMs: number, payloadLen: number, meanwhile?: () => void, sent?: Promise<void>): Promise<CommandResult> {
    if (this.busy) throw new Error('RomLoader: commands must not overlap');
    this.busy = true;
    try {
      if (!sent) this.reader.discardPending();
      this.trace?.(`> ${opName(op)} (${dataLength} bytes)`);
      const written = sent ?? this.transport.write(frame);
      meanwhile?.();
      await written;
      return await this.awaitReply(op, timeoutMs, payloadLen);
    } finally {
      this.busy = false;
    }
  }

  /**
   * The next data block goes out as soon as the reply that clears it is decoded, in the same turn
   * as its bytes arrived, not after that reply has travelled back up through the promises of the
   * block before (each of a 1.9 MB app's 1 870 blocks waited for that; the ROM answers a block
   * only after writing it, so one request is still outstanding at a time). Only for a block
   * announced as next (dataCommand's `next`), only on an OK reply to the block before it (same
   * opcode, status 0, a length field that matches), and only while `armed` says the writer still
   * wants it (a cancelled write sends nothing more). Anything else leaves it to dataCommand.
   */
  private sendPreparedOnAck(frame: Buffer): void {
    const p = this.prepared;
    const a = this.armed;
    if (!p || !a || p.sent || a.op !== p.op || a.seq !== p.seq - 1) return;
    if (frame.length < HEADER_LEN + 2 || frame[0] !== 0x01 || frame[1] !== a.op || frame.readUInt16LE(2) !== frame.length - HEADER_LEN || frame[HEADER_LEN] !== 0) return;
    this.armed = undefined;
    if (!a.wanted()) return;
    const sent = this.transport.write(p.frame);
    sent.catch(() => undefined); // awaited by the block's own send, which reports it
    p.sent = sent;
  }

  private async awaitReply(op: number, timeoutMs: number, payloadLen: number): Promise<CommandResult> {
    // Built only for a message: naming the opcode on every reply showed up in flashing profiles.
    const ctx = (): { port: string; op: string; howToEnter: string | undefined } => ({ port: this.port, op: opName(op), howToEnter: this.downloadHint });
    // Frames that were not the reply: said in the message if the reply never comes.
    const unmatched: Buffer[] = [];
    const received = (): string => describeUnmatched(unmatched, op);
    for (let skipped = 0; skipped <= MAX_NON_MATCHING; skipped++) {
      let frame: Buffer;
      try {
        frame = await this.reader.readFrame(timeoutMs);
      } catch (e) {
        if (e instanceof ReadFailure) {
          // A wrong opcode or our own request echoed back: say what came, not "sent nothing".
          if (unmatched.some((f) => isEcho(f, op) || (decodeResponse(f) && decodeResponse(f)!.op !== op && !isStaleSync(f)))) {
            throw linkError('E_WRONG_REPLY', { ...ctx(), detail: received() }, { failure: e.kind, noise: e.noise });
          }
          throw fromReadFailure(e, ctx());
        }
        throw e;
      }
      const resp = decodeResponse(frame);
      if (!resp) {
        // Not a reply (text between two C0 bytes, a request echoed by a loopback): keep for diagnostics.
        this.reader.note(frame);
        if (unmatched.length < 8) unmatched.push(frame);
        continue;
      }
      const size = frame.readUInt16LE(2);
      if (size !== frame.length - HEADER_LEN) {
        // The ROM's length field always equals the data it sends: anything else is a broken frame.
        throw linkError('E_BAD_REPLY', { ...ctx(), detail: `its length field says ${size} data bytes but it carries ${frame.length - HEADER_LEN}: ${hexExcerpt(frame)}` });
      }
      if (resp.op !== op) {
        if (unmatched.length < 8) unmatched.push(frame);
        if (resp.data.length >= 2 && resp.data[0] !== 0 && resp.data[1] === RomError.INVALID_MESSAGE) {
          await this.drainAfterRejection();
          throw linkError('E_UNSUPPORTED_COMMAND', ctx(), { romError: RomError.INVALID_MESSAGE });
        }
        continue; // a stale reply to an earlier command (e.g. the 7 extra SYNC replies)
      }
      if (resp.data.length < payloadLen + 2) {
        throw linkError('E_BAD_REPLY', { ...ctx(), detail: `${resp.data.length} data bytes, expected at least ${payloadLen + 2}` });
      }
      const status = resp.data[payloadLen]!;
      const code = resp.data[payloadLen + 1]!;
      this.trace?.(`< ${opName(op)} status ${status} ${code}`);
      if (status !== 0) {
        const detail = ROM_ERROR_TEXT[code] ?? `unknown ROM error 0x${code.toString(16).padStart(2, '0')}`;
        throw linkError('E_ROM_ERROR', { ...ctx(), detail }, { romError: code });
      }
      return { value: resp.value, payload: Buffer.from(resp.data.subarray(0, payloadLen)) };
    }
    throw linkError('E_NO_MATCHING_REPLY', { ...ctx(), detail: received() });
  }

  /**
   * After an unknown-opcode rejection the ROM may repeat the frame (esptool's comment says up
   * to 8 times, UNCONFIRMED): wait briefly and throw away whatever arrived, so the next command
   * does not read them.
   */
  private async drainAfterRejection(): Promise<void> {
    await this.clock.sleep(200);
    this.reader.discardPending();
    await this.transport.flushInput().catch(() => undefined);
  }

  /** SYNC (esptool docs, Serial Protocol): the ROM answers 8 times; we return the first value and swallow the rest. */
  async sync(timeoutMs = SYNC_TIMEOUT_MS): Promise<number> {
    const first = await this.command(Op.SYNC, SYNC_PAYLOAD, 0, timeoutMs);
    for (let i = 0; i < 7; i++) {
      try {
        await this.reader.readFrame(Math.max(timeoutMs, 50));
      } catch {
        break; // the rest, if any, are skipped by opcode matching later
      }
    }
    return first.value >>> 0;
  }

  async readReg(addr: number, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<number> {
    return (await this.command(Op.READ_REG, words(addr), 0, timeoutMs)).value >>> 0;
  }

  /**
   * WRITE_REG with one (addr, value, mask, delay_us) tuple; mask ≠ all-ones is read-modify-write in
   * the ROM. delay_us is always 0: the chip waits it out before writing, with no documented cap; nothing
   * here needs a chip-side wait, and a host-side sleep can be cancelled where one could not.
   */
  async writeReg(addr: number, value: number, mask = 0xffffffff): Promise<void> {
    await this.command(Op.WRITE_REG, words(addr, value, mask, 0));
  }

  /** Sets the bits of `mask` to `value` shifted into place, leaving the others (esptool's update_reg). */
  async updateReg(addr: number, mask: number, value: number): Promise<void> {
    const shift = mask === 0 ? 0 : 31 - Math.clz32(mask & -mask);
    const old = await this.readReg(addr);
    await this.writeReg(addr, ((old & ~mask) | ((value << shift) & mask)) >>> 0);
  }

  /** SPI_ATTACH: the ROM takes 8 bytes (config + a zero "legacy" word); config 0 = default/eFuse pins. */
  async spiAttach(config = 0): Promise<void> {
    await this.command(Op.SPI_ATTACH, words(config, 0));
  }

  async spiSetParams(totalSize: number): Promise<void> {
    await this.command(Op.SPI_SET_PARAMS, words(0, totalSize, 0x10000, 0x1000, 0x100, 0xffff));
  }

  /**
   * CHANGE_BAUDRATE with the ESP32 ROM workaround (esptool loader.py change_baud): the ROM computes
   * its divider from a
   * crystal frequency it estimated itself, so we reproduce that estimate and pre-distort the rate.
   * The reply comes at the old rate; then both sides switch.
   */
  async changeBaud(baud: number): Promise<void> {
    const requested = await this.romBaudFor(baud);
    await this.command(Op.CHANGE_BAUDRATE, words(requested, 0));
    await this.transport.setBaud(baud);
    // The host adapter's switch can put a few stray bytes on the line: esptool (loader.py
    // change_baud) waits 50 ms for them. A link whose host side has no rate of its own (socket://,
    // capabilities.baud false) switches nothing on this side, so there is nothing to wait for.
    if (this.transport.capabilities.baud) await this.clock.sleep(50);
    this.reader.discardPending();
    await this.transport.flushInput();
  }

  /** The value to send so the ROM ends up at `baud`; the plain rate when the estimate is unusable. */
  async romBaudFor(baud: number): Promise<number> {
    const cali = ((await this.readReg(RTC_CALI_CFG1_REG)) >>> 7) & 0x1ffffff;
    const ck8m = (await this.readReg(EFUSE_BLK0_RDATA4_REG)) & 0xff;
    const romXtal = (cali * 15625 * ck8m) / 40;
    // Conservative: esptool would send 0 when both read as zero; we send the plain rate instead.
    if (romXtal <= 0) return baud;
    const valid = romXtal > 33e6 ? 40e6 : 26e6;
    return Math.floor((baud * romXtal) / valid);
  }

  async flashBegin(eraseSize: number, blocks: number, blockSize: number, offset: number, timeoutMs: number): Promise<void> {
    await this.command(Op.FLASH_BEGIN, words(eraseSize, blocks, blockSize, offset), 0, timeoutMs);
  }

  /**
   * FLASH_DATA. `next` (optional): the block that will follow, encoded while this one is answered;
   * with `wanted` too, it is sent as soon as an OK reply to this one arrives while `wanted()` holds
   * (sendPreparedOnAck), and the caller's flashData for it then only waits for its reply.
   */
  async flashData(block: Uint8Array, seq: number, timeoutMs = DEFAULT_TIMEOUT_MS, next?: Uint8Array, wanted?: () => boolean): Promise<void> {
    await this.dataCommand(Op.FLASH_DATA, block, seq, timeoutMs, next, wanted);
  }

  /** FLASH_END: `reboot` false leaves the loader and runs the code in flash (the ROM's "1"). */
  async flashEnd(reboot: boolean): Promise<void> {
    await this.command(Op.FLASH_END, words(reboot ? 0 : 1));
  }

  async flashDeflBegin(eraseSize: number, blocks: number, blockSize: number, offset: number, timeoutMs: number): Promise<void> {
    await this.command(Op.FLASH_DEFL_BEGIN, words(eraseSize, blocks, blockSize, offset), 0, timeoutMs);
  }

  /** FLASH_DEFL_DATA; `next` as for flashData. */
  async flashDeflData(block: Uint8Array, seq: number, timeoutMs = DEFAULT_TIMEOUT_MS, next?: Uint8Array, wanted?: () => boolean): Promise<void> {
    await this.dataCommand(Op.FLASH_DEFL_DATA, block, seq, timeoutMs, next, wanted);
  }

  async flashDeflEnd(reboot: boolean): Promise<void> {
    await this.command(Op.FLASH_DEFL_END, words(reboot ? 0 : 1));
  }

  /** SPI_FLASH_MD5 over raw flash; the ROM answers 32 lowercase hex characters. */
  async flashMd5(addr: number, size: number): Promise<string> {
    const r = await this.command(Op.SPI_FLASH_MD5, words(addr, size, 0, 0), 0, timeoutPerMb(MD5_MS_PER_MB, size), 32);
    const hex = r.payload.toString('latin1');
    if (!/^[0-9a-f]{32}$/i.test(hex)) throw linkError('E_BAD_REPLY', { port: this.port, op: 'SPI_FLASH_MD5', detail: 'the digest is not 32 hex characters' });
    return hex.toLowerCase();
  }

  /** READ_FLASH_SLOW: at most 64 bytes per command; the reply always carries 64. */
  async readFlashSlow(addr: number, length: number): Promise<Buffer> {
    if (length < 1 || length > READ_FLASH_SLOW_MAX) throw new RangeError(`READ_FLASH_SLOW length ${length} is outside 1..64`);
    const r = await this.command(Op.READ_FLASH_SLOW, words(addr, length), 0, DEFAULT_TIMEOUT_MS, READ_FLASH_SLOW_MAX);
    return r.payload.subarray(0, length);
  }

  async memBegin(size: number, blocks: number, blockSize: number, addr: number): Promise<void> {
    await this.command(Op.MEM_BEGIN, words(size, blocks, blockSize, addr));
  }

  async memData(block: Uint8Array, seq: number): Promise<void> {
    await this.dataCommand(Op.MEM_DATA, block, seq, DEFAULT_TIMEOUT_MS);
  }

  /**
   * MEM_END: entry 0 just finishes; otherwise the ROM jumps to `entry` and may never answer
   * (the code it runs can take over the UART), so a missing reply is not an error then.
   */
  async memEnd(entry = 0): Promise<void> {
    const data = words(entry === 0 ? 1 : 0, entry);
    if (entry === 0) {
      await this.command(Op.MEM_END, data);
      return;
    }
    try {
      await this.command(Op.MEM_END, data, 0, MEM_END_ROM_TIMEOUT_MS);
    } catch (e) {
      if (!(e instanceof LinkError) || e.failure === undefined || e.failure === 'closed') throw e;
    }
  }

  /** Writes and verifies `data` at `addr` (see flash.ts): progress events, cancellation between blocks. */
  writeFlash(addr: number, data: Uint8Array, opts: WriteFlashOptions = {}): Promise<WriteFlashResult> {
    return writeFlash(this, addr, data, opts);
  }

  md5(addr: number, length: number): Promise<string> {
    return md5(this, addr, length);
  }

  readFlash(addr: number, length: number, opts: { onProgress?: (p: FlashProgress) => void; signal?: AbortSignal } = {}): Promise<Buffer> {
    return readFlash(this, addr, length, opts);
  }

  /**
   * *_DATA packets: 16-byte sub-header (len, seq, 0, 0), data, XOR checksum over the data.
   * `next` is the block the caller will send with seq + 1: it is encoded while this one's reply is
   * awaited, and used if the next call passes that same block (the same object) and seq.
   */
  private async dataCommand(op: number, block: Uint8Array, seq: number, timeoutMs: number, next?: Uint8Array, wanted?: () => boolean): Promise<void> {
    if (mayChangeEfuses(op, block)) this.efuseEpoch++; // MEM_DATA: code for RAM
    const ready = this.prepared;
    this.prepared = undefined;
    this.armed = undefined;
    const mine = ready && ready.op === op && ready.seq === seq && ready.block === block ? ready : undefined;
    const frame = mine ? mine.frame : encodeData(op, block, seq);
    const prepare = next
      ? (): void => {
          this.prepared = { op, seq: seq + 1, block: next, frame: encodeData(op, next, seq + 1) };
          if (wanted) this.armed = { op, seq, wanted };
        }
      : undefined;
    try {
      await this.send(op, frame, 16 + block.length, timeoutMs, 0, prepare, mine?.sent);
    } catch (e) {
      // This block failed (no OK reply, so nothing was sent for the next): nor will a later reply send it.
      this.armed = undefined;
      throw e;
    }
  }
}

/** One *_DATA request as a SLIP frame: header, sub-header (len, seq, 0, 0), data; checksum over the data. */
function encodeData(op: number, block: Uint8Array, seq: number): Buffer {
  const payload = Buffer.allocUnsafe(16 + block.length);
  payload.writeUInt32LE(block.length, 0);
  payload.writeUInt32LE(seq >>> 0, 4);
  payload.writeUInt32LE(0, 8);
  payload.writeUInt32LE(0, 12);
  payload.set(block, 16);
  return slipEncode(encodeRequest(op, payload, checksum(block)));
}

/** Commands after which a snapshot of the eFuses may no longer hold (see RomLoader.efuseEpoch). */
const EFUSE_NEUTRAL_OPS: ReadonlySet<number> = new Set([
  Op.READ_REG, Op.SPI_ATTACH, Op.SPI_SET_PARAMS, Op.CHANGE_BAUDRATE,
  Op.FLASH_BEGIN, Op.FLASH_DATA, Op.FLASH_DEFL_BEGIN, Op.FLASH_DEFL_DATA, Op.SPI_FLASH_MD5, Op.READ_FLASH_SLOW,
]);

function mayChangeEfuses(op: number, data: Uint8Array): boolean {
  if (EFUSE_NEUTRAL_OPS.has(op)) return false;
  if (op !== Op.WRITE_REG || data.length < 4) return true;
  const addr = (data[0]! | (data[1]! << 8) | (data[2]! << 16) | (data[3]! << 24)) >>> 0;
  return addr >= EFUSE_BASE && addr <= EFUSE_END;
}
