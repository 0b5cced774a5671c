import * as fs from 'node:fs';
import * as path from 'node:path';
import { assertNoKeyBytes, AuditLog, damagedLinesPhrase, newOperationId, readAudit, type AuditInput, type AuditRecord } from '../audit/audit-log';
import { readBoardRecords, type BoardRecord } from '../audit/board-record';
import { bootEfusesFromRaw, flashEncryptionOn, type BootEfuses } from '../boot/boot-efuses';
import { BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN, PARTITION_TABLE_ADDRESS, SECTOR_SIZE } from '../chip/esp32';
import { bootloaderDigestInput, computeBootloaderDigest, DIGEST_OFFSET } from '../crypto/bootloader-digest';
import { decryptFlashData } from '../crypto/flash-encryption';
import { readEfuses } from '../efuse/access';
import { OPERATION as BURN_KEYS, STEP, unfinishedBurnRun } from '../efuse/burn/burn-keys';
import { UserError } from '../errors';
import { checksumOk, readEspImage } from '../image/esp-image';
import { DEVICES_DIR, FLASH_KEY_FILE, macDirName, normaliseMac, SECURE_BOOT_KEY_FILE, type KeyStore } from '../keystore/key-store';
import { isInFlight, lockKeyStore } from '../keystore/lock';
import { readFlash } from '../loader/flash';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { fingerprint } from '../util/fingerprint';
import { CONFIG_SECTOR_ADDRESS } from '../boards/catalog';
import { deviceDir } from '../flash/session';
import { JOURNAL_FILE } from '../flash/journal';
import { hex } from '../util/hex';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';

/**
 * Key evidence (issue 12 B): over the serial port a read-protected key block reads as zeros, so
 * every check that stands the key store's key in for it (the flash checks, the boot prediction,
 * an OTA image, verify-flash) would pass just as well with another store's keys, and the board
 * would then not boot ("flash read err, 1000"). The store's keys count as the board's keys only
 * with evidence, and the product says which evidence it used:
 *
 *  - `burn-record`: a verified Burn Keys run (a `done` line, result ok) for this MAC in this key
 *    store's audit log whose key fingerprints are the store's keys;
 *  - `flash-read-back`: the board's current flash, read over the ROM loader and decrypted with the
 *    store's flash key, is a valid image set (the bootloader, the digest at 0x0 matching the
 *    store's secure boot key, the partition table at 0x8000, an app that parses), and this store
 *    has never written that flash itself (storeWroteBoard);
 *  - `acknowledged`: the user said so explicitly (the CLI's --trust-key-store, the editor's modal
 *    question), recorded in the audit log with fingerprints only.
 *
 * A readable key block needs no evidence: the chip's key is compared with the store's directly
 * (`readable`); `not-needed` when no key block the checks rely on holds a key.
 *
 * Evidence AGAINST the store's keys (the store's own verified Burn Keys run recorded another key
 * for the block than the store holds now, the written flash at 0x1000 does not decrypt with its
 * flash key, the written digest at 0x0 does not match its secure boot key, or a flash of this board
 * with the key taken on the user's word after which the ROM could not read the bootloader it had
 * written and verified: workflows/flash.ts keyRefuted) is no "no evidence":
 * it is refused at once (E_KEY_CONTRADICTED), and no acknowledgement is asked for or taken. A
 * board whose Burn Keys run was cut off (the store's audit log has it open) is told to finish it
 * first (E_BURN_UNFINISHED), before any of this.
 */
export type KeyEvidenceKind = 'not-needed' | 'readable' | 'burn-record' | 'flash-read-back' | 'acknowledged';

export interface KeyEvidence {
  kind: KeyEvidenceKind;
  /** One sentence for the user: which evidence, with fingerprints only. */
  text: string;
}

/** The keys a check is about to rely on, in key-file order. */
export interface EvidenceKeys {
  flashKey?: Uint8Array;
  secureBootKey?: Uint8Array;
}

/** One key block a check relies on and the store's key that stands for it. */
export interface KeySlot {
  block: 'BLOCK1' | 'BLOCK2';
  /** The Burn Keys step that burns it (its fingerprint is in the audit record under this id). */
  step: string;
  what: string;
  key: Uint8Array;
}

export interface KeyAssessment {
  /** Read-protected blocks that hold a key the checks would take from the store: evidence needed. */
  needed: KeySlot[];
  /** Readable blocks whose key was compared with the store's. */
  compared: { slot: KeySlot; chip: Uint8Array; same: boolean }[];
}

/**
 * Which key blocks a check relies on and how each can be known: BLOCK1 when flash encryption is
 * on or the block holds a key, BLOCK2 when ABS_DONE_0 is set or the block holds a key, each only
 * when the store has the key for it. `efuse` is from the physical bits (bootEfusesFromRaw), so a
 * read-protected block is recognised by its RD_DIS bit and a readable one is compared directly.
 */
export function assessKeys(efuse: BootEfuses, keys: EvidenceKeys): KeyAssessment {
  const out: KeyAssessment = { needed: [], compared: [] };
  const consider = (block: 'BLOCK1' | 'BLOCK2', used: boolean, key: Uint8Array | undefined): void => {
    const facts = block === 'BLOCK1' ? efuse.blk1 : efuse.blk2;
    if (!key || !(used || !facts.empty || facts.readProtected)) return;
    const slot = keySlot(block, key);
    if (facts.readProtected) out.needed.push(slot);
    else if (!facts.empty) {
      const chip = block === 'BLOCK1' ? efuse.flashKey : efuse.secureBootKey;
      out.compared.push({ slot, chip, same: Buffer.from(chip).equals(Buffer.from(key)) });
    }
  };
  consider('BLOCK1', flashEncryptionOn(efuse), keys.flashKey);
  consider('BLOCK2', efuse.absDone0, keys.secureBootKey);
  return out;
}

