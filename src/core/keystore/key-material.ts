import * as fs from 'node:fs';
import * as path from 'node:path';
import { KEY_FILE_NAMES } from './file-names';

/** How much of a file is read to look for a PEM private key: PEM headers come first. */
const SNIFF_BYTES = 4096;
/** A PEM private key of any kind: "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY" (RFC 7468 labels). */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** Sizes of a raw ESP32 key: a flash-encryption or secure boot key is 256 bits, or 192 under 3/4 coding. */
const RAW_KEY_BYTES = [24, 32];
/** Fewest different byte values (or text digits) a key's bytes (or its hex/base64 text) show: keys are random. */
const MIN_KEY_SYMBOLS = 8;

/** The file's stat when it is an existing regular file (anything else is no key and no record). */
function regularFile(file: string): fs.Stats | undefined {
  try {
    const st = fs.statSync(file);
    return st.isFile() ? st : undefined;
  } catch {
    return undefined;
  }
}

/** The first `max` bytes of `file`, or undefined when it cannot be read (the write then says why). */
function head(file: string, max: number): Buffer | undefined {
  let fd: number | undefined;
  try {
    // O_NONBLOCK: a file swapped for a FIFO after the stat must not block.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = Buffer.alloc(max);
    return buf.subarray(0, fs.readSync(fd, buf, 0, max, 0));
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Why the existing regular file `file` holds key material, as a short phrase ("its name is that of
 * a key store's key file", "it is a PEM private key", "it is a 32-byte file readable only by its
 * owner, as raw keys are kept"), or undefined when it does not (or does not exist, or is not a
 * regular file). Reads at most 4 KB. The facts used: the key store's file names, the PEM
 * "PRIVATE KEY" labels (RFC 7468), a raw 24- or 32-byte key kept owner-only (mode & 0o077 == 0),
 * which is how this tool and espsecure's users keep flash-encryption and secure boot keys, and any
 * random-looking binary file of exactly those sizes whatever its mode (a backup copy under another
 * name), and key text or DER (keyMaterialInBytes).
 */
export function keyMaterialIn(file: string): string | undefined {
  const st = regularFile(file);
  if (!st) return undefined;
  if (KEY_FILE_NAMES.includes(path.basename(file))) return `its name ${path.basename(file)} is that of a key store's key file`;
  if (RAW_KEY_BYTES.includes(st.size) && process.platform !== 'win32' && (st.mode & 0o077) === 0) {
    return `it is a ${st.size}-byte file readable only by its owner, as raw keys are kept`;
  }
  const buf = head(file, Math.min(SNIFF_BYTES, st.size));
  return buf ? keyMaterialInBytes(buf, buf.length === st.size) : undefined;
}

/**
 * Why `bytes` (a file's contents, or its first 4 KB when `whole` is false) hold key material, as
 * keyMaterialIn's short phrase, or undefined: judged by content alone (no name, no mode), for
 * code that has the bytes but not the file. The facts: a PEM "PRIVATE KEY" label (RFC 7468); a
 * whole binary file of a raw ESP32 key's size (24 or 32 bytes); hex or base64 text of that size
 * (each with at least 8 different byte values or digits, as random bytes give: a fill pattern is no key);
 * an EC private key in DER (RFC 5915, RFC 5208). Never throws.
 */
export function keyMaterialInBytes(bytes: Uint8Array, whole = true): string | undefined {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, SNIFF_BYTES));
  const n = buf.length;
  const text = buf.toString('latin1');
  if (PEM_PRIVATE_KEY.test(text)) return 'it is a PEM private key';
  if (!whole || n !== bytes.length) return undefined;
  // A raw key backed up under another name, with ordinary permissions (a copy restored from a
  // USB stick): binary, and exactly a raw key's size. Text of that size (a note) is not a key, nor
  // is a fill pattern (a key is random: 24 random bytes have far more than 8 different values).
  if (RAW_KEY_BYTES.includes(n) && !/^[\t\n\r\x20-\x7e]*$/.test(text) && new Set(buf).size >= MIN_KEY_SYMBOLS) {
    return `it is a ${n}-byte binary file, the size of a raw ESP32 key`;
  }
  // The same key kept as hex (xxd -p) or base64 text, a whole small file of it. A key is random,
  // so its text has many different digits: a run of one letter ("AAAA…") is no key.
  const t = text.trim();
  if ((/^[0-9a-fA-F]{48}$|^[0-9a-fA-F]{64}$/.test(t) || /^[A-Za-z0-9+/]{32}$|^[A-Za-z0-9+/]{43}=$/.test(t)) && new Set(t).size >= MIN_KEY_SYMBOLS) {
    return `it is ${/^[0-9a-fA-F]+$/.test(t) ? 'hex' : 'base64'} text of a raw ESP32 key's size`;
  }
  // An EC private key in DER (openssl ec -outform DER; PKCS#8 DER): RFC 5915's ECPrivateKey
  // (SEQUENCE, version 1, a 32-byte OCTET STRING) or RFC 5208's PrivateKeyInfo naming id-ecPublicKey.
  if (n < 512 && buf[0] === 0x30) {
    if (buf.includes(Buffer.from([0x02, 0x01, 0x01, 0x04, 0x20])) || (buf.includes(Buffer.from([0x02, 0x01, 0x00])) && buf.includes(Buffer.from([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01])))) {
      return 'it is an EC private key in DER';
    }
  }
  return undefined;
}

