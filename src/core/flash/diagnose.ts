import { catalog, layouts } from '../boards/catalog';
import { BOOTLOADER_ADDRESS, DIGEST_ADDRESS, PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { computeBootloaderDigest } from '../crypto/bootloader-digest';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent, type ContentKind } from '../firmware/content';
import { fingerprint } from '../util/fingerprint';
import { hex } from '../util/hex';
import type { RegionRole } from './plan';

/**
 * A diagnosis is a check, not a list (issue 12, build item 4): when a region does not decrypt to
 * what it should, each cause the product has data for is tested (the address the file was
 * encrypted for, the key, the chip's FLASH_CRYPT_CONFIG) and the one that holds is named; the
 * generic causes are listed only when none of them holds, and the sentence says so. Key material
 * appears as fingerprints only.
 */
export interface NamedKey {
  /** How the user knows this key: "the shared key secure/flash_encryption_key.bin". */
  label: string;
  key: Uint8Array;
}

/**
 * Every address an encrypted file of a Pycom build can have been made for: the digest image (0x0),
 * a plain bootloader (0x1000), the partition table (0x8000) and every app slot and OTA copy in the
 * board catalog (factory, ota_0, and the 1.20 rc OTA-copy addresses), in ascending order.
 */
export function knownFlashAddresses(): number[] {
  const set = new Set<number>([DIGEST_ADDRESS, BOOTLOADER_ADDRESS, PARTITION_TABLE_ADDRESS]);
  for (const l of layouts()) for (const e of l.entries) if (e.type === 0) set.add(e.offset);
  for (const b of catalog().boards) for (const g of Object.values(b.generations)) for (const a of g.otaCopies) set.add(a);
  return [...set].sort((a, b) => a - b);
}

/** What a region's failure looks like on the chip (ESP-IDF flash-encryption and secure-boot-v1 docs), for the sentence. */
export const ROLE_FAILURE: Partial<Record<RegionRole, string>> = {
  'bootloader-digest': 'the ROM prints "flash read err, 1000" ("invalid header" on revision 3) and resets forever',
  bootloader: 'the ROM prints "flash read err, 1000" ("invalid header" on revision 3) and resets forever',
  'partition-table': 'the bootloader prints "partition 0 invalid magic number" and "load partition table error!"',
  app: 'the bootloader prints "invalid magic byte" and "No bootable app partitions in the partition table"',
  'ota-copy': 'the bootloader finds no valid app when it switches to this slot ("invalid magic byte")',
};

const KIND_TEXT: Record<ContentKind, string> = {
  image: 'an ESP32 app image',
  'digest-image': 'a secure boot digest + bootloader image',
  'partition-table': 'a partition table',
  unknown: 'valid content',
};

function decryptPrefix(data: Uint8Array, n: number, address: number, key: Uint8Array, conf: number): Uint8Array {
  const len = Math.min(data.length - (data.length % 16), n);
  return decryptFlashData(data.subarray(0, len), { key, address, flashCryptConf: conf });
}

/** A cheap look at the first bytes: could this be `want`? (Confirmed by a full decrypt afterwards.) */
function looksLike(d: Uint8Array, want: ContentKind): boolean {
  if (want === 'partition-table') return d[0] === 0xaa && d[1] === 0x50;
  if (want === 'image') return d[0] === 0xe9 && d[1]! > 0 && d[1]! <= 16;
  if (want === 'digest-image') return d.length > 0x1000 && d[0x1000] === 0xe9 && d.subarray(0xc0, 0x1000).every((b) => b === 0xff);
  return false;
}

