import { createHash } from 'node:crypto';
import { readEfuses } from '../efuse/access';
import { decodeEfuses, isThreeFour } from '../efuse/decode';
import { predictBootFromReader, resolveBootEfuses, type KnownKeys, type ResolvedEfuses } from '../boot/predict-connected';
import { overlayFlash } from '../boot/predict-plan';
import type { BootOutcome, BootVerdict } from '../boot/predict';
import { flashEncryptionOn, type BootEfuses } from '../boot/boot-efuses';
import { BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN, DIGEST_ADDRESS, PARTITION_TABLE_ADDRESS, SECTOR_SIZE } from '../chip/esp32';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent, type ContentKind } from '../firmware/content';
import { diagnoseDecryption } from '../flash/diagnose';
import type { RegionRole } from '../flash/plan';
import { storeFlashKeys } from '../flash/session';
import { confirmUnfinishedWrite, partlyWrittenCause, regionName, partlyWrittenImage, partlyWrittenSentence, type PartlyWritten } from '../flash/partly-written';
import { romFlashIo } from '../flash/rom-io';
import type { FlashIo } from '../flash/writer';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { hex } from '../util/hex';
import type { FlashPlan } from '../flash/plan';
import { readFlash } from '../loader/flash';
import { isUserError, UserError } from '../errors';
import type { KeyStore } from '../keystore/key-store';
import { establishKeyEvidence, type KeyEvidence } from './evidence';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';

export interface PredictBootRequest {
  /** The keys the prediction may use for read-protected key blocks (files, or the key store by MAC). */
  keys(board: { mac: string; threeFour: boolean }): KnownKeys;
  /** A build to predict the board after (its bytes over what the flash holds now); made once the flash size is known. */
  plan?(board: { flashKey: Uint8Array | undefined; flashSize: number }): FlashPlan;
  /** The key store whose audit log holds the evidence for read-protected keys (and records an acknowledgement). */
  store: KeyStore;
  /** The user vouched that the keys are the board's (the CLI's --trust-key-store); recorded in the audit log. */
  trustKeyStore?: boolean;
}

export interface PredictBootOutcome {
  /** The eFuses the prediction used, what it assumed, and what it could not decide (missing keys). */
  resolved: ResolvedEfuses;
  /** Undefined when the answer cannot be decided (see `resolved.undecidable`). */
  verdict?: BootVerdict;
  /** Why the given keys were taken for the board's read-protected ones (workflows/evidence.ts). */
  evidence?: KeyEvidence;
  /**
   * When the board would not boot: the region the boot fails at was only partly written (an
   * interrupted flash, tested on the board: flash/partly-written.ts), or, when it does not
   * decrypt, which cause was tested to hold (another address, another key of the store, another
   * FLASH_CRYPT_CONFIG), or that none of them does (flash/diagnose.ts).
   */
  diagnosis?: string;
  /** The interrupted write the failure is due to, when one was found (then `diagnosis` says so and blames no key). */
  partlyWritten?: PartlyWritten;
}

/**
 * Will the connected board boot: its eFuses (read-protected key blocks filled in from `keys` when
 * there is evidence they are the board's, evidence.ts; else named as undecidable), its flash read over the ROM loader as the bootloader reads it (digest,
 * bootloader, partition table, the app), optionally with a build's bytes laid over it. Progress on
 * large reads goes to `ui.info` every 256 KiB (READ_FLASH_SLOW moves 64 bytes per command).
 *
 * Errors: E_FLASH_SIZE when the flash chip did not identify itself; link errors.
 */
