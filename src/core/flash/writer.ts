import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { hex } from '../util/hex';
import { CONFIG_SECTOR_ADDRESS } from '../boards/catalog';
import { SECTOR_SIZE } from '../chip/esp32';
import { makeDirs, writeFileAtomic } from '../util/atomic-file';
import type { FlashJournal } from './journal';
import { isLinkLoss, withWhatWasLeft } from '../loader/link-error';
import type { FlashPlan, PlanRegion } from './plan';
import type { WriteEstimate } from '../chip/flash-timing';

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
  /**
   * 'compare': an incremental run is comparing the region with the board; 'erase': the region's
   * writing is about to start with the ROM's erase of it (sent before anything is written or
   * erased, once per region that has something to write); 'write': a block was acknowledged;
   * 'done': the region is written and verified.
   */
  phase: 'compare' | 'erase' | 'write' | 'done';
  /** With 'erase': the bytes of the region that will be erased and written. */
  eraseBytes?: number;
  /** With 'done': the bytes of this region actually written (0 when the flash already held them all). */
  regionBytesWritten?: number;
  region: number;
  regions: number;
  file: string;
  address: number;
  /** Bytes of the whole plan handled so far / in total (compared-equal bytes count as done). */
  bytesDone: number;
  bytesTotal: number;
  /** Bytes actually sent to flash so far, the region being written included (updated per block). */
  bytesWritten: number;
  /**
   * Bytes per second the board acknowledges blocks at (the link and page programs), measured
   * between acknowledgements: the erase a region waits for before its first block is not counted
   * here, since it would make the rate of a large region look a fraction of what the link carries.
   */
  throughput: number;
  /**
   * Seconds left (undefined until something was written), updated within a region: the bytes left
   * at `throughput`, plus, for each region or range not yet begun, its erase at the seconds per byte
   * the ranges begun so far took before their first acknowledgement. Before two acknowledgements
   * are in, when the writer was given an `estimate`, it is that estimate instead (`etaEstimated`).
   */
  etaSeconds?: number;
  /** True while `etaSeconds` is the a-priori estimate (the link's baud and typical flash times), not measured. */
  etaEstimated?: boolean;
}