export interface DecryptionFailure {
  /** The encrypted bytes, as in the file. */
  data: Uint8Array;
  /** Where the plan writes them. */
  address: number;
  /** What they must decrypt to there. */
  want: ContentKind;
  /** The board's flash key (what the chip will decrypt with) and the chip's FLASH_CRYPT_CONFIG. */
  key: NamedKey;
  conf: number;
  /** The key store's other keys, and a readable BLOCK1's key when it differs. */
  otherKeys?: readonly NamedKey[];
  /** Addresses to try; default knownFlashAddresses(). */
  addresses?: readonly number[];
  role: RegionRole;
  /** The region as the sentence names it (describeRegion). */
  region: string;
  /**
   * Only the start of the region is at hand (an app read back over the ROM loader, where reading
   * megabytes at 64 bytes a command is not an option): a candidate counts when the header decrypts
   * to `want`'s header, and the sentence says that it was judged by the header.
   */
  headerOnly?: boolean;
}

export interface DecryptionDiagnosis {
  /** The cause that holds, when one does. */
  cause?: 'address' | 'key' | 'conf' | 'key+address' | 'damaged';
  address?: number;
  key?: NamedKey;
  conf?: number;
  /** One sentence for the user: the cause named, or what was tested and that none held. */
  message: string;
}

/**
 * Tests which cause makes `f.data` fail to decrypt to `f.want` at `f.address`: another address
 * (with the board's key and FLASH_CRYPT_CONFIG), another key of the store (at this address, then at
 * the other addresses), another FLASH_CRYPT_CONFIG (0x0-0xF, with the board's key at this
 * address). A candidate counts only when the whole file then classifies as `want`.
 */
export function diagnoseDecryption(f: DecryptionFailure): DecryptionDiagnosis {
  const probeLen = probeLength(f.want);
  const addresses = (f.addresses ?? knownFlashAddresses()).filter((a) => a !== f.address);
  const others = (f.otherKeys ?? []).filter((k) => !Buffer.from(k.key).equals(Buffer.from(f.key.key)));
  const holds = (address: number, key: Uint8Array, conf: number): boolean => {
    if (!looksLike(decryptPrefix(f.data, probeLen, address, key, conf), f.want)) return false;
    if (f.headerOnly) return true;
    return classifyContent(decryptPrefix(f.data, f.data.length, address, key, conf)).kind === f.want;
  };
  const at = hex(f.address);
  const kind = f.headerOnly ? `${KIND_TEXT[f.want]} (judged by its header)` : KIND_TEXT[f.want];
  for (const a of addresses) {
    if (holds(a, f.key.key, f.conf)) {
      return { cause: 'address', address: a, message: `${f.region} was encrypted for address ${hex(a)}, not ${at}: decrypted at ${at} it is not ${kind}; write it at ${hex(a)} or use the file built for ${at}.` };
    }
  }
  for (const k of others) {
    if (holds(f.address, k.key, f.conf)) {
      return { cause: 'key', key: k, message: `${f.region} was encrypted with ${k.label} (fingerprint ${fingerprint(k.key)}), not with this board's flash key ${f.key.label} (fingerprint ${fingerprint(f.key.key)}): the chip would decrypt it into garbage; use the build made with the board's key.` };
    }
  }
  for (let c = 0; c <= 0xf; c++) {
    if (c !== f.conf && holds(f.address, f.key.key, c)) {
      return { cause: 'conf', conf: c, message: `${f.region} was encrypted with FLASH_CRYPT_CONFIG ${hex(c)}, but this chip's is ${hex(f.conf)}: the chip would decrypt it into garbage; encrypt it again with --flash-crypt-conf ${hex(f.conf)} (or rebuild).` };
    }
  }
  for (const k of others) {
    for (const a of addresses) {
      if (holds(a, k.key, f.conf)) {
        return { cause: 'key+address', key: k, address: a, message: `${f.region} was encrypted with ${k.label} (fingerprint ${fingerprint(k.key)}) for address ${hex(a)}: neither the key nor the address is this board's ${at}; use the build made with the board's key for ${at}.` };
      }
    }
  }
  // The right key, address and config, and still not the right content: the header decrypts as
  // it should but the whole does not check out, so bytes changed after the build.
  const damaged = f.headerOnly ? undefined : damagedWith(f, f.want, f.key.key);
  if (damaged) return { cause: 'damaged', message: damaged };
  // Another of the build's files, for another address (the app given at 0x0, the digest image at
  // 0x1000): named as what it is and where it goes, not suspected of another key.
  const other = f.headerOnly ? undefined : diagnoseMisplaced({ data: f.data, address: f.address, key: f.key, conf: f.conf, region: f.region, ...(f.addresses ? { addresses: f.addresses } : {}) });
  if (other) {
    return { cause: 'address', address: other.address, message: `${f.region} is not ${kind}: it is ${KIND_TEXT[other.kind]} encrypted for address ${hex(other.address)}; write it at ${hex(other.address)}, or give the file built for ${at}.` };
  }
  const tested = [
    `the addresses ${addresses.map((a) => hex(a)).join(', ')}`,
    others.length ? `the key store's other key${others.length > 1 ? 's' : ''} (${others.map((k) => fingerprint(k.key)).join(', ')})` : 'no other key (the key store holds none)',
    'every FLASH_CRYPT_CONFIG value',
  ];
  const onChip = ROLE_FAILURE[f.role];
  return {
    message: `${f.region} does not decrypt to ${kind} at ${at} with the flash key ${fingerprint(f.key.key)}, and none of the causes that can be tested holds (tried ${tested.join(', ')}): it was encrypted with a key this key store does not hold, or it is not a flash-encryption output${onChip ? `; written, ${onChip}` : ''}.`,
  };
}