export async function predictBootOnBoard(board: BoardSession, req: PredictBootRequest, ui: Pick<UiPort, 'info'>): Promise<PredictBootOutcome> {
  const { conn, chip } = board;
  const snap = await readEfuses(conn.loader);
  const words = snap.words;
  const threeFour = isThreeFour(decodeEfuses(snap).codingScheme);
  const keys = req.keys({ mac: chip.mac.address, threeFour });
  const resolved = resolveBootEfuses(words, chip.revision.major, keys);
  const flashSize = chip.flash.sizeBytes;
  if (!flashSize) throw new UserError('E_FLASH_SIZE', 'predict-boot: the flash chip did not identify itself, so the boot cannot be predicted; check the board and its connection.');
  if (resolved.undecidable.length) return { resolved };
  // Issue 12 B: a read-protected key is only assumed to be the given one with evidence; without
  // it the answer is "cannot decide" (the reason and the ways forward), never "WILL BOOT".
  let evidence: KeyEvidence;
  try {
    evidence = await establishKeyEvidence(board, {
      store: req.store, keys: { ...(keys.flashKey ? { flashKey: keys.flashKey } : {}), ...(keys.secureBootKey ? { secureBootKey: keys.secureBootKey } : {}) },
      job: 'predict-boot', readableMustMatch: false, ...(req.trustKeyStore ? { trust: true } : {}),
    }, ui);
  } catch (e) {
    // The refusal stands alone: without evidence nothing was assumed about the key blocks.
    if (isUserError(e) && e.code === 'E_KEY_EVIDENCE') return { resolved: { ...resolved, assumptions: [], undecidable: [e.message] } };
    throw e;
  }
  let read = (o: number, n: number): Promise<Uint8Array> => readFlash(conn.loader, o, n);
  const plan = req.plan?.({ flashKey: keys.flashKey, flashSize });
  if (plan) {
    const fromBoard = read;
    read = async (o, n) => {
      const now = await fromBoard(o, n);
      return overlayFlash(plan, () => now)(o, n);
    };
  }
  let fetched = 0;
  const raw = romFlashIo(conn.loader);
  const verdict = await predictBootFromReader({
    efuse: resolved.efuse,
    flashSize,
    read,
    // Erased raw flash is the same with or without encryption; a range the build writes is not the board's.
    erased: async (o, n) => !plan?.regions.some((g) => g.address < o + n && o < g.address + g.data.length)
      && (await raw.md5(o, n)) === createHash('md5').update(new Uint8Array(n).fill(0xff)).digest('hex'),
    ...(keys.signingPublicKey ? { signingPublicKey: keys.signingPublicKey } : {}),
    onRead: (n) => {
      if (Math.floor((fetched + n) / 0x40000) > Math.floor(fetched / 0x40000)) ui.info(`Reading flash for the prediction: ${Math.round((fetched + n) / 1024)} KiB so far...`);
      fetched += n;
    },
  });
  if (verdict.boots) return { resolved, verdict, evidence };
  const found = await diagnoseFailedRegion(verdict, resolved.efuse, read, {
    store: req.store, mac: chip.mac.address, flashKey: keys.flashKey, board: raw,
    ...(plan ? { plan } : {}),
  });
  if (!found) return { resolved, verdict, evidence };
  return {
    resolved, evidence, diagnosis: found.diagnosis,
    // A cause tested on the board takes the place of the guessed one ("encrypted with another key").
    verdict: found.cause && verdict.symptom ? { ...verdict, reason: `${verdict.symptom}: ${found.cause}.` } : verdict,
    ...(found.partlyWritten ? { partlyWritten: found.partlyWritten } : {}),
  };
}

interface FailedRegion {
  address: number;
  /** Bytes read for the decryption diagnosis. */
  length: number;
  /** The flash the boot reads for this region (the whole app partition for an app). */
  span: number;
  want: ContentKind;
  role: RegionRole;
  headerOnly?: boolean;
}