export interface WritePlanOptions {
  incremental?: boolean;
  compress?: boolean;
  signal?: AbortSignal;
  journal?: FlashJournal;
  onProgress?: (e: FlashProgressEvent) => void;
  now?: () => number;
  /**
   * The time left before anything was measured (chip/flash-timing.ts romWriteEstimate): without
   * it, no time left is given until a region's second acknowledgement, so the first region's
   * erase (about 21 s for a 1.9 MB app) shows none.
   */
  estimate?: WriteEstimate;
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
  // The rate: acknowledged bytes over time between acknowledgements, summed over ranges.
  let ackedBytes = 0;
  let ackedSecs = 0;
  // Before a range's first acknowledgement the board erases: seconds and bytes of ranges begun.
  let eraseSecs = 0;
  let erasedBytes = 0;
  /** The range being written: when it began, its length, and its first and latest acknowledgement. */
  let range: { t0: number; address: number; length: number; first?: { t: number; d: number }; last?: { t: number; d: number } } | undefined;
  const results: RegionResult[] = [];
  const emit = (phase: FlashProgressEvent['phase'], i: number, r: PlanRegion, extraDone = 0, eraseBytes?: number, regionBytesWritten?: number) => {
    if (!o.onProgress) return;
    const written = bytesWritten + inFlight;
    let bytes = ackedBytes;
    let secs = ackedSecs;
    if (range?.first && range.last && range.last.t > range.first.t) {
      bytes += range.last.d - range.first.d;
      secs += (range.last.t - range.first.t) / 1000;
    }
    // No rate until two acknowledgements are in: one alone is mostly the erase before it (the
    // first line of a 1.9 MB app would say 0 KiB/s and hours left).
    const throughput = secs > 0 && bytes > 0 ? bytes / secs : 0;
    const left = bytesTotal - bytesDone - extraDone;
    const leftInRange = range ? range.length - (range.last?.d ?? 0) : 0;
    let erasePerByte = 0;
    if (throughput > 0) {
      let es = eraseSecs;
      let eb = erasedBytes;
      if (range?.first) {
        es += Math.max(0, (range.first.t - range.t0) / 1000 - range.first.d / throughput);
        eb += range.length;
      }
      erasePerByte = eb > 0 ? es / eb : 0;
    }
    const laterBytes = Math.max(0, left - leftInRange);
    let eta: Pick<FlashProgressEvent, 'etaSeconds' | 'etaEstimated'> = {};
    if (written > 0 && throughput > 0) eta = { etaSeconds: left / throughput + laterBytes * erasePerByte };
    else if (o.estimate && left > 0) {
      // Nothing measured yet: the bytes left at the estimated rate, plus the erase of every range
      // whose erase is still to come (the one being written too, until its first acknowledgement).
      const est = o.estimate;
      let erase = range && !range.first ? est.eraseSeconds(range.address, range.length) : 0;
      if (phase === 'compare' || (phase === 'erase' && !range)) erase += est.eraseSeconds(r.address, eraseBytes ?? r.data.length);
      for (const later of regions.slice(i + 1)) erase += est.eraseSeconds(later.address, later.data.length);
      eta = { etaSeconds: left * est.secondsPerByte + erase, etaEstimated: true };
    }
    o.onProgress({
      phase,
      region: i + 1,
      regions: regions.length,
      file: r.file,
      address: r.address,
      bytesDone: bytesDone + extraDone,
      bytesTotal,
      bytesWritten: written,
      ...(eraseBytes !== undefined ? { eraseBytes } : {}),
      ...(regionBytesWritten !== undefined ? { regionBytesWritten } : {}),
      throughput,
      ...eta,
    });
  };
  /** Folds the finished range into the rate and erase figures. */
  const endRange = (): void => {
    if (range?.first && range.last && range.last.t > range.first.t) {
      ackedBytes += range.last.d - range.first.d;
      ackedSecs += (range.last.t - range.first.t) / 1000;
    }
    if (range?.first) {
      const rate = ackedSecs > 0 ? ackedBytes / ackedSecs : 0;
      eraseSecs += Math.max(0, (range.first.t - range.t0) / 1000 - (rate > 0 ? range.first.d / rate : 0));
      erasedBytes += range.length;
    }
    range = undefined;
  };
  for (const [i, r] of regions.entries()) {
    if (o.signal?.aborted) throw cancelled(r);
    // A region a run left incomplete is written again in full, --incremental or not: the sector
    // whose erase or page program was cut off can hold bits that read right now and flip later
    // (NOR flash), so a comparison of what reads back does not clear it.
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
    if (ranges.length) {
      // Said before the journal and the first erase: a front end starts the board's record here,
      // so a run cut off during the erase is recorded and named as the one that left it.
      if (o.onProgress) emit('erase', i, r, 0, changed);
      o.journal?.begin(r.address, r.data, path.basename(r.file));
    }
    let regionWritten = 0;
    for (const [a, b] of ranges) {
      const before = regionWritten;
      const t0 = now();
      writeStarted ??= t0;
      inFlight = 0;
      range = { t0, address: r.address + a, length: b - a };
      try {
        await io.write(r.address + a, r.data.subarray(a, b), {
          compress: o.compress ?? true,
          ...(o.signal ? { signal: o.signal } : {}),
          onBytes: (d) => {
            regionWritten = before + d;
            inFlight = d;
            const at = { t: now(), d };
            if (range) {
              range.first ??= at;
              range.last = at;
            }
            emit('write', i, r, regionWritten);
          },
        });
      } catch (e) {
        bytesWritten += regionWritten - before;
        inFlight = 0;
        range = undefined;
        if (o.signal?.aborted) throw cancelled(r);
        // The link went (unplugged, reset, a server killed): say what the run left, as a cancel does.
        if (isLinkLoss(e)) throw withWhatWasLeft(e, `The flash was cut off while writing ${path.basename(r.file)} at ${hex(r.address)}: that region is marked incomplete and the board may not boot until it is finished; once the board is back, run the same command again to finish it (the region is written again in full).`);
        throw e;
      }
      endRange();
      inFlight = 0;
      bytesWritten += b - a;
      regionWritten = before + (b - a);
    }
    bytesDone += changed;
    o.journal?.done(r.address, r.data.length);
    results.push({ address: r.address, file: r.file, length: r.data.length, bytesWritten: changed, ranges });
    emit('done', i, r, 0, undefined, changed);
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
