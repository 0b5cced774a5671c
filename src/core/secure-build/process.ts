import * as path from 'node:path';
import { UserError } from '../errors';
import { makeDirs } from '../util/atomic-file';
import { board as boardFacts, boardGeneration, layout as layoutFacts, type BoardId, type LayoutId } from '../boards/catalog';
import { digestSecureBootloader } from '../crypto/bootloader-digest';
import { encryptFlashData } from '../crypto/flash-encryption';
import { signData, type SigningKey } from '../crypto/signature';
import { checksumOk, readEspImage } from '../image/esp-image';
import { DIGEST_FILE, GENERATIONS, factoryName, otaCopyName, tableOutputs, type GenerationId } from '../firmware/generations';
import { DIGEST_ADDRESS, FACTORY_ADDRESS, PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { parsePartitionTable, TABLE_MAX_LEN, writePartitionTable } from '../partition/table';
import { writeFileAtomic } from '../util/atomic-file';

/**
 * Host-side secure processing (issue 5 §2): from the *plain* outputs of a build (bootloader.bin,
 * the partition table, the app) and the key store, produce what `make SECURE=on` would have: the
 * reflashable digest image, the signed tables and app, each encrypted for its flash address. Used
 * for builds made without SECURE=on and for per-device flash keys (one key per board means one
 * ciphertext per board; the build's own `_enc` files only fit the key the build used).
 */
export interface SecureKeys {
  /** A parsed PEM key or a Signer (a token key signs through the token). */
  signingKey: SigningKey;
  /** Flash-encryption key in key-file order (32 bytes, 24 with 3/4 coding). */
  flashKey: Uint8Array;
  /** The secure boot key as burned in BLOCK2: digest_private_key of a PEM signing key (Pycom's flow), or the key store's random secure_boot_key.bin. */
  secureBootKey: Uint8Array;
  flashCryptConf?: number;
}

/**
 * Encrypts `plain` for `address`, padded with 0xFF to 32 bytes (esptool's encrypted-write
 * alignment) so the output is deterministic: unchanged code gives unchanged ciphertext, which is
 * what makes incremental reflashing work.
 */
export function encryptFor(plain: Uint8Array, address: number, flashKey: Uint8Array, flashCryptConf = 0xf): Uint8Array {
  const len = Math.ceil(plain.length / 32) * 32;
  const padded = new Uint8Array(len).fill(0xff);
  padded.set(plain);
  return encryptFlashData(padded, { key: flashKey, address, flashCryptConf });
}

/** Signs an app image; refuses one that is already signed or not a valid image. */
export function signApp(app: Uint8Array, key: SigningKey, what = 'The app image'): Uint8Array {
  const img = readEspImage(app, what);
  if (!checksumOk(img)) throw new UserError('E_IMAGE_CHECKSUM', `${what} has a wrong checksum; rebuild it.`);
  if (img.trailingBytes !== 0) {
    throw new UserError('E_ALREADY_SIGNED', `${what} has ${img.trailingBytes} bytes after the image${img.signatureBlockPresent ? ' (it is already signed)' : ''}; give the unsigned elf2image output.`);
  }
  return signData(app, key);
}

/** Signs a partition table: exactly the 0xC00 table bytes, then the 68-byte block. */
export function signPartitionTable(table: Uint8Array, key: SigningKey, what = 'The partition table'): Uint8Array {
  parsePartitionTable(table.subarray(0, TABLE_MAX_LEN), what);
  if (table.length > TABLE_MAX_LEN) {
    throw new UserError('E_ALREADY_SIGNED', `${what} is ${table.length} bytes, longer than the 0xC00-byte table (already signed?); give gen_esp32part's output.`);
  }
  const full = new Uint8Array(TABLE_MAX_LEN).fill(0xff);
  full.set(table);
  return signData(full, key);
}

export interface PlainInputs {
  bootloader: Uint8Array;
  /** A binary table (0xC00 bytes), or undefined to use Pycom's layout for `layout`. */
  partitionTable?: Uint8Array;
  layout?: LayoutId;
  app: Uint8Array;
  /** Deterministic IV for the digest (tests, fixtures); random otherwise. */
  iv?: Uint8Array;
}

export interface SecureSet {
  digest: Uint8Array;
  partitionTable: Uint8Array;
  app: Uint8Array;
  signedApp: Uint8Array;
  signedPartitionTable: Uint8Array;
  /** OTA copies by address. */
  otaCopies: Map<number, Uint8Array>;
}

export function secureSet(inputs: PlainInputs, keys: SecureKeys, otaAddresses: readonly number[]): SecureSet {
  const conf = keys.flashCryptConf ?? 0xf;
  const table = inputs.partitionTable ?? writePartitionTable(layoutFacts(inputs.layout ?? '8MB').entries);
  const signedPartitionTable = signPartitionTable(table, keys.signingKey);
  const signedApp = signApp(inputs.app, keys.signingKey);
  const digest = digestSecureBootloader(inputs.bootloader, keys.secureBootKey, inputs.iv).output;
  const otaCopies = new Map<number, Uint8Array>();
  for (const a of otaAddresses) otaCopies.set(a, encryptFor(signedApp, a, keys.flashKey, conf));
  return {
    digest: encryptFor(digest, DIGEST_ADDRESS, keys.flashKey, conf),
    partitionTable: encryptFor(signedPartitionTable, PARTITION_TABLE_ADDRESS, keys.flashKey, conf),
    app: encryptFor(signedApp, FACTORY_ADDRESS, keys.flashKey, conf),
    signedApp,
    signedPartitionTable,
    otaCopies,
  };
}

/**
 * Writes a secure set into `outDir` with the file names of `generation` (Era D by default), so
 * the result is a build directory that findBuildOutputs and planFromBuild accept.
 */
export function writeSecureBuildDir(outDir: string, board: BoardId, inputs: Omit<PlainInputs, 'layout' | 'partitionTable'>, keys: SecureKeys, generation: GenerationId = 'D'): string[] {
  const gen = GENERATIONS[generation];
  const app = boardFacts(board).appBin;
  const written: string[] = [];
  const put = (rel: string, data: Uint8Array) => {
    const p = path.join(outDir, rel);
    makeDirs(path.dirname(p), { what: 'output folder' });
    writeFileAtomic(p, data);
    written.push(p);
  };
  let first: SecureSet | undefined;
  const facts = boardGeneration(board, generation);
  for (const t of tableOutputs(gen, facts.layouts)) {
    const set = secureSet({ ...inputs, layout: t.layout }, keys, facts.otaCopies);
    first ??= set;
    put(t.file, set.partitionTable);
  }
  put(DIGEST_FILE, first!.digest);
  put(factoryName(gen, app), first!.app);
  for (const [a, data] of first!.otaCopies) put(otaCopyName(app, a), data);
  return written;
}
