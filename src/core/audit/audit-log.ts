import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { fsError, makeDirs, writeAll } from '../util/atomic-file';
import { VERSION } from '../version';

/**
 * The record of every irreversible step: `secure/audit.jsonl`, one JSON object per line,
 * append-only, fsync'ed after each line so a power cut leaves at most a torn last line.
 * Never holds key bytes: callers pass fingerprints only (and `assertNoKeyBytes` checks).
 */
export type AuditPhase = 'intent' | 'step-intent' | 'step-done' | 'done' | 'failed';

export interface AuditRecord {
  time: string;
  tool: string;
  version: string;
  /** Ties the lines of one operation together. */
  id: string;
  phase: AuditPhase;
  operation: string;
  mac: string;
  revision?: string;
  step?: string;
  plan?: unknown;
  keyFingerprints?: Record<string, string>;
  /**
   * Key blocks a run took as holding the given key without any check (Burn Keys with
   * --keys-burned-elsewhere): fingerprints of the key files only, each with result 'not verified'.
   * These keys are NOT in `keyFingerprints`, which lists only keys this run could vouch for.
   */
  keysNotVerified?: { step: string; block: number; keyFingerprint: string; result: string; reason: string }[];
  efuseBefore?: unknown;
  efuseAfter?: unknown;
  /** On a Burn Keys run's intent line: the id of the board record (provision run) it is part of. */
  within?: string;
  result?: string;
  message?: string;
}

export type AuditInput = Omit<AuditRecord, 'time' | 'tool' | 'version'>;

export function newOperationId(): string {
  return `${new Date().toISOString().replace(/[-:.TZ]/g, '')}-${randomBytes(4).toString('hex')}`;
}

export class AuditLog {
  constructor(readonly file: string) {}

