import * as fs from 'node:fs';
import * as path from 'node:path';
import { KEY_FILE_NAMES } from './file-names';

/** How much of a file is read to look for a PEM private key: PEM headers come first. */
const SNIFF_BYTES = 4096;
/** A PEM private key of any kind: "PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY" (RFC 7468 labels). */
const PEM_PRIVATE_KEY = /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/;
/** Sizes of a raw ESP32 key: a flash-encryption or secure boot key is 256 bits, or 192 under 3/4 coding. */
const RAW_KEY_BYTES = [24, 32];

/**
 * Why the existing regular file `file` holds key material, as a short phrase ("its name is that of
 * a key store's key file", "it is a PEM private key", "it is a 32-byte file readable only by its
 * owner, as raw keys are kept"), or undefined when it does not (or does not exist, or is not a
 * regular file). Reads at most 4 KB. The facts used: the key store's file names, the PEM
 * "PRIVATE KEY" labels (RFC 7468), a raw 24- or 32-byte key kept owner-only (mode & 0o077 == 0),
 * which is how this tool and espsecure's users keep flash-encryption and secure boot keys, and any
 * binary file of exactly those sizes whatever its mode (a backup copy under another name).
 */
export function keyMaterialIn(file: string): string | undefined {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  if (KEY_FILE_NAMES.includes(path.basename(file))) return `its name ${path.basename(file)} is that of a key store's key file`;
  if (RAW_KEY_BYTES.includes(st.size) && process.platform !== 'win32' && (st.mode & 0o077) === 0) {
    return `it is a ${st.size}-byte file readable only by its owner, as raw keys are kept`;
  }
  let fd: number | undefined;
  try {
    // O_NONBLOCK: a file swapped for a FIFO after the stat must not block.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const buf = Buffer.alloc(Math.min(SNIFF_BYTES, st.size));
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const text = buf.subarray(0, n).toString('latin1');
    if (PEM_PRIVATE_KEY.test(text)) return 'it is a PEM private key';
    // A raw key backed up under another name, with ordinary permissions (a copy restored from a
    // USB stick): binary, and exactly a raw key's size. Text of that size (a note) is not a key.
    if (RAW_KEY_BYTES.includes(n) && n === st.size && !/^[\t\n\r\x20-\x7e]*$/.test(text)) {
      return `it is a ${n}-byte binary file, the size of a raw ESP32 key`;
    }
  } catch {
    // Unreadable: whether it is a key cannot be told here; the write itself reports what is wrong.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return undefined;
}