/** The region a failed boot points at: the bootloader (digest image at 0x0 with secure boot), the table, or the app. */
async function failedRegion(outcome: BootOutcome, efuse: BootEfuses, view: (o: number, n: number) => Promise<Uint8Array>): Promise<FailedRegion | undefined> {
  if (outcome === 'no-bootloader' || outcome === 'bootloader-checksum' || outcome === 'secure-boot-check-fail') {
    return efuse.absDone0
      ? { address: DIGEST_ADDRESS, length: PARTITION_TABLE_ADDRESS, span: PARTITION_TABLE_ADDRESS, want: 'digest-image', role: 'bootloader-digest' }
      : { address: BOOTLOADER_ADDRESS, length: BOOTLOADER_MAX_LEN, span: BOOTLOADER_MAX_LEN, want: 'image', role: 'bootloader' };
  }
  if (outcome === 'partition-table') return { address: PARTITION_TABLE_ADDRESS, length: TABLE_MAX_LEN, span: TABLE_MAX_LEN, want: 'partition-table', role: 'partition-table' };
  if (outcome === 'no-app') {
    try {
      const apps = parsePartitionTable(await view(PARTITION_TABLE_ADDRESS, TABLE_MAX_LEN)).entries.filter((p) => p.type === 0);
      const app = apps.find((p) => p.subtype === 0) ?? apps[0];
      return app ? { address: app.offset, length: SECTOR_SIZE + 32, span: app.size, want: 'image', role: 'app', headerOnly: true } : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

interface FailureContext {
  store: KeyStore;
  mac: string;
  /** The key the prediction used for BLOCK1, when known. */
  flashKey: Uint8Array | undefined;
  /** The board's raw flash (never the plan's bytes): reads and SPI_FLASH_MD5. */
  board: Pick<FlashIo, 'read' | 'md5'>;
  /** The build laid over the flash, when the prediction is of the board after flashing it. */
  plan?: FlashPlan;
}

/**
 * Issue 12 item 4 for predict-boot: why the region the boot fails at is wrong, tested and not
 * recited. First an interrupted write (the key store's flash journal confirmed on the board, or a
 * region that starts as a valid image and is erased where it goes on), unless the build laid
 * over it rewrites that region; then, when the region is read through flash encryption and does
 * not decrypt with the key the prediction used, which cause holds (flash/diagnose.ts) on the
 * bytes the board will hold there (the build's over the flash). `cause` is set when a tested
 * cause replaces the verdict's guessed one.
 */
async function diagnoseFailedRegion(verdict: BootVerdict, efuse: BootEfuses, read: (o: number, n: number) => Promise<Uint8Array>, c: FailureContext): Promise<{ diagnosis: string; cause?: string; partlyWritten?: PartlyWritten } | undefined> {
  const fe = flashEncryptionOn(efuse);
  if (fe && !c.flashKey) return undefined;
  const conf = efuse.flashCryptConfig;
  const view = async (o: number, n: number): Promise<Uint8Array> => {
    if (!fe) return read(o, n);
    const start = o & ~31;
    const end = (o + n + 31) & ~31;
    const plain = decryptFlashData(await read(start, end - start), { key: c.flashKey!, address: start, flashCryptConf: conf });
    return plain.subarray(o - start, o - start + n);
  };
  const region = await failedRegion(verdict.outcome, efuse, view);
  if (!region) return undefined;
  const name = regionName(region.role);
  const rewritten = c.plan?.regions.some((g) => g.address < region.address + region.span && region.address < g.address + g.data.length) ?? false;
  if (!rewritten) {
    const cut = (await confirmUnfinishedWrite(c.board, c.store, c.mac, { address: region.address, length: region.span }))
      ?? (region.want === 'image' ? await partlyWrittenImage(c.board, view, region.address, region.span) : undefined);
    if (cut) return { diagnosis: partlyWrittenSentence(cut, name), cause: partlyWrittenCause(cut, name), partlyWritten: cut };
  }
  if (!fe) return undefined;
  const data = await read(region.address, region.length);
  const plain = await view(region.address, region.length);
  // It decrypts to what it should: the failure is not a decryption (a signature, a digest), nothing to test here.
  if (region.headerOnly ? plain[0] === 0xe9 : classifyContent(plain).kind === region.want) return undefined;
  return {
    diagnosis: diagnoseDecryption({
      data, address: region.address, want: region.want, role: region.role, conf,
      region: `${name} at ${hex(region.address)}`,
      key: { label: 'the key the prediction used', key: c.flashKey! },
      otherKeys: storeFlashKeys(c.store),
      ...(region.headerOnly ? { headerOnly: true } : {}),
    }).message,
  };
}
