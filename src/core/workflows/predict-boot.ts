import { createHash } from 'node:crypto';
import { readEfuses } from '../efuse/access';
import { decodeEfuses, isThreeFour } from '../efuse/decode';
import { CLI_MISSING_KEY_HINTS, predictBootFromReader, resolveBootEfuses, type KnownKeys, type MissingKeyHints, type ResolvedEfuses } from '../boot/predict-connected';
import { overlayFlash } from '../boot/predict-plan';
import type { BootOutcome, BootVerdict } from '../boot/predict';
import { flashEncryptionOn, type BootEfuses } from '../boot/boot-efuses';
import { BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN, codingForKeyLength, DIGEST_ADDRESS, keyBits, PARTITION_TABLE_ADDRESS, SECTOR_SIZE } from '../chip/esp32';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent, type ContentKind } from '../firmware/content';
import { diagnoseDecryption } from '../flash/diagnose';
import type { RegionRole } from '../flash/plan';
import { storeFlashKeys } from '../flash/session';
import { CLI_RERUN_HINTS, confirmUnfinishedWrite, partlyWrittenCause, regionName, partlyWrittenDigestImage, partlyWrittenImage, partlyWrittenSentence, partlyWrittenTable, unfinishedWrites, type PartlyWritten, type RerunHints } from '../flash/partly-written';
import { romFlashIo } from '../flash/rom-io';
import type { FlashIo } from '../flash/writer';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { hex } from '../util/hex';
import type { FlashPlan } from '../flash/plan';
import { readFlash } from '../loader/flash';
import { isUserError, UserError } from '../errors';
import type { KeyStore } from '../keystore/key-store';
import { storeSecureBootKey } from '../keystore/secure-boot-key-source';
import { readHardwareKeyFile } from '../keys/key-files';
import { pemPrivateKey, signingPublicKey } from '../keys/signer';
import { digestPrivateKey } from '../crypto/secure-boot-key';
import { establishKeyEvidence, type BurnAgainHints, type KeyEvidence } from './evidence';
import { codingSchemeCause } from '../efuse/burn/coding-support';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';

export interface PredictBootRequest {
  /** The keys the prediction may use for read-protected key blocks (files, or the key store by MAC: predictionKeys). */
  keys(board: { mac: string; threeFour: boolean }): KnownKeys;
  /** A build to predict the board after (its bytes over what the flash holds now); made once the flash size is known. */
  plan?(board: { flashKey: Uint8Array | undefined; flashSize: number }): FlashPlan;
  /** The key store whose audit log holds the evidence for read-protected keys (and records an acknowledgement). */
  store: KeyStore;
  /** The user vouched that the keys are the board's (the CLI's --trust-key-store); recorded in the audit log. */
  trustKeyStore?: boolean;
  /** Without evidence, ask through `ui.confirm` whether the store is the board's (the editor); the answer is recorded. */
  ask?: boolean;
  /** The front end's words for its ways forward; the CLI's options by default. */
  hints?: PredictBootHints;
}

/** How a front end names its ways forward in the answer's sentences (each defaults to the CLI's). */
export interface PredictBootHints {
  /** How to supply a key the prediction lacks (predict-connected.ts). */
  missingKey?: MissingKeyHints;
  /** How to say the key store is the board's (evidence.ts; default "pass --trust-key-store"). */
  acknowledge?: string;
  /** How to use another key store (evidence.ts; default "--key-store DIR"). */
  keyStore?: string;
  /** How to finish an interrupted flash or provision run (partly-written.ts). */
  rerun?: RerunHints;
  /** How to finish a cut-off Burn Keys run (evidence.ts, E_BURN_UNFINISHED; default the CLI's). */
  burnAgain?: BurnAgainHints;
}

/** Key files named instead of the key store's (the CLI's --flash-key, --signing-key, --secure-boot-key, --pkcs11-module). */
export interface GivenPredictionKeys {
  flashKeyFile?: string;
  /** A PEM file or a pkcs11: URI. */
  signingKey?: string;
  secureBootKeyFile?: string;
  /** The PKCS#11 module for a token signing key (else PYCOM_PKCS11_MODULE). */
  pkcs11Module?: string;
}