/** The slot of a key block holding `key`: the Burn Keys step that burns it and what it is called. */
export function keySlot(block: 'BLOCK1' | 'BLOCK2', key: Uint8Array): KeySlot {
  return block === 'BLOCK1'
    ? { block, step: STEP.flashKey, what: 'flash-encryption key', key }
    : { block, step: STEP.secureBootKey, what: 'secure boot key', key };
}

/** A key block whose key a verified Burn Keys run recorded as another than the store's: evidence against it. */
export interface RecordedOtherKey {
  slot: KeySlot;
  /** The run's `done` line. */
  run: AuditRecord;
  /** The fingerprint that run burned and verified in this block. */
  recorded: string;
}

/**
 * The verified Burn Keys run of this MAC in `records` whose key fingerprints are the `needed`
 * keys (the latest one), or, when runs exist but name other keys, the sentence saying so (the
 * store's key files were replaced since that burn). `against`: the blocks for which the latest
 * verified run that recorded a key for them (keyFingerprints lists only keys a run read back or
 * verified, never keys taken on the user's word) recorded another key than the store's; a burned
 * key block keeps its key (eFuse bits never go back to 0), so that record is evidence AGAINST the
 * store's key, not a lack of evidence. Undefined `match`, `mismatch` and `against`: no run.
 */
export function burnRecordFor(records: readonly AuditRecord[], mac: string, needed: readonly KeySlot[]): { match?: AuditRecord; mismatch?: string; against?: RecordedOtherKey[] } {
  const m = normaliseMac(mac);
  const runs = verifiedBurnRuns(records).filter((r) => sameMac(r.mac, m));
  const fits = (r: AuditRecord): boolean => needed.every((s) => r.keyFingerprints?.[s.step] === fingerprint(s.key));
  const match = [...runs].reverse().find(fits);
  if (match) return { match };
  const last = runs[runs.length - 1];
  if (!last) return {};
  const against: RecordedOtherKey[] = [];
  for (const slot of needed) {
    const run = [...runs].reverse().find((r) => typeof r.keyFingerprints?.[slot.step] === 'string');
    const recorded = run?.keyFingerprints?.[slot.step];
    if (run && recorded && recorded !== fingerprint(slot.key)) against.push({ slot, run, recorded });
  }
  if (against.length) return { against };
  const differs = needed.filter((s) => last.keyFingerprints?.[s.step] !== fingerprint(s.key));
  return {
    mismatch: `the verified Burn Keys run ${last.id} (${last.time}) in this key store burned ${differs.map((s) => `the ${s.what} ${last.keyFingerprints?.[s.step] ?? '(not recorded)'}`).join(' and ')}, but the store now holds ${differs.map((s) => fingerprint(s.key)).join(' and ')}`,
  };
}

/**
 * The flash-encryption key (fingerprint) the latest verified Burn Keys run of `mac` in this store
 * recorded for BLOCK1, with the run's id; undefined when no such run recorded one.
 */
export function recordedFlashKey(store: KeyStore, mac: string): { fingerprint: string; run: string } | undefined {
  const m = normaliseMac(mac);
  const runs = verifiedBurnRuns(readAudit(store.auditPath).records).filter((r) => sameMac(r.mac, m) && typeof r.keyFingerprints?.[STEP.flashKey] === 'string');
  const last = runs[runs.length - 1];
  return last ? { fingerprint: last.keyFingerprints![STEP.flashKey]!, run: last.id } : undefined;
}

/**
 * The MACs of boards this store's verified Burn Keys runs burned with another flash-encryption key
 * than `sharedFlashKey` (by the recorded fingerprint): boards with keys of their own, whether or
 * not their key files are still in devices/<MAC>/. Empty when the store has no such run.
 */
export function boardsBurnedWithOtherFlashKeys(store: KeyStore, sharedFlashKey: Uint8Array | undefined): string[] {
  const shared = sharedFlashKey ? fingerprint(sharedFlashKey) : undefined;
  const macs = new Set<string>();
  for (const r of verifiedBurnRuns(readAudit(store.auditPath).records)) {
    const fp = r.keyFingerprints?.[STEP.flashKey];
    if (typeof fp === 'string' && fp !== shared) macs.add(r.mac);
  }
  return [...macs];
}

/** The `done` lines of verified Burn Keys runs (result ok) that name their board, in log order. */
function verifiedBurnRuns(records: readonly AuditRecord[]): Array<AuditRecord & { mac: string }> {
  return records.filter((r): r is AuditRecord & { mac: string } => r.operation === BURN_KEYS && r.phase === 'done' && r.result === 'ok' && typeof r.mac === 'string');
}

function sameMac(a: string, b: string): boolean {
  try {
    return normaliseMac(a) === b;
  } catch {
    return false;
  }
}

/** The secure boot digest's length in bytes, at DIGEST_OFFSET of the digest block at 0x0. */
const DIGEST_LEN = 64;
/** The unit of flash encryption in bytes: a 32-byte block decrypts on its own. */
const CRYPT_BLOCK = 32;