/**
 * The key store's own records and the virtual board's state, which no output may replace: each
 * with the `what` of the one write that owns it (undefined: nothing rewrites it whole).
 * audit.jsonl (board records, Burn Keys evidence: appended only), devices/<MAC>/flash-journal.json,
 * devices/<MAC>/config-0x3FF000.bin (written once), the store's lock, a `sim serve` state file.
 */
const STORE_RECORDS: ReadonlyArray<{ name: RegExp; is: string; owner?: string }> = [
  { name: /^audit\.jsonl$/, is: "a key store's audit log (board records and the evidence of every Burn Keys run)" },
  { name: /^flash-journal\.json$/, is: "a board's flash journal (the regions a cut-off flash left incomplete)", owner: 'flash journal' },
  { name: /^config-0x[0-9a-f]+\.bin$/i, is: "a board's config-sector backup (its LoRa/Sigfox identity, saved before the first write)" },
  { name: /^\.pycom-secure\.lock$/, is: "a key store's lock file" },
];
const STATE_FILE_START = '{"format":"pycom-secure-virtual-esp32"';

/**
 * Why the existing regular file `file` is a record no output may replace (a phrase, as
 * keyMaterialIn), or undefined; `what` is the writer's own name for what it writes: the one write
 * that owns a record (the flash journal, `sim reset-state` / `sim serve` for a state file) passes.
 * A file named audit.jsonl is refused whether or not it exists yet (nothing but the audit log writes one).
 */
export function storeRecordIn(file: string, what: string): string | undefined {
  // The audit log is found by its name alone: an output written where none exists yet would be
  // read as the store's record (a binary file there reads as no record at all).
  if (STORE_RECORDS[0]!.name.test(path.basename(file)) && !fs.existsSync(file)) return `its name ${path.basename(file)} is that of ${STORE_RECORDS[0]!.is}`;
  if (!regularFile(file)) return undefined;
  const rec = STORE_RECORDS.find((r) => r.name.test(path.basename(file)));
  if (rec) return rec.owner === what ? undefined : `it is ${rec.is}`;
  if (what === 'virtual board state file') return undefined;
  if (head(file, STATE_FILE_START.length)?.toString('latin1') === STATE_FILE_START) return "it is a virtual board's state file (the board's eFuses and flash)";
  return undefined;
}
