import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { fsError, writeAll } from '../util/atomic-file';

/**
 * The key store's lock: one process at a time writes a key store (its audit log, per-device keys,
 * flash journals and backups), for the whole of a run that writes it.
 *
 * The lock is a file `LOCK_FILE` in the store, created exclusively (O_CREAT|O_EXCL|O_NOFOLLOW), that
 * names its holder as JSON `{ pid, host, command, since }` (since: ISO 8601 time). It is per
 * PROCESS and re-entrant: the tasks of one process (several boards provisioned at once from one
 * store) share it, counted, and the file goes when the last of them releases it (or the process
 * exits). A lock left by a process that no longer runs on this host is stale and taken over; one
 * held by a live process, or by another host (a store on a network share; its process cannot be
 * checked from here), is refused with one sentence naming the holder.
 *
 * Why not a library: proper-lockfile (npm) keeps a directory lock fresh by touching it on a timer
 * and declares it stale after a time; it does not say who holds a lock, and a key store is used
 * from one host at a time. An O_EXCL file checked by pid is what the store needs and fits here.
 */
export const LOCK_FILE = '.pycom-secure.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** What the holder is doing ("Burn Keys on 24:0a:c4:12:34:56", "flash"). */
  command: string;
  /** ISO 8601 time the lock was taken. */
  since: string;
}

interface Held {
  count: number;
  holder: LockHolder;
  file: string;
}

/** Locks this process holds, by lock file path. */
const held = new Map<string, Held>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A CLI run that ends by process.exit (or an uncaught error) releases what it held.
  process.on('exit', () => {
    for (const h of held.values()) removeIfOurs(h.file);
    held.clear();
  });
}

function readHolder(file: string): { holder?: LockHolder; ino: number } | undefined {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
    const st = fs.fstatSync(fd);
    if (!st.isFile() || st.size > 4096) return { ino: st.ino };
    const buf = Buffer.alloc(st.size);
    fs.readSync(fd, buf, 0, st.size, 0);
    try {
      const v = JSON.parse(buf.toString('utf8')) as Partial<LockHolder>;
      if (typeof v.pid === 'number' && typeof v.host === 'string' && typeof v.command === 'string' && typeof v.since === 'string') {
        return { holder: { pid: v.pid, host: v.host, command: v.command, since: v.since }, ino: st.ino };
      }
    } catch {
      /* not ours or damaged: no holder */
    }
    return { ino: st.ino };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if ((e as NodeJS.ErrnoException).code === 'ELOOP') {
      throw new UserError('E_SYMLINK', `The key store's lock file ${file} is a symbolic link; nothing in a key store may be a link: remove it and run the command again.`);
    }
    throw fsError(e, 'read', 'key store lock file', file);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Whether process `pid` still runs. A process killed a moment ago whose parent has not collected it
 * yet is a zombie: it exists for kill(pid, 0) but holds nothing (Linux: state Z in /proc/PID/stat).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no /proc (macOS, Windows): kill(pid, 0) is the answer
  }
}

function removeIfOurs(file: string): void {
  try {
    const r = readHolder(file);
    if (r?.holder && r.holder.pid === process.pid && r.holder.host === os.hostname()) fs.unlinkSync(file);
  } catch {
    /* releasing is best effort: a stale lock is taken over by the next run */
  }
}

/** Creates the lock file with `holder` exclusively; false when it exists. */
function create(file: string, holder: LockHolder): boolean {
  let fd: number | undefined;
  // Written to a private temporary file and linked into place: the lock file never exists without
  // its holder (link fails with EEXIST when another process made it first).
  const tmp = path.join(path.dirname(file), `.lock.${randomBytes(6).toString('hex')}.tmp`);
  try {
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    writeAll(fd, Buffer.from(JSON.stringify(holder) + '\n'));
    fs.closeSync(fd);
    fd = undefined;
    try {
      fs.linkSync(tmp, file);
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw e;
    }
  } catch (e) {
    throw fsError(e, 'write', 'key store lock file', file);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
  }
}