const erased = (d: Uint8Array): boolean => d.length > 0 && d.every((b) => b === 0xff);
/** An image header's first bytes as the ROM accepts them: magic 0xE9 and 1..16 segments. */
const plausibleHeader = (h: Uint8Array): boolean => h[0] === 0xe9 && h[1]! >= 1 && h[1]! <= 16;

/**
 * Whether the flash at 0x1000 is evidence AGAINST the flash key it was decrypted with (`plain`
 * reads decrypted, `raw` as stored): its first 32-byte block is written (not all 0xFF), does not
 * decrypt to an image header (magic 0xE9, 1..16 segments) and is no plaintext image header either
 * (a bootloader written without encryption, e.g. the factory firmware, says nothing about the key).
 * A bootloader written with the right key always starts with a valid header, even when the write
 * was cut off: the ROM erases the region, then programs it from its first block on
 * (flash/partly-written.ts), so an interrupted write leaves the first block erased or holding the
 * header. Only a write this store began could leave worse (an erase cut off part-way), and then
 * its flash journal exists and storeWroteBoard already takes the read-back as no evidence. Wrong-key
 * ciphertext passes as a header about once in 4096 (then: no evidence, as before).
 */
async function contradictsFlashKey(raw: (a: number, n: number) => Promise<Uint8Array>, plain: (a: number, n: number) => Promise<Uint8Array>): Promise<boolean> {
  const first = await raw(BOOTLOADER_ADDRESS, CRYPT_BLOCK);
  if (first.length < CRYPT_BLOCK || erased(first) || plausibleHeader(first)) return false;
  return !plausibleHeader(await plain(BOOTLOADER_ADDRESS, CRYPT_BLOCK));
}

/** Reads raw flash (ciphertext when encrypted); offsets and lengths in bytes. */
export type RawFlashReader = (offset: number, length: number) => Promise<Uint8Array>;

/**
 * Whether the board's current flash, decrypted with `efuse.flashKey` (when flash encryption is
 * on) at each address with its FLASH_CRYPT_CONFIG, is a valid image set: a bootloader image at
 * 0x1000 with a good checksum, the digest at 0x0 matching `efuse.secureBootKey` when ABS_DONE_0 is
 * set, a partition table at 0x8000 and an app header (magic, segment headers inside the partition)
 * at the factory (else first) app partition. Only what those checks need is read, sector by
 * sector (about 40 KB: READ_FLASH_SLOW moves 64 bytes a command). Resolves to the sentence that
 * describes the set, or the first problem found; `against` names the key block the problem is
 * evidence against: BLOCK1 when flash encryption is on and the written flash at 0x1000 does not
 * decrypt to a bootloader header (contradictsFlashKey), BLOCK2 when the bootloader decrypts and
 * parses but the written (not erased) digest at 0x0 does not match `efuse.secureBootKey`.
 * Without `against` the problem is only a lack of evidence (erased or partly written flash).
 */
export async function flashImageSetEvidence(read: RawFlashReader, efuse: BootEfuses, flashSize: number): Promise<{ ok: true; text: string } | { ok: false; problem: string; against?: 'BLOCK1' | 'BLOCK2' }> {
  const fe = flashEncryptionOn(efuse);
  const rawCache = new Map<number, Uint8Array>();
  const cache = new Map<number, Uint8Array>();
  const rawSector = async (s: number): Promise<Uint8Array> => {
    let d = rawCache.get(s);
    if (!d) {
      d = await read(s * SECTOR_SIZE, SECTOR_SIZE);
      rawCache.set(s, d);
    }
    return d;
  };
  const sector = async (s: number): Promise<Uint8Array> => {
    let d = cache.get(s);
    if (!d) {
      const raw = await rawSector(s);
      // Each 4 KB sector is whole 32-byte blocks, so it decrypts on its own.
      d = fe ? decryptFlashData(raw, { key: efuse.flashKey, address: s * SECTOR_SIZE, flashCryptConf: efuse.flashCryptConfig }) : raw;
      cache.set(s, d);
    }
    return d;
  };
  const view = async (a: number, n: number, raw = false): Promise<Uint8Array> => {
    const len = Math.max(0, Math.min(n, flashSize - a));
    const out = new Uint8Array(len);
    for (let s = Math.floor(a / SECTOR_SIZE); s * SECTOR_SIZE < a + len; s++) {
      const d = raw ? await rawSector(s) : await sector(s);
      const from = Math.max(a, s * SECTOR_SIZE);
      const to = Math.min(a + len, (s + 1) * SECTOR_SIZE);
      out.set(d.subarray(from - s * SECTOR_SIZE, to - s * SECTOR_SIZE), from - a);
    }
    return out;
  };
  const extent = async (offset: number, max: number): Promise<number | undefined> => {
    const h = await view(offset, 24);
    if (h[0] !== 0xe9 || h[1]! === 0 || h[1]! > 16) return undefined;
    let pos = 24;
    for (let i = 0; i < h[1]!; i++) {
      const sh = await view(offset + pos, 8);
      if (sh.length < 8) return undefined;
      pos += 8 + Buffer.from(sh).readUInt32LE(4);
      if (pos > max) return undefined;
    }
    return Math.min(max, pos + 16 + 32);
  };
  const decrypted = fe ? ` decrypted with the flash key ${fingerprint(efuse.flashKey)}` : '';

  const blLen = await extent(BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN);
  if (blLen === undefined) {
    return { ok: false, problem: `the flash at 0x1000${decrypted} holds no bootloader image`, ...(fe && (await contradictsFlashKey((a, n) => view(a, n, true), (a, n) => view(a, n))) ? { against: 'BLOCK1' as const } : {}) };
  }
  let bl;
  try {
    bl = readEspImage(await view(BOOTLOADER_ADDRESS, blLen), 'The bootloader');
  } catch {
    return { ok: false, problem: `the bootloader at 0x1000${decrypted} does not parse` };
  }
  if (!checksumOk(bl)) return { ok: false, problem: `the bootloader at 0x1000${decrypted} has a bad checksum` };
  if (efuse.absDone0) {
    const iv = await view(0, 128);
    const stored = Buffer.from(await view(DIGEST_OFFSET, DIGEST_LEN));
    const bytes = await view(BOOTLOADER_ADDRESS, bl.imageEnd);
    const digest = Buffer.from(computeBootloaderDigest(efuse.secureBootKey, iv, bootloaderDigestInput(bytes, bl.hashAppended)));
    if (!digest.equals(stored)) {
      // An erased digest was never written (nothing to judge the key by); a written one that does not match was made with another key.
      const written = !erased(await view(DIGEST_OFFSET, DIGEST_LEN, true));
      return { ok: false, problem: `the bootloader digest at 0x0 does not match the secure boot key ${fingerprint(efuse.secureBootKey)}`, ...(written ? { against: 'BLOCK2' as const } : {}) };
    }
  }
  let app: { offset: number; size: number; label: string } | undefined;
  try {
    const apps = parsePartitionTable(await view(PARTITION_TABLE_ADDRESS, TABLE_MAX_LEN)).entries.filter((p) => p.type === 0);
    app = apps.find((p) => p.subtype === 0) ?? apps[0];
  } catch {
    return { ok: false, problem: `the flash at 0x8000${decrypted} is not a partition table` };
  }
  if (!app) return { ok: false, problem: 'the partition table at 0x8000 lists no app partition' };
  if ((await extent(app.offset, app.size)) === undefined) return { ok: false, problem: `the "${app.label}" partition at ${hex(app.offset)}${decrypted} holds no app that parses` };
  return {
    ok: true,
    text: `the board's flash${decrypted} is a valid image set (bootloader${efuse.absDone0 ? `, its digest at 0x0 matching the secure boot key ${fingerprint(efuse.secureBootKey)}` : ''}, partition table at 0x8000, app at ${hex(app.offset)})`,
  };
}

