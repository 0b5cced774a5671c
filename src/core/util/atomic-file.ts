import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { keyMaterialIn, keyMaterialInBytes, storeRecordIn } from '../keystore/key-material';

export interface WriteOptions {
  /** File mode for a new file; key files use 0o600. */
  mode?: number;
  /** Refuse if the destination exists (key files are never overwritten). */
  exclusive?: boolean;
  /** What the file is, for messages ("key file", "output file"). */
  what?: string;
}

/**
 * One sentence for a file-system error: what could not be done to which path, why, and what to
 * do. Every write and read of the product goes through it, so no file-system error ends as an
 * "internal error". `action` is "write", "read" or "append to".
 */
export function fsError(e: unknown, action: 'write' | 'read' | 'append to' | 'create', what: string, file: string): UserError {
  if (e instanceof UserError) return e;
  const err = e as NodeJS.ErrnoException;
  const head = `Cannot ${action} the ${what} ${file}`;
  switch (err.code) {
    case 'ENOENT':
      return action === 'read'
        ? new UserError('E_NO_FILE', `The ${what} ${file} does not exist; check the path.`)
        : new UserError('E_NO_DIR', `${head}: ${whyNoEntry(file)}.`);
    case 'EEXIST':
      if (action === 'create') return new UserError('E_NO_DIR', `${head}: a part of its path exists and is not a folder (a file or a dangling link); choose another path.`);
      return new UserError('E_EXISTS', `The ${what} ${file} already exists and is never overwritten; choose another path or move the existing file away.`);
    case 'EACCES':
    case 'EPERM':
      return new UserError('E_ACCESS', action === 'read' ? `The ${what} ${file} cannot be read: permission denied.` : `${head}: permission denied; choose a writable location.`);
    case 'ENOSPC':
    case 'EDQUOT':
      return new UserError('E_NOSPC', `${head}: the disk is full; free some space and run the command again.`);
    case 'EROFS':
      return new UserError('E_READ_ONLY', `${head}: the file system is read-only; choose a writable location.`);
    case 'ENOTDIR':
      return new UserError('E_NO_DIR', `${head}: a part of the path is a file, not a folder; choose another path.`);
    case 'EISDIR':
      return new UserError('E_IS_DIR', `${head}: it is a folder; give the path of a file.`);
    case 'ENAMETOOLONG':
      return new UserError('E_NAME_TOO_LONG', `${head}: the name is too long for the file system; choose a shorter name.`);
    case 'ELOOP':
      return new UserError('E_LINK_LOOP', `${head}: its path has a loop of symbolic links; give the real path.`);
    case 'EMFILE':
    case 'ENFILE':
      return new UserError('E_TOO_MANY_FILES', `${head}: too many files are open on this machine; close some programs and run the command again.`);
    case 'EIO':
      return new UserError('E_IO', `${head}: the disk reported an input/output error; check the disk and run the command again.`);
    default:
      return new UserError('E_FS', `${head}: ${err.code ?? 'error'} (${err.message ?? String(e)}); check the path and the disk, then run the command again.`);
  }
}

/**
 * Why a new entry at `file` was refused with ENOENT: the folder that should hold it does not
 * exist, or it exists and takes no new entries (the kernel's file systems, /proc and /sys, answer
 * ENOENT to any new name, as does a dangling symbolic link on the path).
 */
function whyNoEntry(file: string): string {
  const parent = path.dirname(path.resolve(file));
  return fs.existsSync(parent)
    ? `the folder ${parent} takes no new files (a file system of the kernel's, such as /proc or /sys); choose a folder on a disk`
    : `the folder ${parent} does not exist; create it or choose another path`;
}

/**
 * Creates the folder `dir` and its missing parents, one level at a time, each with `mode`
 * (default 0o777 less the umask), and returns whether `dir` was created. Node's own
 * `mkdirSync(dir, { recursive: true })` never returns where a folder exists but answers ENOENT
 * (as /proc does: it retries the parent for ever); this one stops at the first refusal.
 * Errors: one sentence (fsError), e.g. a part of the path is a file, or a folder takes no new entries.
 */
