import * as zlib from 'node:zlib';
import { createHash } from 'node:crypto';
import { ROM_FLASH_WRITE_SIZE, READ_FLASH_SLOW_MAX } from '../rom/opcodes';
import { isTransientLinkFailure, linkError } from './link-error';
import { DEFAULT_TIMEOUT_MS, ERASE_REGION_MS_PER_MB, ERASE_WRITE_MS_PER_MB, WRITE_BLOCK_ATTEMPTS, timeoutPerMb } from './timeouts';

const SECTOR = 0x1000;

export interface FlashProgress {
  phase: 'erase' | 'write' | 'verify' | 'read';
  /** Uncompressed bytes done so far and in total for this phase. */
  done: number;
  total: number;
  /** Blocks sent / total (write phase). */
  block?: number;
  blocks?: number;
}

export interface WriteFlashOptions {
  /**
   * Whether zlib + FLASH_DEFL_* may be used (default true): the region is then compressed only
   * when `worthCompressing` says it shrinks meaningfully (ciphertext never does, so pre-encrypted
   * images go plain). false writes plain FLASH_DATA always.
   */
  compress?: boolean;
  /** MD5 check after writing (default true). */
  verify?: boolean;
  onProgress?: (p: FlashProgress) => void;
  /** Checked between blocks; an aborted write leaves the region partly written (and says so). */
  signal?: AbortSignal;
}

export interface WriteFlashResult {
  /** Where writing really started: the ROM can only start at a 4 KiB boundary. */
  address: number;
  /** Bytes written from `address` (0xFF prefix + data + 0xFF padding to 4 bytes). */
  size: number;
  /** Whether FLASH_DEFL_* carried it (set only then, with the deflated size). */
  compressedSize?: number;
  md5: string;
}

/**
 * Writes `data` at `addr` with the ROM loader only (esptool docs Serial Protocol; esptool
 * write_flash --no-stub):
 * start aligned down to 4 KiB with a 0xFF prefix (what the ROM's erase-on-begin leaves there
 * anyway), 0x400-byte blocks, retries only where re-sending is harmless, then an MD5 check.
 * No FLASH_END is sent: on the ROM it would start the app.
 */
/**
 * The ROM loader commands the flash routines are built on (RomLoader implements them); kept as an
 * interface here so this module does not import the loader that calls it.
 */
export interface RomFlashCommands {
  readonly port: string;
  flashBegin(eraseSize: number, blocks: number, blockSize: number, offset: number, timeoutMs: number): Promise<void>;
  /**
   * `next`: the block that follows (seq + 1), which the loader may encode while this one is
   * answered and, while `wanted()` holds, send on this one's OK reply.
   */
  flashData(block: Uint8Array, seq: number, timeoutMs?: number, next?: Uint8Array, wanted?: () => boolean): Promise<void>;
  flashDeflBegin(eraseSize: number, blocks: number, blockSize: number, offset: number, timeoutMs: number): Promise<void>;
  flashDeflData(block: Uint8Array, seq: number, timeoutMs?: number, next?: Uint8Array, wanted?: () => boolean): Promise<void>;
  flashMd5(addr: number, size: number): Promise<string>;
  readFlashSlow(addr: number, length: number): Promise<Buffer>;
}