export interface KeyEvidenceRequest {
  store: KeyStore;
  /** The keys the check is about to rely on (the store's, or files the user gave). */
  keys: EvidenceKeys;
  /** The user vouched for the keys up front (the CLI's --trust-key-store). */
  trust?: boolean;
  /** When no evidence is found, ask through `ui.confirm` (the editor); the CLI takes `trust` instead. */
  ask?: boolean;
  /** The command or job named in the refusal and the audit line ("flash", "predict-boot"). */
  job: string;
  /** How this front end acknowledges, for the refusal: default "pass --trust-key-store". */
  acknowledgeHint?: string;
  /** How this front end uses another key store, for the refusal: default "--key-store DIR". */
  keyStoreHint?: string;
  /** The job writes (flash, ota-image): the refusal says nothing was written. */
  writes?: boolean;
  /** Refuse when a readable key block holds another key than the store's (default true; the boot prediction uses the chip's key instead). */
  readableMustMatch?: boolean;
  /** How this front end finishes a cut-off Burn Keys run, for E_BURN_UNFINISHED (default CLI_BURN_AGAIN_HINTS). */
  burnAgainHints?: BurnAgainHints;
}

const ACK_OPERATION = 'trust-key-store';

/**
 * How a front end says to finish a cut-off Burn Keys run (E_BURN_UNFINISHED), as a verb phrase:
 * `burnKeys` for a run of Burn Keys itself, `provision` for one a provisioning run started (the
 * audit line names it: `within`). Each names that front end's own burn command, never "the same
 * command" (said in answer to flash, that would be flash).
 */
export interface BurnAgainHints {
  burnKeys: string;
  provision: string;
}

/** The CLI's ways (the default of KeyEvidenceRequest.burnAgainHints). */
export const CLI_BURN_AGAIN_HINTS: BurnAgainHints = {
  burnKeys: 'run `pycom-secure efuse burn-keys` again with the options of the cut-off run',
  provision: 'run `pycom-secure provision` again with the options of the cut-off run',
};

/**
 * Refuses (E_BURN_UNFINISHED) when the store's audit `records` hold a Burn Keys run of `mac` that
 * was cut off and that no later run finished (unfinishedBurnRun, the history Burn Keys resumes
 * from; runs of this process still going are not cut off): the board is half-way through the
 * sequence (ABS_DONE_0 or the protection may be missing) and its keys have no verified record yet,
 * so the sentence says which run, how far it got and how to finish it in the front end's words
 * (req.burnAgainHints: the provision command when a provisioning run started it, else Burn Keys)
 * before the job; whatever `trust`, nothing asked or recorded.
 */
