import * as fs from 'node:fs';
import * as path from 'node:path';
import { hex } from '../util/hex';
import type { ChipInfo } from '../chip/identify';
import { readHardwareKeyFile } from '../keys/key-files';
import { storeSecureBootKey, storeSigningPublicKey } from '../keystore/secure-boot-key-source';
import { DEVICES_DIR, FLASH_KEY_FILE, macDirName, type KeyStore } from '../keystore/key-store';
import type { NamedKey } from './diagnose';
import { fingerprint } from '../util/fingerprint';
import { checkPlan, type BootPredictor, type CheckReport } from './checks';
import { UserError } from '../errors';
import { decryptFlashData } from '../crypto/flash-encryption';
import { PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { FlashJournal, JOURNAL_FILE } from './journal';
import type { FlashPlan } from './plan';
import { backupConfigSector, writePlan, type FlashIo, type FlashProgressEvent, type RegionResult } from './writer';
import { codingForKeyLength, keyBits } from '../chip/esp32';
import { DEFAULT_TIMING, romWriteEstimate } from '../chip/flash-timing';
import { ROM_FLASH_WRITE_SIZE } from '../rom/opcodes';

/**
 * One `flash` run against a connected board: keys from the key store, every check, the config
 * sector backup, then the writes. Kept separate from the CLI so the editor runs the same steps.
 */
export interface BoardKeys {
  flashKey?: Uint8Array;
  flashKeySource?: string;
  secureBootKey?: Uint8Array;
  /** The key store's other flash keys (the shared one, other boards' per-device ones), tried by diagnoses only. */
  otherFlashKeys?: NamedKey[];
}

/**
 * Every flash key file in the store but `except`: the shared key and each board's per-device key
 * (devices/MAC/flash_encryption_key.bin), labelled by path; unreadable files are skipped (they
 * only feed diagnoses).
 */
export function storeFlashKeys(store: KeyStore, except?: string): NamedKey[] {
  const files = [store.sharedFlashKeyPath];
  const devices = path.join(store.dir, DEVICES_DIR);
  if (fs.existsSync(devices)) for (const d of fs.readdirSync(devices).sort()) files.push(path.join(devices, d, FLASH_KEY_FILE));
  const out: NamedKey[] = [];
  for (const f of files) {
    if (f === except || !fs.existsSync(f)) continue;
    try {
      out.push({ label: `the key in ${path.relative(process.cwd(), f) || f}`, key: readHardwareKeyFile(f, 'flash-encryption') });
    } catch {
      /* not a key file: nothing to try */
    }
  }
  return out;
}

/**
 * How a key file is named in messages: relative to `base` (the CLI: its working folder; the editor:
 * the workspace) when it is inside it, so the path resolves from there; else absolute.
 */
export function keyFileLabel(file: string, base: string = process.cwd()): string {
  const rel = path.relative(base, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : path.resolve(file);
}

/**
 * The board's flash key (its own per-device key first, then the shared one) and the BLOCK2 key;
 * `flashKeySource` names the key file by keyFileLabel against `pathBase` (default the working folder).
 */
export function keysForBoard(store: KeyStore, info: Pick<ChipInfo, 'mac' | 'security'>, pathBase?: string): BoardKeys {
  const out: BoardKeys = {};
  const file = store.flashKeyFileFor(info.mac.address);
  if (file) {
    out.flashKey = readHardwareKeyFile(file, 'flash-encryption');
    out.flashKeySource = `${keyFileLabel(file, pathBase)} (fingerprint ${fingerprint(out.flashKey)})`;
  }
  const others = storeFlashKeys(store, file);
  if (others.length) out.otherFlashKeys = others;
  // Only when a secure boot key is (or is about to be) in BLOCK2 does the digest have to match it.
  const blk2InUse = info.security.secureBoot.v1Enabled || info.security.keys.secureBoot !== 'empty';
  if (blk2InUse) {
    // The store's random secure_boot_key.bin when it has one, else derived from its PEM signing key.
    const sbk = storeSecureBootKey(store, keyBits(codingForKeyLength(out.flashKey?.length)));
    if (sbk) out.secureBootKey = sbk.key;
  }
  return out;
}

export function deviceDir(store: KeyStore, mac: string): string {
  return path.join(store.dir, DEVICES_DIR, macDirName(mac));
}

/** The board's flash journal in the key store: the regions whose write began and did not finish (journal.ts). */
export function boardJournal(store: KeyStore, mac: string): FlashJournal {
  return new FlashJournal(path.join(deviceDir(store, mac), JOURNAL_FILE));
}

export interface FlashSessionOptions {
  io: FlashIo;
  info: Pick<ChipInfo, 'mac' | 'security' | 'flash'>;
  plan: FlashPlan;
  store: KeyStore;
  keys?: BoardKeys;
  incremental?: boolean;
  dryRun?: boolean;
  forceConfigSector?: boolean;
  compress?: boolean;
  predictBoot?: BootPredictor;
  signal?: AbortSignal;
  onProgress?: (e: FlashProgressEvent) => void;
  log?: (line: string) => void;
  /** The link's rate in bits per second: the time left is estimated from it until a rate is measured. */
  baud?: number;
}

export interface FlashSessionResult {
  report: CheckReport;
  results: RegionResult[];
  configBackup?: { path: string; created: boolean };
}

export async function runFlashSession(o: FlashSessionOptions): Promise<FlashSessionResult> {
  const log = o.log ?? ((): void => undefined);
  const keys = o.keys ?? keysForBoard(o.store, o.info as ChipInfo);
  const sec = o.info.security;
  // The store's signing key, for the signature check (checks.ts 4b); a store without one checks none.
  const signing = storeSigningPublicKey(o.store);
  const report = await checkPlan(o.plan, {
    ...(signing ? { signingPublicKey: signing.publicKey, signingKeyLabel: signing.file } : {}),
    chip: {
      flashEncryption: sec.flashEncryption.enabled,
      secureBoot: sec.secureBoot.v1Enabled,
      // Before encryption is on, CONFIG is not burned yet: judge files by the 0xF that will be.
      flashCryptConf: sec.flashEncryption.enabled && sec.flashEncryption.config !== 'protected' ? sec.flashEncryption.config : 0xf,
      ...(o.info.flash.sizeBytes !== undefined ? { flashSize: o.info.flash.sizeBytes } : {}),
      // A read-protected block reads as zeros but is reported 'protected', never 'empty' (chip/security.ts).
      emptyKeyBlocks: { blk1: sec.keys.flashEncryption === 'empty', blk2: sec.keys.secureBoot === 'empty' },
      ...(sec.codingScheme !== undefined ? { codingScheme: sec.codingScheme } : {}),
    },
    ...(keys.flashKey ? { flashKey: keys.flashKey, flashKeyLabel: keys.flashKeySource?.replace(/ \(fingerprint [0-9a-f]+\)$/, '') ?? 'the board\'s key' } : {}),
    ...(keys.otherFlashKeys ? { otherFlashKeys: keys.otherFlashKeys } : {}),
    ...(keys.secureBootKey ? { secureBootKey: keys.secureBootKey } : {}),
    ...(o.forceConfigSector ? { forceConfigSector: true } : {}),
    ...(o.predictBoot ? { predictBoot: o.predictBoot } : {}),
    boardPartitions: async () => {
      const raw = await o.io.read(PARTITION_TABLE_ADDRESS, TABLE_MAX_LEN);
      const encrypted = sec.flashEncryption.enabled;
      if (encrypted && !keys.flashKey) return undefined;
      const conf = sec.flashEncryption.config !== 'protected' ? sec.flashEncryption.config : 0xf;
      const plain = encrypted ? decryptFlashData(raw, { key: keys.flashKey!, address: PARTITION_TABLE_ADDRESS, flashCryptConf: conf }) : raw;
      try {
        return parsePartitionTable(plain, 'the partition table on the board').entries;
      } catch (e) {
        // No table there (erased, or one that does not parse): nothing to check against, as before.
        if (e instanceof UserError) return undefined;
        throw e;
      }
    },
  });
  if (o.dryRun) return { report, results: [] };
  const dir = deviceDir(o.store, o.info.mac.address);
  const configBackup = await backupConfigSector(o.io, dir, o.info.flash.sizeBytes);
  if (configBackup?.created) log(`Saved the config sector (LoRa/Sigfox identity) to ${configBackup.path}.`);
  const journal = boardJournal(o.store, o.info.mac.address);
  // A run cut off before: say that this one finishes it (the writer rewrites such a region in full).
  for (const e of journal.read()) {
    const r = o.plan.regions.find((x) => e.address < x.address + x.data.length && x.address < e.address + e.length);
    if (r) log(`Resuming: ${e.file} at ${hex(e.address)} was left partly written by a run that began writing it at ${e.startedAt} and was cut off; this run writes ${path.basename(r.file)} at ${hex(r.address)} again in full.`);
  }
  const results = await writePlan(o.plan, o.io, {
    journal,
    ...(o.incremental ? { incremental: true } : {}),
    ...(o.compress !== undefined ? { compress: o.compress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.onProgress && o.baud ? { estimate: romWriteEstimate(DEFAULT_TIMING, o.baud, ROM_FLASH_WRITE_SIZE) } : {}),
  });
  return { report, results, ...(configBackup ? { configBackup } : {}) };
}