export async function writeFlash(loader: RomFlashCommands, addr: number, data: Uint8Array, opts: WriteFlashOptions = {}): Promise<WriteFlashResult> {
  const start = addr - (addr % SECTOR);
  const prefix = addr - start;
  const padded = Math.ceil((prefix + data.length) / 4) * 4;
  const image = Buffer.alloc(padded, 0xff);
  image.set(data, prefix);
  const compress = (opts.compress ?? true) && worthCompressing(image);
  const progress = opts.onProgress ?? ((): void => undefined);
  checkAbort(loader, opts.signal, 'before writing');

  let compressedSize: number | undefined;
  // The loader may send the next block the moment the board clears the current one: not once cancelled.
  const wanted = (): boolean => !opts.signal?.aborted;
  progress({ phase: 'erase', done: 0, total: image.length });
  if (compress) {
    const z = zlib.deflateSync(image, { level: 9 });
    compressedSize = z.length;
    const blocks = Math.ceil(z.length / ROM_FLASH_WRITE_SIZE);
    const inflated = await inflatedPerBlock(z, ROM_FLASH_WRITE_SIZE);
    // The ROM erases the uncompressed size rounded up to whole blocks before answering.
    const eraseSize = Math.ceil(image.length / ROM_FLASH_WRITE_SIZE) * ROM_FLASH_WRITE_SIZE;
    await loader.flashDeflBegin(eraseSize, blocks, ROM_FLASH_WRITE_SIZE, start, timeoutPerMb(ERASE_REGION_MS_PER_MB, eraseSize));
    let done = 0;
    const chunkAt = (seq: number): Buffer | undefined => (seq < blocks ? z.subarray(seq * ROM_FLASH_WRITE_SIZE, (seq + 1) * ROM_FLASH_WRITE_SIZE) : undefined);
    let chunk = chunkAt(0)!;
    for (let seq = 0; seq < blocks; seq++) {
      checkAbort(loader, opts.signal, `after ${seq} of ${blocks} blocks`);
      const next = chunkAt(seq + 1);
      const timeout = timeoutPerMb(ERASE_WRITE_MS_PER_MB, Math.max(inflated[seq] ?? 0, ROM_FLASH_WRITE_SIZE));
      // A compressed block is only re-sent when the ROM rejected its checksum: then it never
      // reached the inflater. After a timeout we cannot know, and a second copy would corrupt the stream.
      const current = chunk;
      await withRetries(() => loader.flashDeflData(current, seq, timeout, next, wanted), (e) => isChecksumReject(e));
      done = Math.min(image.length, done + (inflated[seq] ?? 0));
      progress({ phase: 'write', done, total: image.length, block: seq + 1, blocks });
      if (next) chunk = next;
    }
  } else {
    const blocks = Math.ceil(image.length / ROM_FLASH_WRITE_SIZE);
    // Whole blocks, the last one padded with 0xFF as esptool pads it (loader.py flash_block).
    const padded = Buffer.alloc(blocks * ROM_FLASH_WRITE_SIZE, 0xff);
    image.copy(padded);
    const blockAt = (seq: number): Buffer | undefined => (seq < blocks ? padded.subarray(seq * ROM_FLASH_WRITE_SIZE, (seq + 1) * ROM_FLASH_WRITE_SIZE) : undefined);
    await loader.flashBegin(image.length, blocks, ROM_FLASH_WRITE_SIZE, start, timeoutPerMb(ERASE_REGION_MS_PER_MB, image.length));
    let block = blockAt(0)!;
    for (let seq = 0; seq < blocks; seq++) {
      checkAbort(loader, opts.signal, `after ${seq} of ${blocks} blocks`);
      const next = blockAt(seq + 1);
      const current = block;
      // Plain blocks land at offset + seq·0x400 in an already-erased region: writing the same
      // bytes again is harmless, so esptool's 3 attempts apply (loader.py flash_block).
      await withRetries(() => loader.flashData(current, seq, DEFAULT_TIMEOUT_MS, next, wanted), isTransientLinkFailure);
      progress({ phase: 'write', done: Math.min(image.length, (seq + 1) * ROM_FLASH_WRITE_SIZE), total: image.length, block: seq + 1, blocks });
      if (next) block = next;
    }
  }

  const expected = createHash('md5').update(image).digest('hex');
  if (opts.verify ?? true) {
    progress({ phase: 'verify', done: 0, total: image.length });
    const actual = await loader.flashMd5(start, image.length);
    if (actual !== expected) {
      throw linkError('E_VERIFY_FAILED', { port: loader.port, detail: `flash MD5 ${actual}, expected ${expected}` });
    }
    progress({ phase: 'verify', done: image.length, total: image.length });
  }
  const result: WriteFlashResult = { address: start, size: image.length, md5: expected };
  if (compressedSize !== undefined) result.compressedSize = compressedSize;
  return result;
}