/**
 * Whether an encrypted file given for a region that may hold any content (data) is one of the
 * build's files encrypted for another address: with the board's key and FLASH_CRYPT_CONFIG it
 * decrypts, whole, to an app image, a partition table or a digest image at one of `addresses`
 * (default knownFlashAddresses()) other than `address`, as diagnoseDecryption's address test judges
 * it. Returns that address, the kind and one sentence refusing the write, or undefined when it
 * decrypts to none of them anywhere (data of its own, which stays allowed).
 */
export function diagnoseMisplaced(f: { data: Uint8Array; address: number; key: NamedKey; conf: number; region: string; addresses?: readonly number[] }): { address: number; kind: ContentKind; message: string } | undefined {
  const addresses = (f.addresses ?? knownFlashAddresses()).filter((a) => a !== f.address);
  for (const kind of ['image', 'partition-table', 'digest-image'] as const) {
    const probe = probeLength(kind);
    for (const a of addresses) {
      if (!looksLike(decryptPrefix(f.data, probe, a, f.key.key, f.conf), kind)) continue;
      if (classifyContent(decryptPrefix(f.data, f.data.length, a, f.key.key, f.conf)).kind !== kind) continue;
      return {
        address: a, kind,
        message: `${f.region} was encrypted for address ${hex(a)}, not ${hex(f.address)}: it is ${KIND_TEXT[kind]} for ${hex(a)}, and written at ${hex(f.address)} it would overwrite what is there with bytes the chip decrypts into garbage; write it at ${hex(a)} (\`flash --build DIR\` writes each file of the build at its address); nothing was written.`,
      };
    }
  }
  return undefined;
}

/** The probe length that shows whether a decryption could be `want` (the digest image's bootloader starts at 0x1000). */
function probeLength(want: ContentKind): number {
  return want === 'digest-image' ? 0x1020 : 64;
}

/**
 * With `key` at its own address the file's start decrypts to `want` but the whole does not check
 * out: bytes changed after the build. The sentence naming it damaged, or undefined.
 */
function damagedWith(f: Pick<DecryptionFailure, 'data' | 'address' | 'region' | 'conf'>, want: ContentKind, key: Uint8Array): string | undefined {
  if (!looksLike(decryptPrefix(f.data, probeLength(want), f.address, key, f.conf), want)) return undefined;
  const got = classifyContent(decryptPrefix(f.data, f.data.length, f.address, key, f.conf));
  if (got.kind === want) return undefined;
  return `${f.region} is damaged: with the flash key ${fingerprint(key)} at ${hex(f.address)} its start decrypts to ${KIND_TEXT[want]}, but the rest does not check out (${got.problem ?? `it reads as ${KIND_TEXT[got.kind]}`}), so bytes changed after the build (a bad copy or a cut-off download); build it again or copy it again from the build.`;
}