/** The refusal a second process gets: who holds the store, since when, and what to do. */
function lockedError(dir: string, file: string, h: LockHolder | undefined): UserError {
  if (!h) {
    return new UserError('E_KEY_STORE_LOCKED', `The key store ${dir} is locked by ${file}, which does not say who holds it; if no other run of this tool uses this key store, delete that file and run the command again.`);
  }
  const where = h.host === os.hostname() ? `process ${h.pid}` : `process ${h.pid} on host ${h.host}`;
  return new UserError(
    'E_KEY_STORE_LOCKED',
    `The key store ${dir} is in use by another run of this tool (${where}: ${h.command}, since ${h.since}); wait for it to finish and run the command again (only if that process is gone${h.host === os.hostname() ? '' : ` from ${h.host}`}, delete ${file}).`,
  );
}

/**
 * Takes the store's lock for this process (or counts one more user of it) and returns the function
 * that gives it back. `command` names what the holder does, for the message another process gets.
 *
 * Errors: E_KEY_STORE_LOCKED (another live process, another host, or a lock file that names no
 * holder); E_SYMLINK (a linked lock file); file-system errors as one sentence. The store folder
 * must exist.
 */
export function lockKeyStore(dir: string, command: string): () => void {
  const file = path.join(path.resolve(dir), LOCK_FILE);
  const mine = held.get(file);
  if (mine) {
    mine.count++;
    return once(() => release(file));
  }
  const holder: LockHolder = { pid: process.pid, host: os.hostname(), command, since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    if (create(file, holder)) {
      installExitHook();
      held.set(file, { count: 1, holder, file });
      return once(() => release(file));
    }
    const cur = readHolder(file);
    if (!cur) continue; // released meanwhile
    const h = cur.holder;
    const stale = h !== undefined && h.host === os.hostname() && (h.pid === process.pid || !processAlive(h.pid));
    if (!stale) throw lockedError(path.resolve(dir), file, h);
    // Taken over by moving it aside first: when two runs find the same stale lock only one moves
    // it, and a run that moved a lock which is no longer the stale one it read puts it back.
    const aside = `${file}.${randomBytes(6).toString('hex')}.stale`;
    try {
      fs.renameSync(file, aside);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw fsError(e, 'write', 'key store lock file', file);
    }
    if (fs.lstatSync(aside).ino !== cur.ino) {
      try {
        fs.linkSync(aside, file);
      } catch {
        /* a third run took it meanwhile: its lock stands */
      }
    }
    fs.rmSync(aside, { force: true });
  }
  throw lockedError(path.resolve(dir), file, readHolder(file)?.holder);
}

function release(file: string): void {
  const h = held.get(file);
  if (!h) return;
  if (--h.count > 0) return;
  held.delete(file);
  removeIfOurs(file);
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/**
 * Runs `fn` holding the store's lock (re-entrant within this process). A store folder that does
 * not exist yet is not locked (there is nothing in it to protect); `fn` can take the lock once it
 * creates the folder by calling the `hold` it is given (idempotent).
 */
export async function withKeyStoreLock<T>(dir: string, command: string, fn: (hold: () => void) => Promise<T>): Promise<T> {
  let release: (() => void) | undefined;
  const hold = (): void => {
    if (!release && fs.existsSync(dir)) release = lockKeyStore(dir, command);
  };
  hold();
  try {
    return await fn(hold);
  } finally {
    release?.();
  }
}

/**
 * withKeyStoreLock for a synchronous write into a store (a key generated or imported): runs `fn`
 * holding the store's lock, so a provision or Burn Keys of another process never sees a store
 * half made. The folder must already exist to be locked (make it first, e.g. KeyStore.ensureDir);
 * one that does not is not locked. Same errors as lockKeyStore, thrown before `fn` runs (then
 * nothing is written).
 */
export function withKeyStoreLockSync<T>(dir: string, command: string, fn: () => T): T {
  const release = fs.existsSync(dir) ? lockKeyStore(dir, command) : undefined;
  try {
    return fn();
  } finally {
    release?.();
  }
}

/** Operations (audit ids) this process is running, by audit file: never "interrupted" to its own other tasks. */
const inFlight = new Map<string, Set<string>>();

/** Marks an operation of this process as running on `auditFile`; the returned function ends it. */
export function markInFlight(auditFile: string, id: string): () => void {
  const key = path.resolve(auditFile);
  const set = inFlight.get(key) ?? new Set<string>();
  inFlight.set(key, set);
  set.add(id);
  return () => {
    set.delete(id);
    if (set.size === 0) inFlight.delete(key);
  };
}

/** Whether `id` is an operation this process is running now on `auditFile`. */
export function isInFlight(auditFile: string, id: string): boolean {
  return inFlight.get(path.resolve(auditFile))?.has(id) ?? false;
}