function refuseUnfinishedBurn(req: Pick<KeyEvidenceRequest, 'store' | 'job' | 'writes' | 'burnAgainHints'>, records: readonly AuditRecord[], mac: string): void {
  const run = unfinishedBurnRun(records.filter((r) => !isInFlight(req.store.auditPath, r.id)), mac);
  if (!run) return;
  const howFar = run.total !== undefined ? `after ${run.done} of ${run.total} steps` : 'before it finished';
  const hints = req.burnAgainHints ?? CLI_BURN_AGAIN_HINTS;
  const again = run.within ? hints.provision : hints.burnKeys;
  throw new UserError(
    'E_BURN_UNFINISHED',
    `${req.job}: Burn Keys run ${run.id} on ${run.mac} (started ${run.time}${run.within ? `, part of provision run ${run.within}` : ''}) was cut off ${howFar}, so the board is not finished and no verified record vouches for its keys yet; ${again} to finish it before ${req.job}${req.writes ? '; nothing was written' : ''}.`,
  );
}

/**
 * Which of the store's files a key of `slot` came from, for the refusal: the board's own
 * devices/<MAC>/flash_encryption_key.bin or the shared flash_encryption_key.bin (saying the board's
 * own file is missing when the store keeps per-device keys), secure_boot_key.bin, or the signing
 * key it is derived from; "the key given" when the bytes are in none of the store's files.
 */
function keySource(store: KeyStore, mac: string, slot: KeySlot): string {
  const same = (f: string): boolean => {
    try {
      return fs.existsSync(f) && Buffer.from(fs.readFileSync(f)).equals(Buffer.from(slot.key));
    } catch {
      return false;
    }
  };
  if (slot.block === 'BLOCK1') {
    const own = store.deviceFlashKeyPath(mac);
    const ownRel = path.join(DEVICES_DIR, macDirName(mac), FLASH_KEY_FILE);
    if (same(own)) return `from ${ownRel}`;
    if (same(store.sharedFlashKeyPath)) {
      return store.hasDeviceKeys() || fs.existsSync(path.dirname(own))
        ? `${ownRel} is missing, so the shared ${FLASH_KEY_FILE} was taken`
        : `from the shared ${FLASH_KEY_FILE}`;
    }
    return 'the key given, in none of its key files';
  }
  if (same(store.secureBootKeyPath)) return `from ${SECURE_BOOT_KEY_FILE}`;
  const signing = fs.existsSync(store.secureBootKeyPath) ? undefined : store.signingKeyFile();
  return signing ? `derived from ${path.basename(signing)}` : 'the key given, in none of its key files';
}

/**
 * The refusal when the store's own verified Burn Keys run recorded another key for a read-protected
 * block than the store holds now (burnRecordFor's `against`): which run burned which key into the
 * board, which key and file the store holds now, and the way forward (restore the board's key from
 * a backup, or the store that holds it: req.keyStoreHint). Not overridable by `trust`.
 */
function recordedOther(req: KeyEvidenceRequest | Omit<KeyEvidenceRequest, 'ask' | 'readableMustMatch'>, against: readonly RecordedOtherKey[], mac: string): UserError {
  const m = normaliseMac(mac);
  // One clause per run (both blocks usually come from the same one).
  const runs = [...new Map(against.map((x) => [x.run.id, x.run])).values()];
  const parts = runs.map((run) => {
    const mine = against.filter((x) => x.run.id === run.id);
    return `the verified Burn Keys run ${run.id} (${run.time}) burned ${mine.map((x) => `the ${x.slot.what} ${x.recorded} into ${x.slot.block}`).join(' and ')} of ${m}, but the key store (${req.store.dir}) now holds ${mine.map((x) => `${fingerprint(x.slot.key)} (${keySource(req.store, m, x.slot)})`).join(' and ')} for ${mine.length === 1 ? 'it' : 'them'}`;
  });
  return new UserError(
    'E_KEY_CONTRADICTED',
    `${req.job}: ${parts.join('; ')}, and a burned key block keeps its key${req.trust ? ', so vouching for this key store cannot outweigh its own record' : ''}; restore the board's key from your backup (or use the key store that holds it: ${req.keyStoreHint ?? '--key-store DIR'})${req.writes ? '; nothing was written' : ''}.`,
  );
}

/**
 * The evidence that the store's keys are the board's, found in this order: nothing to prove
 * (no key block in use, or readable blocks that match), a verified burn record, the flash
 * read-back, the user's acknowledgement (`trust`, or `ask` through `ui.confirm`), recorded in the
 * store's audit log. The sentence saying which evidence was used goes to `ui.info`.
 *
 * Errors: E_BURN_UNFINISHED (the store's audit log has a Burn Keys run of this MAC that was cut off
 * and no later run finished: said before anything else, whatever `trust`; refuseUnfinishedBurn),
 * E_KEY_MISMATCH (a readable block holds another key; nothing compared can be trusted),
 * E_KEY_CONTRADICTED (the store's own verified Burn Keys run recorded another key for a
 * read-protected block than the store now holds (burnRecordFor's `against`), or the flash
 * read-back is evidence against a read-protected key: the written
 * bootloader region does not decrypt with the store's flash key, or the written digest at 0x0 does
 * not match its secure boot key; refused whatever `trust` or `ask`, nothing asked or recorded,
 * unless storeWroteBoard), E_KEY_EVIDENCE (read-protected keys and no evidence: the sentence names
 * why, and the ways forward); link errors from reading the eFuses and the flash.
 */