/**
 * Whether an encrypted output of a build that does not decrypt to what it must be is damaged
 * rather than made with another key, judged as the board's-key check (diagnoseDecryption) judges
 * it: its length is not a whole number of 16-byte blocks (every flash-encryption output is), or
 * with one of `keys` at its own address (FLASH_CRYPT_CONFIG `conf`) its start decrypts to `want`
 * but the whole does not check out. Returns the one sentence naming it damaged (keys as
 * fingerprints), or undefined when the evidence does not say damaged. Used wherever a build's file
 * is decrypted: the flash checks with the board's key, the per-device re-encryption and provision
 * with the build key and the board's own key, so a damaged file is named damaged whichever key the
 * board has.
 */
export function diagnoseDamage(f: { data: Uint8Array; address: number; want?: ContentKind; region: string; conf: number }, keys: readonly NamedKey[]): string | undefined {
  if (f.data.length % 16 !== 0) {
    return `${f.region} is damaged: it is not a whole number of 16-byte blocks, as every flash-encryption output is, so bytes were lost after the build (a bad copy or a cut-off download); build it again or copy it again from the build.`;
  }
  if (!f.want) return undefined;
  for (const k of keys) {
    const m = damagedWith(f, f.want, k.key);
    if (m) return m;
  }
  return undefined;
}

/**
 * Tests why a digest image's digest does not match the secure boot key the chip holds: with each
 * of `otherKeys` (e.g. a readable BLOCK2's key when it differs from the store's) the digest is
 * recomputed; the key that reproduces it is named. Without one, the sentence says which keys were
 * tried and that none holds. `plain` is the decrypted digest image (IV ‖ digest ‖ 0xFF … ‖ bootloader).
 */
export function diagnoseDigest(plain: Uint8Array, key: NamedKey, otherKeys: readonly NamedKey[], region: string): string {
  const image = plain.subarray(0x1000, 0x1000 + Math.floor((plain.length - 0x1000) / 128) * 128);
  const stored = Buffer.from(plain.subarray(0x80, 0xc0));
  for (const k of otherKeys) {
    if (Buffer.from(k.key).equals(Buffer.from(key.key))) continue;
    if (Buffer.from(computeBootloaderDigest(k.key, plain.subarray(0, 128), image)).equals(stored)) {
      return `${region} was digested with ${k.label} (fingerprint ${fingerprint(k.key)}), not with the secure boot key ${key.label} (fingerprint ${fingerprint(key.key)}); the ROM would print "secure boot check fail". Rebuild the bootloader with this board's signing key.`;
    }
  }
  const tried = otherKeys.filter((k) => !Buffer.from(k.key).equals(Buffer.from(key.key)));
  return `${region} was digested with a secure boot key other than ${key.label} (fingerprint ${fingerprint(key.key)})${tried.length ? `, and not with ${tried.map((k) => `${k.label} (${fingerprint(k.key)})`).join(' or ')} either` : ' (no other key can be tested: the key store holds one signing key)'}; the ROM would print "secure boot check fail". Rebuild the bootloader with this board's signing key.`;
}

