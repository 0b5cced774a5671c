import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';

export interface WriteOptions {
  /** File mode for a new file; key files use 0o600. */
  mode?: number;
  /** Refuse if the destination exists (key files are never overwritten). */
  exclusive?: boolean;
  /** What the file is, for messages ("key file", "output file"). */
  what?: string;
}

/**
 * Writes `data` to `dest` so that a failure never leaves a partial or truncated file:
 * the bytes go to a temporary file in the same directory, are fsync'ed, then renamed
 * (or hard-linked when `exclusive`, which fails atomically if `dest` appeared meanwhile).
 */
export function writeFileAtomic(dest: string, data: Uint8Array, opts: WriteOptions = {}): void {
  const what = opts.what ?? 'output file';
  const dir = path.dirname(path.resolve(dest));
  if (!fs.existsSync(dir)) {
    throw new UserError('E_NO_DIR', `Cannot write the ${what} ${dest}: the directory ${dir} does not exist; create it or choose another path.`);
  }
  if (opts.exclusive && fs.existsSync(dest)) {
    throw new UserError('E_EXISTS', `The ${what} ${dest} already exists and is never overwritten; choose another path or move the existing file away.`);
  }
  const tmp = path.join(dir, `.${path.basename(dest)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, 'wx', opts.mode ?? 0o644);
    if (opts.mode !== undefined) fs.fchmodSync(fd, opts.mode);
    fs.writeSync(fd, data);
    fs.fsyncSync(fd);
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
    fs.rmSync(tmp, { force: true });
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EEXIST') {
      throw new UserError('E_EXISTS', `The ${what} ${dest} already exists and is never overwritten; choose another path or move the existing file away.`);
    }
    if (err.code === 'EACCES' || err.code === 'EPERM') {
      throw new UserError('E_ACCESS', `Cannot write the ${what} ${dest}: permission denied; choose a writable location.`);
    }
    if (err.code === 'ENOSPC') {
      throw new UserError('E_NOSPC', `Cannot write the ${what} ${dest}: the disk is full; free some space and run the command again.`);
    }
    throw e;
  }
}

/** Reads a whole input file, turning the usual failures into one clear sentence. */
export function readInputFile(file: string, what = 'input file'): Buffer {
  try {
    const st = fs.statSync(file);
    if (st.isDirectory()) throw new UserError('E_IS_DIR', `The ${what} ${file} is a directory; give the path of a file.`);
    return fs.readFileSync(file);
  } catch (e) {
    if (e instanceof UserError) throw e;
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') throw new UserError('E_NO_FILE', `The ${what} ${file} does not exist; check the path.`);
    if (err.code === 'EACCES') throw new UserError('E_ACCESS', `The ${what} ${file} cannot be read: permission denied.`);
    throw e;
  }
}