export async function establishKeyEvidence(board: BoardSession, req: KeyEvidenceRequest, ui: Pick<UiPort, 'info' | 'confirm'>): Promise<KeyEvidence> {
  const { conn, chip } = board;
  // A board half-way through Burn Keys is named first: until the run is finished, no verified
  // record vouches for its keys, and every check would blame the key store instead.
  const audit = readAudit(req.store.auditPath);
  const records = audit.records;
  // Damaged lines of the audit log (the evidence) are said once, in the evidence line.
  const damage = damagedLinesPhrase(req.store.auditPath, audit.damaged);
  refuseUnfinishedBurn(req, records, chip.mac.address);
  const efuse = bootEfusesFromRaw((await readEfuses(conn.loader)).words, chip.revision.major);
  const a = assessKeys(efuse, req.keys);
  const bad = a.compared.filter((c) => !c.same);
  if (bad.length && req.readableMustMatch !== false) {
    throw new UserError('E_KEY_MISMATCH', `${req.job}: ${bad.map((c) => `${c.slot.block} is readable and holds the ${c.slot.what} ${fingerprint(c.chip)}, not the key store's ${fingerprint(c.slot.key)}`).join('; ')}, so the board would not read what this key store makes; use the key store (or key file) that holds the board's key${req.writes ? '; nothing was written' : ''}.`);
  }
  const say = (e: KeyEvidence): KeyEvidence => {
    const said = damage ? { ...e, text: `${e.text} (${damage}, so ${audit.damaged.length === 1 ? 'it was' : 'they were'} skipped)` } : e;
    ui.info(`Key evidence: ${said.text}.`);
    return said;
  };
  if (a.needed.length === 0) {
    return a.compared.length
      ? say({ kind: 'readable', text: `${a.compared.map((c) => `${c.slot.block} is readable and ${c.same ? 'holds' : 'does not hold'} the key store's ${c.slot.what} ${fingerprint(c.slot.key)}`).join('; ')}` })
      : { kind: 'not-needed', text: 'no key block this check relies on holds a key' };
  }
  const named = a.needed.map((s) => `the ${s.what} ${fingerprint(s.key)} in ${s.block}`).join(' and ');

  const record = burnRecordFor(records, chip.mac.address, a.needed);
  if (record.match) return say({ kind: 'burn-record', text: `the verified Burn Keys run ${record.match.id} (${record.match.time}) in ${req.store.auditPath} burned ${named}` });
  // The store's own verified record names another key for a block: refused at once, like flash that contradicts it.
  if (record.against) throw recordedOther(req, record.against, chip.mac.address);
  // A flash of this board with this key, taken on the user's word, that the boot then refuted: the
  // journal that flash left makes the read-back no evidence, so without this the user would be
  // asked to vouch again for the key the board has already shown it does not hold.
  const refuted = refutedByBoot(req.store, chip.mac.address, a.needed);
  if (refuted) throw refutedKey(req, refuted, chip.mac.address);

  // The chip decrypts with its own key; the read-back is judged with the store's keys in their place.
  const withStore: BootEfuses = { ...efuse };
  for (const s of a.needed) {
    if (s.block === 'BLOCK1') withStore.flashKey = s.key;
    else withStore.secureBootKey = s.key;
  }
  const flashSize = chip.flash.sizeBytes;
  const wrote = storeWroteBoard(req.store, chip.mac.address);
  const fromFlash = wrote
    // Ciphertext this store wrote with its own keys decrypts with them, whatever BLOCK1 holds: no evidence.
    ? { ok: false as const, problem: `the board's flash cannot vouch for the keys because this key store has written it before (${wrote}), so it may hold this store's own work` }
    : flashSize
      ? await flashImageSetEvidence((o, n) => readFlash(conn.loader, o, n), withStore, flashSize)
      : { ok: false as const, problem: 'the flash size is unknown, so the flash was not read back' };
  if (fromFlash.ok) return say({ kind: 'flash-read-back', text: fromFlash.text });
  // Evidence against one of the store's keys: refused at once, not asked, and no acknowledgement
  // outweighs it (the user's word is for when nothing can be checked).
  const against = 'against' in fromFlash ? a.needed.find((s) => s.block === fromFlash.against) : undefined;
  if (against) throw contradicted(req, against, chip.mac.address);

  const acknowledge = (how: string): KeyEvidence => {
    appendAcknowledgement(req.store, {
      id: newOperationId(), phase: 'done', operation: ACK_OPERATION, mac: chip.mac.address, revision: chip.revision.text,
      keyFingerprints: Object.fromEntries(a.needed.map((s) => [s.step, fingerprint(s.key)])),
      result: 'acknowledged',
      message: `${req.job}: ${how}; the read-protected key block(s) cannot be read back, so this is not verified`,
    }, a.needed.map((s) => s.key));
    return say({ kind: 'acknowledged', text: `you ${how} (not verified: recorded in ${req.store.auditPath})` });
  };
  if (req.trust) return acknowledge(`vouched that this key store holds ${named} (--trust-key-store)`);
  const why = `${record.mismatch ?? `no verified Burn Keys run for ${chip.mac.address} in ${req.store.auditPath} names them`}, and ${fromFlash.problem}`;
  if (req.ask && ui.confirm) {
    const yes = await ui.confirm({
      title: `${chip.mac.address}: is this key store the one whose keys were burned into this board?`,
      detail: `${a.needed.map((s) => s.block).join(' and ')} ${a.needed.length > 1 ? 'are' : 'is'} read-protected, so ${named} cannot be checked: ${why}. With another store's keys every check passes and the board does not boot. Your answer is recorded in the audit log.`,
      yes: 'Yes, this key store burned this board',
    });
    if (yes) return acknowledge(`confirmed that this key store holds ${named}`);
  }
  throw new UserError(
    'E_KEY_EVIDENCE',
    `${req.job}: nothing shows that this key store holds the board's keys (${named}), which are read-protected and cannot be compared: ${why}; use the key store that burned this board (${req.keyStoreHint ?? '--key-store DIR'}), or ${req.acknowledgeHint ?? 'pass --trust-key-store'} if you are sure it is (recorded in the audit log)${req.writes ? '; nothing was written' : ''}.`,
  );
}