/**
 * The keys a boot prediction may use: the given files first, then the key store (the board's
 * per-device flash key, else the shared one; the signing key, a PEM file or a token reference
 * whose public key is read without a PIN; the secure boot key: the given file, else derived from
 * a given PEM signing key, else the store's random secure_boot_key.bin, else derived from the
 * store's PEM signing key). `board.mac` is undefined for a planned board (shared key only); the
 * secure boot key has 192 bits on a 3/4-coding chip or with a 24-byte flash key.
 *
 * Errors: UserError from reading a key file (E_KEY_* naming the file) or a token (E_TOKEN_KEY, E_PKCS11_*).
 */
export function predictionKeys(store: KeyStore, board: { mac?: string; threeFour: boolean }, given: GivenPredictionKeys = {}): KnownKeys {
  const keys: KnownKeys = {};
  const fkFile = given.flashKeyFile ?? store.flashKeyFileFor(board.mac);
  if (fkFile) keys.flashKey = readHardwareKeyFile(fkFile, 'flash-encryption');
  const signing = given.signingKey ?? store.signingKeyFile();
  if (signing !== undefined) keys.signingPublicKey = signingPublicKey(signing, given.pkcs11Module !== undefined ? { module: given.pkcs11Module } : {});
  const bits = keyBits(board.threeFour ? '3/4' : codingForKeyLength(keys.flashKey?.length));
  if (given.secureBootKeyFile !== undefined) keys.secureBootKey = readHardwareKeyFile(given.secureBootKeyFile, 'digest');
  // Reflashable secure boot v1: BLOCK2 holds the digest of the signing key (192 bits on 3/4 chips),
  // or, for a signing key in a token, the store's random secure_boot_key.bin.
  else if (given.signingKey !== undefined) keys.secureBootKey = digestPrivateKey(pemPrivateKey(given.signingKey, 'the secure boot key (pass --secure-boot-key)'), bits);
  else {
    const fromStore = storeSecureBootKey(store, bits);
    if (fromStore) keys.secureBootKey = fromStore.key;
  }
  return keys;
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
  /**
   * When the board boots: regions outside the boot path an interrupted write left only partly
   * written (another OTA slot), each one sentence (partlyWrittenSentence) naming the region and
   * the rerun; found as verify-flash finds them (the key store's flash journal confirmed on the
   * board, confirmUnfinishedWrite). The verdict stands: the app that boots is intact.
   */
  notes?: string[];
}

/**
 * Will the connected board boot: its eFuses (read-protected key blocks filled in from `keys` when
 * there is evidence they are the board's, evidence.ts; else named as undecidable), its flash read over the ROM loader as the bootloader reads it (digest,
 * bootloader, partition table, the app), optionally with a build's bytes laid over it. Progress on
 * large reads goes to `ui.info` every 256 KiB (READ_FLASH_SLOW moves 64 bytes per command).
 * Nothing is written to the board; the key store's audit log gets a line only when the user
 * vouches for the keys (`trustKeyStore`, or a yes to `ui.confirm` with `ask`). The sentences name
 * the ways forward in the front end's words (`hints`). predictionReport puts the outcome in words.
 *
 * Errors: E_FLASH_SIZE when the flash chip did not identify itself; E_KEY_MISMATCH is not raised
 * (a readable key block is used as it is), and E_BURN_UNFINISHED / E_KEY_EVIDENCE / E_KEY_CONTRADICTED come back as
 * `resolved.undecidable` (the refusal's sentence); link errors; key file errors from `keys`.
 */