/** Sample size and count for the compression estimate: 8 × 4 KiB deflates in well under a millisecond each. */
const SAMPLE_BYTES = 0x1000;
const SAMPLES = 8;
/** Compress only when the samples shrink to at most this fraction (a 15 % saving pays for the host's deflate and the ROM's inflate). */
const WORTH_RATIO = 0.85;

/**
 * Whether deflating `data` would shrink it meaningfully, decided quickly from the data: up to 8
 * evenly spaced 4 KiB samples deflated at level 1, compared with WORTH_RATIO. Ciphertext (flash
 * encryption output) is indistinguishable from random and never shrinks, so encrypted regions are
 * written plain; erased-looking (0xFF) or code-like plaintext shrinks and is compressed.
 */
export function worthCompressing(data: Uint8Array): boolean {
  if (data.length === 0) return false;
  const n = Math.min(SAMPLES, Math.ceil(data.length / SAMPLE_BYTES));
  const stride = n > 1 ? Math.floor((data.length - SAMPLE_BYTES) / (n - 1)) : 0;
  let raw = 0;
  let packed = 0;
  for (let i = 0; i < n; i++) {
    const from = Math.max(0, Math.min(i * stride, data.length - SAMPLE_BYTES));
    const sample = data.subarray(from, from + SAMPLE_BYTES);
    raw += sample.length;
    packed += zlib.deflateRawSync(sample, { level: 1 }).length;
  }
  return packed <= raw * WORTH_RATIO;
}

export async function md5(loader: RomFlashCommands, addr: number, length: number): Promise<string> {
  return loader.flashMd5(addr, length);
}

/** READ_FLASH_SLOW, 64 bytes per command (raw flash: ciphertext when encrypted). */
export async function readFlash(loader: RomFlashCommands, addr: number, length: number, opts: { onProgress?: (p: FlashProgress) => void; signal?: AbortSignal } = {}): Promise<Buffer> {
  const out = Buffer.alloc(length);
  for (let off = 0; off < length; off += READ_FLASH_SLOW_MAX) {
    checkAbort(loader, opts.signal, `after reading ${off} of ${length} bytes`);
    const n = Math.min(READ_FLASH_SLOW_MAX, length - off);
    (await loader.readFlashSlow(addr + off, n)).copy(out, off);
    opts.onProgress?.({ phase: 'read', done: off + n, total: length });
  }
  return out;
}

function checkAbort(loader: RomFlashCommands, signal: AbortSignal | undefined, where: string): void {
  if (signal?.aborted) throw linkError('E_CANCELLED', { port: loader.port, detail: where });
}

function isChecksumReject(e: unknown): boolean {
  return isTransientLinkFailure(e) && (e as { romError?: number }).romError === 0x07;
}

async function withRetries(fn: () => Promise<void>, retryable: (e: unknown) => boolean): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (e) {
      if (attempt >= WRITE_BLOCK_ATTEMPTS || !retryable(e)) throw e;
    }
  }
}

/**
 * How many bytes each compressed block inflates to, so each block's timeout can scale with
 * the flash it will write (esptool loader.py: 40 s/MB of inflated data).
 */
export async function inflatedPerBlock(compressed: Buffer, blockSize: number): Promise<number[]> {
  const inflate = zlib.createInflate();
  let produced = 0;
  inflate.on('data', (d: Buffer) => {
    produced += d.length;
  });
  const sizes: number[] = [];
  for (let off = 0; off < compressed.length; off += blockSize) {
    const before = produced;
    await new Promise<void>((resolve, reject) => {
      inflate.write(compressed.subarray(off, off + blockSize), (err) => (err ? reject(err) : undefined));
      inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve());
    });
    sizes.push(produced - before);
  }
  inflate.end();
  return sizes;
}