/**
 * The refusal when the board's flash contradicts the store's key in `slot` (flashImageSetEvidence's
 * `against`): what the flash shows, that this store is not the one that burned the board, the way
 * forward in the front end's words (req.keyStoreHint), and for writing jobs that nothing was written.
 */
function contradicted(req: KeyEvidenceRequest, slot: KeySlot, mac: string): UserError {
  const shows = contradictionShows(slot, "the key store's");
  return new UserError(
    'E_KEY_CONTRADICTED',
    `${req.job}: the flash of ${normaliseMac(mac)} shows that its read-protected ${slot.block} holds another ${slot.what} than this key store's: ${shows}, so this key store (${req.store.dir}) is not the one that burned this board${req.trust ? ', and vouching for it cannot outweigh what the board shows' : ''}; use the key store that burned it (${req.keyStoreHint ?? '--key-store DIR'})${req.writes ? '; nothing was written' : ''}.`,
  );
}

/** A `flash` record of this board whose boot log refuted a needed key (workflows/flash.ts keyRefuted). */
interface RefutedKey {
  slot: KeySlot;
  record: BoardRecord;
}

/**
 * The latest `flash` record of `mac` in this store whose boot log refuted the key a `needed` slot
 * holds (the ROM could not read the bootloader that run wrote with it and verified), unless a
 * later record of the board with that key booted (the refutation was then wrong, e.g. the
 * bootloader was at fault). Undefined when there is none.
 */
function refutedByBoot(store: KeyStore, mac: string, needed: readonly KeySlot[]): RefutedKey | undefined {
  const records = readBoardRecords(store.auditPath, mac);
  for (const slot of needed) {
    const fp = fingerprint(slot.key);
    const i = records.map((r) => r.keyRefuted?.block === slot.block && r.keyRefuted.keyFingerprint === fp).lastIndexOf(true);
    if (i < 0) continue;
    const bootedSince = records.slice(i + 1).some((r) => r.boot === 'booted' && r.keyFingerprints[slot.step] === fp);
    if (!bootedSince) return { slot, record: records[i]! };
  }
  return undefined;
}

/** The refusal for a key the board's boot refuted (refutedByBoot): which run showed it, and the way forward. */
function refutedKey(req: KeyEvidenceRequest, r: RefutedKey, mac: string): UserError {
  return new UserError(
    'E_KEY_CONTRADICTED',
    `${req.job}: the flash run ${r.record.id} (${r.record.start}) wrote ${normaliseMac(mac)}'s bootloader encrypted with this key store's ${r.slot.what} ${fingerprint(r.slot.key)} and verified it, and the ROM then could not read it, so its read-protected ${r.slot.block} holds another key and this key store (${req.store.dir}) is not the one that burned this board${req.trust ? ', and vouching for it cannot outweigh what the board showed' : ''}; use the key store that burned it (${req.keyStoreHint ?? '--key-store DIR'})${req.writes ? '; nothing was written' : ''}.`,
  );
}

/** What the flash shows when it contradicts `slot` (flashImageSetEvidence's `against`), naming the key as `whose` it is. */
function contradictionShows(slot: KeySlot, whose: string): string {
  return slot.block === 'BLOCK1'
    ? `the bootloader region at 0x1000 is written but does not decrypt with ${whose} flash-encryption key ${fingerprint(slot.key)} (no bootloader header)`
    : `the bootloader at 0x1000 decrypts and parses, but the digest written at 0x0 does not match ${whose} secure boot key ${fingerprint(slot.key)}`;
}

/** What Burn Keys asks of the flash before it takes keys on the user's word (checkKeysTakenOnWord). */
export interface KeysOnWordRequest {
  store: KeyStore;
  /**
   * The eFuses as the run leaves them (flash encryption on, FLASH_CRYPT_CONFIG, ABS_DONE_0), with
   * the given keys in place of the blocks' own: what `flash` will judge the flash with afterwards.
   */
  efuse: BootEfuses;
  /** The read-protected blocks taken on the user's word, each with the key given for it. */
  slots: readonly KeySlot[];
  /** How this front end gives the right key for a block, for the refusal ("--flash-key FILE"). */
  keyHint(slot: KeySlot): string;
}

/**
 * Before Burn Keys takes read-protected key blocks on the user's word (--keys-burned-elsewhere):
 * the same flash evidence `flash` uses (establishKeyEvidence: flashImageSetEvidence with the given
 * keys in the blocks' place, skipped when this store wrote the board, storeWroteBoard). When the
 * flash contradicts a key in `req.slots` (its `against`), refuses with E_KEY_CONTRADICTED in one
 * sentence (what the flash shows, what to give instead: req.keyHint); the caller has then asked,
 * burned and recorded nothing. Otherwise resolves to a sentence part for the record saying what
 * the flash showed (a valid image set, or why it says nothing: erased, partly written, not read).
 * Link errors from reading the flash (about 40 KB, sector by sector).
 */