export function makeDirs(dir: string, opts: { mode?: number; what?: string } = {}): boolean {
  const what = opts.what ?? 'folder';
  const abs = path.resolve(dir);
  const missing: string[] = [];
  for (let d = abs; !fs.existsSync(d); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  if (!missing.length) {
    if (!fs.statSync(abs).isDirectory()) throw new UserError('E_NO_DIR', `Cannot create the ${what} ${dir}: it exists and is a file, not a folder; choose another path.`);
    return false;
  }
  for (const d of missing) {
    try {
      fs.mkdirSync(d, opts.mode ?? 0o777);
    } catch (e) {
      throw fsError(e, 'create', what, dir);
    }
  }
  return true;
}

/**
 * Writes every byte of `data` to the open file `fd` at its current position; a write that makes
 * no progress is a full disk (ENOSPC), never a silently short file.
 */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) {
    const n = fs.writeSync(fd, data, off, data.length - off);
    if (n <= 0) throw Object.assign(new Error('no bytes written'), { code: 'ENOSPC' });
    off += n;
  }
}

/**
 * Writes `data` to `dest` so that a failure never leaves a partial or truncated file:
 * the bytes go to a temporary file in the same directory, are fsync'ed, then renamed
 * (or hard-linked when `exclusive`, which fails atomically if `dest` appeared meanwhile).
 * An existing `dest` that holds key material (keyMaterialIn: a key store's key file name, a PEM
 * private key, a raw 24/32-byte owner-only file) is never replaced: E_KEY_FILE, nothing written.
 */
/**
 * The checks writeFileAtomic makes before writing, for a command to make before it opens a board:
 * the folder exists and is one, `dest` is not a folder, not an existing file when `exclusive`,
 * and holds no key material. Errors: E_NO_DIR, E_IS_DIR, E_EXISTS, E_KEY_FILE; nothing written.
 */
export function checkOutputPath(dest: string, opts: Pick<WriteOptions, 'what' | 'exclusive'> = {}): void {
  const what = opts.what ?? 'output file';
  const dir = path.dirname(path.resolve(dest));
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) {
    throw new UserError('E_NO_DIR', `Cannot write the ${what} ${dest}: ${dir} is a file, not a folder; choose another path.`);
  }
  if (!fs.existsSync(dir)) {
    throw new UserError('E_NO_DIR', `Cannot write the ${what} ${dest}: the directory ${dir} does not exist; create it or choose another path.`);
  }
  if (fs.existsSync(dest) && fs.statSync(dest).isDirectory()) {
    throw new UserError('E_IS_DIR', `Cannot write the ${what} ${dest}: that is a folder; give the path of a file in it (for example ${path.join(dest, 'out.bin')}).`);
  }
  if (opts.exclusive && fs.existsSync(dest)) {
    throw new UserError('E_EXISTS', `The ${what} ${dest} already exists and is never overwritten; choose another path or move the existing file away.`);
  }
  // An output never replaces a key: a key given by mistake as an output path would be lost for good.
  const keyWhy = keyMaterialIn(dest);
  if (keyWhy) {
    throw new UserError('E_KEY_FILE', `Cannot write the ${what} ${dest}: that file holds a key (${keyWhy}) and this tool never writes over a key; choose another path for the ${what}.`);
  }
  // Nor a record of the key store (the evidence that it burned a board) or a virtual board's state.
  const recordWhy = storeRecordIn(dest, what);
  if (recordWhy) {
    throw new UserError('E_RECORD_FILE', `Cannot write the ${what} ${dest}: ${recordWhy}, which this tool never writes over; choose another path for the ${what}.`);
  }
}