  /** Appends one line and flushes it to disk before returning. */
  append(input: AuditInput): AuditRecord {
    const rec: AuditRecord = { time: new Date().toISOString(), tool: 'pycom-secure', version: VERSION, ...input };
    const line = JSON.stringify(rec) + '\n';
    const dir = path.dirname(this.file);
    const isNew = !fs.existsSync(this.file);
    let fd: number | undefined;
    let size = -1;
    try {
      makeDirs(dir, { mode: 0o700, what: 'audit log folder' });
      fd = openNoFollow(this.file, fs.constants.O_WRONLY | fs.constants.O_APPEND | fs.constants.O_CREAT, 0o600);
      // A torn previous line would swallow this one; start on a fresh line.
      size = fs.fstatSync(fd).size;
      if (size > 0 && !endsWithNewline(this.file, size)) writeAll(fd, Buffer.from('\n'));
      writeAll(fd, Buffer.from(line));
      fs.fsyncSync(fd);
    } catch (e) {
      // A line that did not fit is taken back whole: the log never ends in a torn line of ours.
      if (fd !== undefined && size >= 0) {
        try {
          fs.ftruncateSync(fd, size);
        } catch {
          /* the original error matters more */
        }
      }
      throw fsError(e, 'append to', 'audit log', this.file);
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
    if (isNew) fsyncDir(dir);
    return rec;
  }

  read(): AuditReadResult {
    return readAudit(this.file);
  }
}

/**
 * Opens a file of the key store without following a symbolic link (O_NOFOLLOW): a linked
 * audit.jsonl would send the record to a file outside the store. Only regular files are opened.
 */
function openNoFollow(file: string, flags: number, mode?: number): number {
  let fd: number;
  try {
    fd = fs.openSync(file, flags | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK, mode);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ELOOP' && isLink(file)) throw linkRefusal(file);
    throw e;
  }
  if (!fs.fstatSync(fd).isFile()) {
    fs.closeSync(fd);
    throw new UserError('E_NOT_A_FILE', `The audit log ${file} is not a regular file; move it away (the store's record must be a plain file) and run the command again.`);
  }
  return fd;
}

function isLink(file: string): boolean {
  try {
    return fs.lstatSync(file).isSymbolicLink();
  } catch {
    return false;
  }
}

function linkRefusal(file: string): UserError {
  return new UserError('E_SYMLINK', `The audit log ${file} is a symbolic link, and the key store's record is never written through a link (it would land outside the store); replace the link with a plain file (move the file it points to into its place) and run the command again.`);
}

function endsWithNewline(file: string, size: number): boolean {
  const fd = openNoFollow(file, fs.constants.O_RDONLY);
  try {
    const b = Buffer.alloc(1);
    fs.readSync(fd, b, 0, 1, size - 1);
    return b[0] === 0x0a;
  } finally {
    fs.closeSync(fd);
  }
}

function fsyncDir(dir: string): void {
  // Makes the new file's directory entry durable; not possible on every platform (Windows).
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

export interface AuditReadResult {
  records: AuditRecord[];
  /** Lines that could not be parsed (1-based line numbers); a torn last line (`last`: no newline after it) is the usual case. */
  damaged: { line: number; last: boolean }[];
}

/**
 * The damaged lines of an audit log in words, for a warning: "line 5 of FILE is not a record" or
 * "lines 5, 9-12 and 40 of FILE are not records" (at most 8 runs of numbers, then "and N more"),
 * with "(a torn last line: a run was cut off while writing it)" when only the last line is.
 * Empty string when no line is damaged.
 */
export function damagedLinesPhrase(file: string, damaged: AuditReadResult['damaged']): string {
  if (!damaged.length) return '';
  const runs: string[] = [];
  let start = damaged[0]!.line;
  let prev = start;
  const close = (): void => void runs.push(start === prev ? String(start) : `${start}-${prev}`);
  for (const d of damaged.slice(1)) {
    if (d.line === prev + 1) prev = d.line;
    else {
      close();
      start = prev = d.line;
    }
  }
  close();
  const shown = runs.slice(0, 8);
  const more = runs.length - shown.length;
  const list = more > 0 ? `${shown.join(', ')} and ${more} more` : shown.length > 1 ? `${shown.slice(0, -1).join(', ')} and ${shown[shown.length - 1]}` : shown[0]!;
  const torn = damaged.length === 1 && damaged[0]!.last ? ' (a torn last line: a run was cut off while writing it)' : '';
  return damaged.length === 1 ? `line ${list} of ${file} is not a record${torn}` : `lines ${list} of ${file} are not records`;
}

/** Reads the log, keeping every good line and reporting the damaged ones instead of failing. */
export function readAudit(file: string): AuditReadResult {
  if (!fs.existsSync(file) && !isLink(file)) return { records: [], damaged: [] };
  let text: string;
  let fd: number | undefined;
  try {
    fd = openNoFollow(file, fs.constants.O_RDONLY);
    text = fs.readFileSync(fd, 'utf8');
  } catch (e) {
    throw fsError(e, 'read', 'audit log', file);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  const lines = text.split('\n');
  // A torn last line is one with no newline after it (a line written whole ends with one).
  const endsWhole = lines[lines.length - 1] === '';
  if (endsWhole) lines.pop();
  const records: AuditRecord[] = [];
  const damaged: AuditReadResult['damaged'] = [];
  lines.forEach((text, i) => {
    if (text.trim() === '') return;
    try {
      const v = JSON.parse(text) as AuditRecord;
      if (typeof v !== 'object' || v === null || typeof v.id !== 'string' || typeof v.phase !== 'string') throw new Error('not a record');
      records.push(v);
    } catch {
      damaged.push({ line: i + 1, last: i === lines.length - 1 && !endsWhole });
    }
  });
  return { records, damaged };
}

/**
 * Operations that wrote an intent but no done line: interrupted burns. A `failed` line does not
 * close an operation: it only says how it was interrupted (the board may be half-burned).
 */
export function interruptedOperations(records: readonly AuditRecord[], mac?: string): AuditRecord[] {
  const closed = new Set(records.filter((r) => r.phase === 'done').map((r) => r.id));
  return records.filter((r) => r.phase === 'intent' && !closed.has(r.id) && (mac === undefined || r.mac === mac));
}

/** Steps of an operation that have a step-done line. */
export function completedSteps(records: readonly AuditRecord[], id: string): Set<string> {
  return new Set(records.filter((r) => r.id === id && r.phase === 'step-done' && r.step).map((r) => r.step!));
}

/**
 * Refuses to write a record that contains the hex of any key it is told about: the last
 * line of defence against key bytes reaching the log through some nested state object.
 */
export function assertNoKeyBytes(input: unknown, keys: readonly Uint8Array[]): void {
  const text = JSON.stringify(input).toLowerCase();
  for (const k of keys) {
    const forward = Buffer.from(k).toString('hex');
    const reversed = Buffer.from(k).reverse().toString('hex');
    if (text.includes(forward) || text.includes(reversed)) throw new Error('refusing to write key material to the audit log');
  }
}