export async function predictBootOnBoard(board: BoardSession, req: PredictBootRequest, ui: Pick<UiPort, 'info'> & Partial<Pick<UiPort, 'confirm'>>): Promise<PredictBootOutcome> {
  const { conn, chip } = board;
  const snap = await readEfuses(conn.loader);
  const words = snap.words;
  const dec = decodeEfuses(snap);
  const threeFour = isThreeFour(dec.codingScheme);
  const keys = req.keys({ mac: chip.mac.address, threeFour });
  const resolved = resolveBootEfuses(words, chip.revision.major, keys, req.hints?.missingKey ?? CLI_MISSING_KEY_HINTS);
  const flashSize = chip.flash.sizeBytes;
  if (!flashSize) throw new UserError('E_FLASH_SIZE', 'predict-boot: the flash chip did not identify itself, so the boot cannot be predicted; check the board and its connection.');
  if (resolved.undecidable.length) return { resolved };
  // Issue 12 B: a read-protected key is only assumed to be the given one with evidence; without
  // it the answer is "cannot decide" (the reason and the ways forward), never "WILL BOOT".
  let evidence: KeyEvidence;
  try {
    evidence = await establishKeyEvidence(board, {
      store: req.store, keys: { ...(keys.flashKey ? { flashKey: keys.flashKey } : {}), ...(keys.secureBootKey ? { secureBootKey: keys.secureBootKey } : {}) },
      job: 'predict-boot', readableMustMatch: false, ...(req.trustKeyStore ? { trust: true } : {}), ...(req.ask ? { ask: true } : {}),
      ...(req.hints?.acknowledge ? { acknowledgeHint: req.hints.acknowledge } : {}), ...(req.hints?.keyStore ? { keyStoreHint: req.hints.keyStore } : {}),
      ...(req.hints?.burnAgain ? { burnAgainHints: req.hints.burnAgain } : {}),
    }, ui);
  } catch (e) {
    // The refusal stands alone: without evidence (or with evidence against the keys) nothing was assumed about the key blocks.
    if (isUserError(e) && (e.code === 'E_KEY_EVIDENCE' || e.code === 'E_KEY_CONTRADICTED' || e.code === 'E_BURN_UNFINISHED')) return { resolved: { ...resolved, assumptions: [], undecidable: [e.message] } };
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
  if (verdict.boots) {
    const notes = await partlyWrittenElsewhere(raw, req.store, chip.mac.address, plan, req.hints?.rerun ?? CLI_RERUN_HINTS);
    return { resolved, verdict, evidence, ...(notes.length ? { notes } : {}) };
  }
  // Keys burned under the 3/4 coding scheme: that is the cause, not the key the digest was made with.
  const coding = codingSchemeCause(dec.codingScheme, dec.keyBlocks[1].status !== 'empty' || dec.keyBlocks[2].status !== 'empty');
  if (coding) {
    return { resolved, evidence, diagnosis: `${coding}.`, verdict: verdict.symptom ? { ...verdict, reason: `${verdict.symptom}: ${coding}.` } : verdict };
  }
  const found = await diagnoseFailedRegion(verdict, resolved.efuse, read, {
    store: req.store, mac: chip.mac.address, flashKey: keys.flashKey, board: raw, rerun: req.hints?.rerun ?? CLI_RERUN_HINTS,
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

/**
 * The key store's unfinished writes to `mac` (its flash journal) that the board confirms as partly
 * written (confirmUnfinishedWrite, verify-flash's test) and that `plan` does not rewrite: one
 * sentence each, "Note: the booting app is intact, but …" (partlyWrittenSentence, with `rerun`).
 */
async function partlyWrittenElsewhere(board: Pick<FlashIo, 'read' | 'md5'>, store: KeyStore, mac: string, plan: FlashPlan | undefined, rerun: RerunHints): Promise<string[]> {
  const notes: string[] = [];
  for (const e of unfinishedWrites(store, mac)) {
    if (plan?.regions.some((g) => g.address < e.address + e.length && e.address < g.address + g.data.length)) continue;
    const cut = await confirmUnfinishedWrite(board, store, mac, { address: e.address, length: e.length });
    if (cut) notes.push(`Note: the app that boots is intact, but ${partlyWrittenSentence(cut, 'the region', rerun)}`);
  }
  return notes;
}

/**
 * The answer in four kinds: `boots` (into the app), `boots-but-must-not` (it would boot, but
 * generate its own keys on first boot, or run an app it must not), `does-not-boot`, `undecided`
 * (a key is missing or has no evidence).
 */
export type PredictionStatus = 'boots' | 'boots-but-must-not' | 'does-not-boot' | 'undecided';

const STATUS_WORDS: Record<Exclude<PredictionStatus, 'undecided'>, string> = {
  boots: 'WILL BOOT',
  'boots-but-must-not': 'WOULD BOOT, BUT MUST NOT',
  'does-not-boot': 'WILL NOT BOOT',
};

export interface PredictionReport {
  status: PredictionStatus;
  /**
   * One line for a notification: "<source>: WILL BOOT. <the verdict's reason>", or "Cannot decide
   * whether <source> will boot: <what is missing>".
   */
  headline: string;
  /**
   * The whole answer, one entry per line, as predict-boot prints it: the verdict, the boot log the
   * chip would print ("  | ..."), warnings, and the diagnosis ("Diagnosis: ...") of a failed boot;
   * or, undecided, what would have to be known ("  - ..."). Fingerprints only, never key bytes.
   */
  lines: string[];
}

/**
 * The answer of a prediction (predictBootOnBoard, or predictBoot for a planned board) in words,
 * the same for every front end. `source` names the board as the sentence's subject ("The board on
 * /dev/ttyACM0"); its first letter is lowercased inside "Cannot decide whether ...".
 */
export function predictionReport(source: string, r: { resolved: ResolvedEfuses; verdict?: BootVerdict; diagnosis?: string; notes?: readonly string[] }): PredictionReport {
  const v = r.verdict;
  if (r.resolved.undecidable.length || !v) {
    const whether = `Cannot decide whether ${source.charAt(0).toLowerCase()}${source.slice(1)} will boot`;
    return {
      status: 'undecided',
      headline: `${whether}: ${r.resolved.undecidable.join(' ')}`,
      lines: [`${whether}:`, ...r.resolved.undecidable.map((u) => `  - ${u}`)],
    };
  }
  const status: PredictionStatus = v.boots && v.outcome === 'app-running' ? 'boots' : v.boots ? 'boots-but-must-not' : 'does-not-boot';
  const headline = `${source}: ${STATUS_WORDS[status]}. ${v.reason}`;
  return {
    status,
    headline,
    lines: [headline, ...v.log.map((l) => `  | ${l}`), ...v.hazards.map((h) => `  warning: ${h}`), ...(r.diagnosis ? [`Diagnosis: ${r.diagnosis}`] : []), ...(r.notes ?? [])],
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
  /** The front end's way to finish an interrupted write, for the partly-written sentence. */
  rerun: RerunHints;
}

/**
 * Without a journal: an interrupted write of `region` as the board's own content shows it
 * (flash/partly-written.ts): an image that starts valid and is erased where it goes on (the
 * bootloader without secure boot, the app), the digest image at 0x0 whose digest block is written
 * but whose bootloader is cut short or erased, a partition table whose entries end in erased flash.
 */
async function partlyWrittenFromContent(board: Pick<FlashIo, 'read' | 'md5'>, view: (o: number, n: number) => Promise<Uint8Array>, region: FailedRegion, encrypted: boolean): Promise<PartlyWritten | undefined> {
  if (region.want === 'image') return partlyWrittenImage(board, view, region.address, region.span);
  if (region.want === 'digest-image') return partlyWrittenDigestImage(board, view, region.address);
  if (region.want === 'partition-table') return partlyWrittenTable(board, view, region.address, region.span, encrypted);
  return undefined;
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
      ?? (await partlyWrittenFromContent(c.board, view, region, fe));
    if (cut) return { diagnosis: partlyWrittenSentence(cut, name, c.rerun), cause: partlyWrittenCause(cut, name), partlyWritten: cut };
  }
  if (!fe) return undefined;
  const data = await read(region.address, region.length);
  // Erased flash decrypts to garbage as well: it is nothing written yet, not another key (trial 8:
  // a board right after Burn Keys was told its key store does not hold its key).
  if (data.subarray(0, 32).every((b) => b === 0xff)) {
    const erased = `the flash at ${hex(region.address)} (for ${name}) is erased: nothing was written there yet`;
    return { diagnosis: `${erased}, so it says nothing about the key; ${c.rerun.firstFlash}.`, cause: erased };
  }
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