export function writeFileAtomic(dest: string, data: Uint8Array, opts: WriteOptions = {}): void {
  checkOutputPath(dest, opts);
  const what = opts.what ?? 'output file';
  const dir = path.dirname(path.resolve(dest));
  const tmp = path.join(dir, `.${path.basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o644);
    if (opts.mode !== undefined) fs.fchmodSync(fd, opts.mode);
    writeAll(fd, data);
    fs.fsyncSync(fd);
    // The temp file must hold every byte before it replaces anything.
    if (fs.fstatSync(fd).size !== data.length) throw Object.assign(new Error('short write'), { code: 'ENOSPC' });
    fs.closeSync(fd);
    fd = undefined;
    if (opts.exclusive) {
      fs.linkSync(tmp, dest);
      fs.unlinkSync(tmp);
    } else {
      fs.renameSync(tmp, dest);
    }
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      /* the original error matters more */
    }
    throw fsError(e, 'write', what, dest);
  }
}

/**
 * The Linux kernel's own file systems (f_type magic numbers, linux/include/uapi/linux/magic.h):
 * their "regular files" are made up when read, most report size 0, and none is a file anyone
 * meant to give this tool.
 */
const KERNEL_FILE_SYSTEMS: ReadonlyMap<number, string> = new Map([
  [0x9fa0, '/proc'], [0x62656572, '/sys'], [0x64626720, 'debugfs'], [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'], [0x27e0eb, 'cgroup'], [0x63677270, 'cgroup2'], [0x62656570, 'configfs'], [0xde5e81e4, 'efivarfs'],
]);

/** '/proc', '/sys', ... when `file` lives on one of the kernel's file systems (Linux only), else undefined. */
function kernelFileSystem(file: string): string | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    return KERNEL_FILE_SYSTEMS.get(Number(fs.statfsSync(file).type));
  } catch {
    return undefined;
  }
}

/** Largest input the product reads, by kind: a key file is small; an image is at most a 16 MB flash. */
export const MAX_KEY_FILE_BYTES = 1 << 20;
export const MAX_INPUT_FILE_BYTES = 32 << 20;

/**
 * Reads a whole input file through one bounded, type-checked path: regular files only (a FIFO
 * would block for ever, a device such as /dev/zero never ends), the size checked against a cap
 * before any byte is read (`maxBytes`; key files, recognised by `what`, get 1 MiB, anything else
 * 32 MiB), and every failure one clear sentence.
 */
export function readInputFile(file: string, what = 'input file', maxBytes?: number): Buffer {
  const cap = maxBytes ?? (/key/i.test(what) ? MAX_KEY_FILE_BYTES : MAX_INPUT_FILE_BYTES);
  let fd: number | undefined;
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new UserError('E_IS_DIR', `The ${what} ${file} is a directory; give the path of a file.`);
    if (!st.isFile()) throw new UserError('E_NOT_A_FILE', `The ${what} ${file} is not a regular file (a pipe, socket or device); give the path of a file.`);
    const kernel = kernelFileSystem(file);
    if (kernel) throw new UserError('E_NOT_A_FILE', `The ${what} ${file} is not a regular file: it is made up by the kernel (${kernel}); give the path of a file on a disk.`);
    if (st.size > cap) throw new UserError('E_TOO_LARGE', `The ${what} ${file} is ${st.size} bytes, more than the ${cap} a ${what} can be; check that this is the right file.`);
    // O_NONBLOCK: a file swapped for a FIFO between stat and open must not block the open.
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    const st2 = fs.fstatSync(fd);
    if (!st2.isFile()) throw new UserError('E_NOT_A_FILE', `The ${what} ${file} is not a regular file (a pipe, socket or device); give the path of a file.`);
    if (st2.size > cap) throw new UserError('E_TOO_LARGE', `The ${what} ${file} is ${st2.size} bytes, more than the ${cap} a ${what} can be; check that this is the right file.`);
    const buf = Buffer.alloc(st2.size);
    let off = 0;
    while (off < buf.length) {
      const n = fs.readSync(fd, buf, off, buf.length - off, off);
      if (n <= 0) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  } catch (e) {
    throw fsError(e, 'read', what, file);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** What a data input is, for readDataFile's refusal of a key file in its place. */
export interface DataInput {
  /** The input's name in readInputFile's messages, e.g. "image", "data file". */
  what: string;
  /** What the input should be, after "not", e.g. "a firmware image". */
  isNot: string;
  /** What to pass instead, one clause starting with a verb, e.g. "pass the image the build wrote". */
  instead: string;
}

/**
 * readInputFile for a DATA input (an image to describe, digest, sign, verify, encrypt, decrypt or
 * flash), which a key file must never stand in for: a file that holds key material (keyMaterialIn
 * on the file, keyMaterialInBytes on what was read) is refused, UserError E_KEY_AS_DATA, before
 * its bytes reach any message or output. The sentence names the file, why it is a key (never a
 * byte of it), what it is not and what to pass instead. Other errors as readInputFile.
 */
export function readDataFile(file: string, input: DataInput): Buffer {
  const data = readInputFile(file, input.what);
  const why = keyMaterialIn(file) ?? keyMaterialInBytes(data);
  if (why) throw new UserError('E_KEY_AS_DATA', `${file} is a key file (${why}), not ${input.isNot}; ${input.instead}.`);
  return data;
}
