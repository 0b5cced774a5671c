import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { hex } from '../util/hex';
import { CONFIG_SECTOR_ADDRESS } from '../boards/catalog';
import { SECTOR_SIZE } from '../chip/esp32';
import { makeDirs, writeFileAtomic } from '../util/atomic-file';
import type { FlashJournal } from './journal';
import type { FlashPlan, PlanRegion } from './plan';

/**
 * Writes a checked plan. Every write is verified with SPI_FLASH_MD5 (by the loader's writeFlash);
 * incremental mode compares the flash with the plan first (MD5 per 64 KB chunk, then per 4 KB
 * sector inside a differing chunk) and writes only the differing sectors. Pre-encrypted images
 * are deterministic per address, so unchanged code gives unchanged ciphertext and is skipped.
 */
export interface FlashIo {
  /** Writes and verifies (MD5) one range; checks `signal` between blocks. */
  write(address: number, data: Uint8Array, opts: { compress: boolean; signal?: AbortSignal; onBytes?: (done: number) => void }): Promise<void>;
  md5(address: number, length: number): Promise<string>;
  read(address: number, length: number): Promise<Uint8Array>;
}

export interface FlashProgressEvent {
  phase: 'compare' | 'write' | 'done';
  region: number;
  regions: number;
  file: string;
  address: number;
  /** Bytes of the whole plan handled so far / in total (compared-equal bytes count as done). */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes actually sent to flash so far, the region being written included (updated per block). */
  bytesWritten: number;
  /** Written bytes per second since the first write began (erase time included, as the user waits for it). */
  throughput: number;
  /** Seconds left at the current throughput (undefined until something was written); updated within a region. */
  etaSeconds?: number;
}

export interface WritePlanOptions {
  incremental?: boolean;
  compress?: boolean;
  signal?: AbortSignal;
  journal?: FlashJournal;
  onProgress?: (e: FlashProgressEvent) => void;
  now?: () => number;
}

export interface RegionResult {
  address: number;
  file: string;
  length: number;
  bytesWritten: number;
  /** Ranges (relative to the region) that were rewritten. */
  ranges: Array<[number, number]>;
}

const CHUNK = 0x10000;

function md5(data: Uint8Array): string {
  return createHash('md5').update(data).digest('hex');
}

/** Ranges [start, end) relative to the region whose flash contents differ from `data`. */
export async function differingRanges(io: FlashIo, address: number, data: Uint8Array): Promise<Array<[number, number]>> {
  const ranges: Array<[number, number]> = [];
  const push = (s: number, e: number) => {
    const last = ranges[ranges.length - 1];
    if (last && last[1] === s) last[1] = e;
    else ranges.push([s, e]);
  };
  for (let c = 0; c < data.length; c += CHUNK) {
    const ce = Math.min(data.length, c + CHUNK);
    if ((await io.md5(address + c, ce - c)) === md5(data.subarray(c, ce))) continue;
    for (let s = c; s < ce; s += SECTOR_SIZE) {
      const se = Math.min(ce, s + SECTOR_SIZE);
      if ((await io.md5(address + s, se - s)) !== md5(data.subarray(s, se))) push(s, se);
    }
  }
  return ranges;
}

export async function writePlan(plan: FlashPlan, io: FlashIo, o: WritePlanOptions = {}): Promise<RegionResult[]> {
  const now = o.now ?? Date.now;
  const regions = [...plan.regions].sort((a, b) => a.address - b.address);
  const bytesTotal = regions.reduce((s, r) => s + r.data.length, 0);
  let writeStarted: number | undefined;
  let bytesDone = 0;
  let bytesWritten = 0;
  /** Bytes of the range being written that the loader has confirmed so far. */
  let inFlight = 0;
  const results: RegionResult[] = [];
  const emit = (phase: FlashProgressEvent['phase'], i: number, r: PlanRegion, extraDone = 0) => {
    if (!o.onProgress) return;
    const written = bytesWritten + inFlight;
    const secs = writeStarted === undefined ? 0 : Math.max(1e-3, (now() - writeStarted) / 1000);
    const throughput = secs > 0 ? written / secs : 0;
    const left = bytesTotal - bytesDone - extraDone;
    o.onProgress({
      phase,
      region: i + 1,
      regions: regions.length,
      file: r.file,
      address: r.address,
      bytesDone: bytesDone + extraDone,
      bytesTotal,
      bytesWritten: written,
      throughput,
      ...(written > 0 && throughput > 0 ? { etaSeconds: left / throughput } : {}),
    });
  };
  for (const [i, r] of regions.entries()) {
    if (o.signal?.aborted) throw cancelled(r);
    const wasIncomplete = o.journal?.overlapsIncomplete(r.address, r.data.length) ?? false;
    let ranges: Array<[number, number]>;
    if (o.incremental && !wasIncomplete) {
      emit('compare', i, r);
      ranges = await differingRanges(io, r.address, r.data);
    } else {
      ranges = [[0, r.data.length]];
    }
    const changed = ranges.reduce((s, [a, b]) => s + b - a, 0);
    // Unchanged bytes are done as soon as the comparison says so.
    bytesDone += r.data.length - changed;
    if (ranges.length) o.journal?.begin(r.address, r.data, path.basename(r.file));
    let regionWritten = 0;
    for (const [a, b] of ranges) {
      const before = regionWritten;
      writeStarted ??= now();
      inFlight = 0;
      try {
        await io.write(r.address + a, r.data.subarray(a, b), {
          compress: o.compress ?? true,
          ...(o.signal ? { signal: o.signal } : {}),
          onBytes: (d) => {
            regionWritten = before + d;
            inFlight = d;
            emit('write', i, r, regionWritten);
          },
        });
      } catch (e) {
        bytesWritten += regionWritten - before;
        inFlight = 0;
        if (o.signal?.aborted) throw cancelled(r);
        throw e;
      }
      inFlight = 0;
      bytesWritten += b - a;
      regionWritten = before + (b - a);
    }
    bytesDone += changed;
    o.journal?.done(r.address, r.data.length);
    results.push({ address: r.address, file: r.file, length: r.data.length, bytesWritten: changed, ranges });
    emit('done', i, r);
  }
  return results;
}

function cancelled(r: PlanRegion): UserError {
  return new UserError('E_CANCELLED', `Flashing was cancelled while writing ${path.basename(r.file)} at ${hex(r.address)}; that region is marked incomplete and the next run rewrites it in full.`);
}

/**
 * Saves the config sector (LoRa/Sigfox identity) to the key store before the first write to a
 * board. An existing backup is never overwritten: the first copy is the one taken before we
 * touched the board. Returns the path, and whether it was written now.
 */
export async function backupConfigSector(io: FlashIo, deviceDir: string, flashSize?: number): Promise<{ path: string; created: boolean } | undefined> {
  if (flashSize !== undefined && flashSize < CONFIG_SECTOR_ADDRESS + SECTOR_SIZE) return undefined;
  const file = path.join(deviceDir, `config-${hex(CONFIG_SECTOR_ADDRESS)}.bin`);
  if (fs.existsSync(file)) return { path: file, created: false };
  const data = await io.read(CONFIG_SECTOR_ADDRESS, SECTOR_SIZE);
  makeDirs(deviceDir, { mode: 0o700, what: 'key folder' });
  writeFileAtomic(file, data, { mode: 0o600, exclusive: true, what: 'config sector backup' });
  return { path: file, created: true };
}