export async function checkKeysTakenOnWord(board: BoardSession, req: KeysOnWordRequest): Promise<string> {
  const { conn, chip } = board;
  const wrote = storeWroteBoard(req.store, chip.mac.address);
  if (wrote) return `the board's flash was not read back, as this key store has written it before (${wrote}), so it cannot vouch for or against them`;
  const flashSize = chip.flash.sizeBytes;
  if (!flashSize) return 'the flash size is unknown, so the flash was not read back';
  const r = await flashImageSetEvidence((o, n) => readFlash(conn.loader, o, n), req.efuse, flashSize);
  if (r.ok) return `the board's flash agrees with them: ${r.text}`;
  const slot = 'against' in r ? req.slots.find((s) => s.block === r.against) : undefined;
  if (!slot) return `the board's flash says nothing about them: ${r.problem}`;
  throw new UserError(
    'E_KEY_CONTRADICTED',
    `The flash of ${chip.mac.address} shows that its read-protected ${slot.block} holds another ${slot.what} than the one given to take on your word (--keys-burned-elsewhere): ${contradictionShows(slot, 'the given')}; give the key that was burned into ${slot.block} (${req.keyHint(slot)}); nothing was burned or recorded.`,
  );
}

/**
 * Appends one line the user's word made (an acknowledgement, a module override) to the store's
 * audit log under the store's lock (already held when this is part of a flash run), refusing a
 * line that holds any of `keys` (assertNoKeyBytes). `what` names it for a lock held elsewhere.
 */
export function appendUserWord(store: KeyStore, rec: AuditInput, keys: readonly Uint8Array[], what: string): void {
  assertNoKeyBytes(rec, keys);
  const release = fs.existsSync(store.dir) ? lockKeyStore(store.dir, `recording ${what} for ${rec.mac}`) : undefined;
  try {
    new AuditLog(store.auditPath).append(rec);
  } finally {
    release?.();
  }
}

/** Appends an acknowledgement line (the user vouched for the store's keys) to the store's audit log. */
function appendAcknowledgement(store: KeyStore, rec: AuditInput, keys: readonly Uint8Array[]): void {
  appendUserWord(store, rec, keys, 'an acknowledgement');
}

/**
 * Whether this key store has written this board's flash before: its config-sector backup or flash
 * journal for the MAC (flash/session.ts writes one before the first write). Returns the file that
 * says so, or undefined. A flash this store wrote decrypts with the store's keys whether or not
 * they are the chip's, so its read-back is no evidence (issue 12 B: flash with the wrong store,
 * then predict-boot with it, must not say WILL BOOT).
 */
export function storeWroteBoard(store: KeyStore, mac: string): string | undefined {
  const dir = deviceDir(store, mac);
  for (const f of [`config-${hex(CONFIG_SECTOR_ADDRESS)}.bin`, JOURNAL_FILE]) {
    const p = path.join(dir, f);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/**
 * The same evidence when no board is connected (an OTA image made for a board by MAC): only the
 * burn record and the acknowledgement can be had, and the flash key is assumed read-protected (a
 * board with encryption on normally has it so; the conservative answer without a board).
 *
 * Errors: E_BURN_UNFINISHED, E_KEY_CONTRADICTED (from the store's own burn record, or a flash
 * record whose boot refuted the key) and
 * E_KEY_EVIDENCE as above.
 */
export function establishOfflineKeyEvidence(mac: string, req: Omit<KeyEvidenceRequest, 'ask' | 'readableMustMatch'>): KeyEvidence {
  const needed: KeySlot[] = req.keys.flashKey ? [{ block: 'BLOCK1', step: STEP.flashKey, what: 'flash-encryption key', key: req.keys.flashKey }] : [];
  const records = readAudit(req.store.auditPath).records;
  refuseUnfinishedBurn(req, records, mac);
  if (needed.length === 0) return { kind: 'not-needed', text: 'no key is used' };
  const named = `the flash-encryption key ${fingerprint(needed[0]!.key)}`;
  const record = burnRecordFor(records, mac, needed);
  if (record.match) return { kind: 'burn-record', text: `the verified Burn Keys run ${record.match.id} (${record.match.time}) in ${req.store.auditPath} burned ${named} into ${normaliseMac(mac)}` };
  if (record.against) throw recordedOther(req, record.against, mac);
  const refuted = refutedByBoot(req.store, mac, needed);
  if (refuted) throw refutedKey(req, refuted, mac);
  if (req.trust) {
    appendAcknowledgement(req.store, {
      id: newOperationId(), phase: 'done', operation: ACK_OPERATION, mac: normaliseMac(mac),
      keyFingerprints: { [STEP.flashKey]: fingerprint(needed[0]!.key) },
      result: 'acknowledged',
      message: `${req.job}: vouched that this key store holds the board's flash key (--trust-key-store); not verified`,
    }, [needed[0]!.key]);
    return { kind: 'acknowledged', text: `you vouched that this key store holds ${named} of ${normaliseMac(mac)} (--trust-key-store; not verified: recorded in ${req.store.auditPath})` };
  }
  throw new UserError(
    'E_KEY_EVIDENCE',
    `${req.job}: nothing shows that this key store holds the flash-encryption key of ${normaliseMac(mac)} (${named}): ${record.mismatch ?? `no verified Burn Keys run for it in ${req.store.auditPath}`}, and without the board its flash cannot be read back; use the key store that burned this board (${req.keyStoreHint ?? '--key-store DIR'}), or ${req.acknowledgeHint ?? 'pass --trust-key-store'} if you are sure it is (recorded in the audit log); nothing was written.`,
  );
}