export interface DifferenceInput {
  /** Raw bytes the board holds at `address` (what READ_FLASH_SLOW returns: ciphertext when encrypted). */
  board: Uint8Array;
  /** Raw bytes the file puts there (the same range). */
  expected: Uint8Array;
  /** Flash address of both, 32-byte aligned (flash-encryption blocks). */
  address: number;
  /** Whether the file is encrypted (so the board's bytes are decrypted to compare the plaintext). */
  encrypted: boolean;
  key?: NamedKey;
  conf: number;
  otherKeys?: readonly NamedKey[];
  addresses?: readonly number[];
  /**
   * The whole file and where `expected` starts in it (bytes, 32-aligned): the region then starts
   * at `address - offset`, and the file is tested for the address it was encrypted for (it decrypts
   * to a whole valid image or table there). Without it only the compared range is tested.
   */
  file?: { data: Uint8Array; offset: number };
  /** The board's raw bytes at the region's start (its first 64 at least): whether they decrypt there to an app image or a partition table header. */
  boardHead?: Uint8Array;
}

/** An app image header as an ESP32 bootloader reads it: magic 0xE9, 1-16 segments, a SPI mode 0-5, an entry point in 0x40xxxxxx. Stricter than looksLike: it judges the board's flash, which only has its header read. */
function imageHeader(d: Uint8Array): boolean {
  return d.length >= 24 && d[0] === 0xe9 && d[1]! >= 1 && d[1]! <= 16 && d[2]! <= 5 && d[7] === 0x40;
}

/** What a header says a region holds (`image`, `partition-table`), or undefined for neither. */
function headerKind(d: Uint8Array): 'image' | 'partition-table' | undefined {
  if (d.length >= 32 && d[0] === 0xaa && d[1] === 0x50) return 'partition-table';
  return imageHeader(d) ? 'image' : undefined;
}

/**
 * Why a region reads back different from its file (verify-flash, issue 12 item 4), tested on one
 * differing range: erased; the file's plaintext written without encryption; the same content
 * encrypted with another key of the store, for another address, or with another FLASH_CRYPT_CONFIG;
 * with `file`, the file encrypted for another address than this one (the same content on the flash
 * for this address, or the file decrypting to a valid image or table only at another address).
 * Returns the sentence naming the cause that holds, or saying that the flash does not hold the
 * file as encrypted for this address and none of the testable causes holds (with what the file and,
 * given `boardHead`, the flash decrypt to there). Offsets in bytes.
 */
export function diagnoseDifference(d: DifferenceInput): string {
  const at = hex(d.address);
  if (d.board.every((b) => b === 0xff)) return `the flash at ${at} is erased: this region was never written there (or its write was cut off); flash it again.`;
  if (!d.encrypted || !d.key) {
    return `the flash at ${at} holds other bytes than the file, which is plaintext, so no key, address or FLASH_CRYPT_CONFIG can explain it: the board holds another file there.`;
  }
  const key = d.key;
  const want = decryptFlashData(d.expected, { key: key.key, address: d.address, flashCryptConf: d.conf });
  const same = (x: Uint8Array): boolean => Buffer.from(x).equals(Buffer.from(want));
  if (same(d.board)) return `the flash at ${at} holds this file's plaintext: it was written without encryption (a plaintext flash on a board that encrypts), so the chip reads garbage there; flash the encrypted file.`;
  const dec = (k: Uint8Array, address: number, conf: number): Uint8Array => decryptFlashData(d.board, { key: k, address, flashCryptConf: conf });
  for (const k of (d.otherKeys ?? []).filter((x) => !Buffer.from(x.key).equals(Buffer.from(key.key)))) {
    if (same(dec(k.key, d.address, d.conf))) return `the flash at ${at} holds this content encrypted with ${k.label} (fingerprint ${fingerprint(k.key)}), not with ${key.label} (fingerprint ${fingerprint(key.key)}): one of the two is not the board's key.`;
  }
  const offset = d.file?.offset ?? d.address % 0x1000;
  const start = d.address - offset;
  const addresses = (d.addresses ?? knownFlashAddresses()).filter((x) => x !== start);
  for (const a of addresses) {
    // The same offset inside a region written for another base address.
    if (same(dec(key.key, a + offset, d.conf))) return `the flash at ${at} holds this content encrypted for address ${hex(a + offset)}: it was written from the file made for another address.`;
  }
  for (let c = 0; c <= 0xf; c++) {
    if (c !== d.conf && same(dec(key.key, d.address, c))) return `the flash at ${at} holds this content encrypted with FLASH_CRYPT_CONFIG ${hex(c)}, not ${hex(d.conf)}.`;
  }
  const notFor = `the flash at ${at} does not hold this file as encrypted for ${at} (a flash-encryption ciphertext depends on its address)`;
  if (!d.file) {
    return `${notFor}, and none of the testable causes holds (not erased, not this file's plaintext, not this content with the key store's other keys, for another address or with another FLASH_CRYPT_CONFIG): it holds other content.`;
  }
  // The file encrypted for another address: the flash holds the same content for this one.
  const onBoard = dec(key.key, d.address, d.conf);
  const fileAt = (a: number): Uint8Array => decryptFlashData(d.expected, { key: key.key, address: a + offset, flashCryptConf: d.conf });
  for (const a of addresses) {
    if (Buffer.from(fileAt(a)).equals(Buffer.from(onBoard))) {
      return `${notFor}: the file is encrypted for address ${hex(a)} (decrypted for ${hex(a)} it matches what the flash at ${at} decrypts to, on the range compared), so the board holds this content, encrypted for where it is; to check this region give the file made for ${hex(start)} (this one is for ${hex(a)}).`;
    }
  }
  // What the file decrypts to, whole, at its own start and at every other address; and what the flash's header decrypts to.
  const data = d.file.data.subarray(0, d.file.data.length - (d.file.data.length % 16));
  const fileKind = (a: number): ContentKind | undefined => {
    const head = decryptFlashData(data.subarray(0, Math.min(data.length, probeLength('digest-image'))), { key: key.key, address: a, flashCryptConf: d.conf });
    if (!(['image', 'partition-table', 'digest-image'] as const).some((k) => looksLike(head, k))) return undefined;
    const kind = classifyContent(decryptFlashData(data, { key: key.key, address: a, flashCryptConf: d.conf })).kind;
    return kind === 'unknown' ? undefined : kind;
  };
  // A digest image (0x0) starts with its random IV: 64 bytes cannot tell what the flash holds there.
  const head = start !== DIGEST_ADDRESS && d.boardHead && d.boardHead.length >= 64 ? d.boardHead : undefined;
  const boardKind = head ? headerKind(decryptFlashData(head.subarray(0, 64), { key: key.key, address: start, flashCryptConf: d.conf })) : undefined;
  const flashSays = !head ? undefined : boardKind
    ? `the flash at ${hex(start)} decrypts to ${KIND_TEXT[boardKind]} header (judged by its header)`
    : `the flash at ${hex(start)} does not decrypt to an app image or partition table header`;
  const tested = 'none of the testable causes holds (not erased, not this file\'s plaintext, not this content with the key store\'s other keys, for another address or with another FLASH_CRYPT_CONFIG)';
  const own = fileKind(start);
  if (own === undefined) {
    const elsewhere = addresses.find((a) => fileKind(a) !== undefined);
    if (elsewhere !== undefined) {
      return `${notFor}: the file looks encrypted for address ${hex(elsewhere)} (decrypted for ${hex(elsewhere)} it is ${KIND_TEXT[fileKind(elsewhere)!]}, for ${hex(start)} it is not)${flashSays ? `, and ${flashSays}` : ''}; to check this region give the file made for ${hex(start)} (this one is for ${hex(elsewhere)}).`;
    }
    return `${notFor}, and ${tested}; with the key ${fingerprint(key.key)} the file decrypts to no valid image, digest image or partition table at ${hex(start)} nor at ${addresses.map((a) => hex(a)).join(', ')}${flashSays ? `, and ${flashSays}` : ''}.`;
  }
  return `${notFor}, and ${tested}: the file decrypts for ${hex(start)} to ${KIND_TEXT[own]} as it should${flashSays ? ` and ${flashSays}` : ''}, so the flash holds other content there (another build or another file, for instance).`;
}
