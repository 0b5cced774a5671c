import type { TimingModel } from '../chip/flash-timing';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { UserError } from '../errors';
import { BLOCK_WORDS } from '../efuse/registers';
import type { EfuseWords } from '../efuse/fields';
import { fsError, writeAll, writeFileAtomic } from '../util/atomic-file';
import { keyMaterialIn } from '../keystore/key-material';
import { resolveModule, type CodingSchemeOption } from './profiles';
import type { BootPredictor } from './boot-model';
import { VirtualEsp32 } from './device';
import { SECTOR_SIZE } from '../chip/esp32';

/**
 * Board state file: the physical eFuse bits and the flash content of a virtual board, so that
 * a board keeps its state between runs like a real one. JSON, versioned; flash is stored
 * sparsely (only sectors that are not all 0xFF), each deflated and base64-encoded, so a
 * factory-fresh 8 MB board is a few hundred bytes. The file holds the eFuse key blocks in
 * clear (a rehearsal may burn real keys), so it is written owner-only (0600).
 *
 * A server that must keep every acknowledged change (`sim serve --state`) appends the changes to
 * a journal beside it (FILE.journal, JSON lines, see StateJournal) instead of rewriting megabytes
 * of state before each reply; loading replays the journal whose id matches the file's `journal`.
 */
export const STATE_FORMAT = 'pycom-secure-virtual-esp32';
export const STATE_VERSION = 1;

export interface StateFileV1 {
  format: typeof STATE_FORMAT;
  version: 1;
  profile: string;
  seed: string;
  codingScheme: CodingSchemeOption;
  flashSize: number;
  /** Physical eFuse words as 8-digit hex, BLOCK0 7 words, BLOCK1..3 8 words. */
  efuse: string[][];
  /** Non-erased sectors: index → deflated base64 content of 4096 bytes. */
  sectors: Array<{ index: number; data: string }>;
  /** Id of the journal (FILE.journal) that continues this file; a journal with another id is stale. */
  journal?: string;
}

/** Deflated sectors of each board, re-encoded only when the flash says a sector changed. */
const encoded = new WeakMap<VirtualEsp32, Map<number, string>>();

/**
 * Takes the sectors the flash says changed, re-encodes them in the board's cache and returns them
 * (data '' for a sector that is now erased).
 */
function refreshSectors(dev: VirtualEsp32): Array<{ index: number; data: string }> {
  let cache = encoded.get(dev);
  const changed = dev.flash.takeChangedSectors();
  if (!cache) {
    cache = new Map();
    encoded.set(dev, cache);
    for (const [index, data] of dev.flash.usedSectors()) cache.set(index, zlib.deflateRawSync(data).toString('base64'));
    return [];
  }
  const out: Array<{ index: number; data: string }> = [];
  for (const i of [...changed].sort((a, b) => a - b)) {
    cache.delete(i);
    const data = dev.flash.read(i * SECTOR_SIZE, SECTOR_SIZE);
    const enc = data.some((b) => b !== 0xff) ? zlib.deflateRawSync(data).toString('base64') : '';
    if (enc) cache.set(i, enc);
    out.push({ index: i, data: enc });
  }
  return out;
}

function encodedSectors(dev: VirtualEsp32): Array<{ index: number; data: string }> {
  refreshSectors(dev);
  const cache = encoded.get(dev)!;
  return [...cache.entries()].sort((a, b) => a[0] - b[0]).map(([index, data]) => ({ index, data }));
}

function efuseHex(dev: VirtualEsp32): string[][] {
  return dev.efuse.rawWords().map((b) => b.map((w) => (w >>> 0).toString(16).padStart(8, '0')));
}

export function exportState(dev: VirtualEsp32): StateFileV1 {
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    profile: dev.module.id,
    seed: dev.seed,
    codingScheme: dev.efuse.codingScheme === 1 ? '3/4' : 'none',
    flashSize: dev.flash.size,
    efuse: efuseHex(dev),
    sectors: encodedSectors(dev),
  };
}

/**
 * Writes the whole board to `file` (atomically, 0600) under a new journal id, then removes the
 * journal that continued the previous version (a journal left by a crash in between carries the
 * old id and is ignored). Errors: UserError (E_NO_DIR, E_KEY_FILE, E_STATE_JOURNAL, file system).
 */
export function saveStateFile(file: string, dev: VirtualEsp32): void {
  const jp = journalPath(file);
  checkJournalPath(jp);
  const st: StateFileV1 = { ...exportState(dev), journal: randomBytes(8).toString('hex') };
  writeFileAtomic(file, Buffer.from(JSON.stringify(st) + '\n'), { what: 'virtual board state file', mode: 0o600 });
  fs.rmSync(jp, { force: true });
}

/** The journal beside a state file. */
export function journalPath(file: string): string {
  return `${file}.journal`;
}

const JOURNAL_FORMAT = 'pycom-secure-virtual-esp32-journal';
/** The header's "crc": every line after it carries the CRC-32 of its own text. */
const JOURNAL_CRC = 'crc32';
/** `,"crc":"xxxxxxxx"}`: what a checksummed journal line ends with. */
const CRC_TAIL = /,"crc":"([0-9a-f]{8})"\}$/;

/** A JSON object's text with `,"crc":C` added (C: CRC-32 of the text as given, 8 hex digits). */
function withCrc(json: string): string {
  return `${json.slice(0, -1)},"crc":"${zlib.crc32(json).toString(16).padStart(8, '0')}"}`;
}

/** The line without its checksum when the checksum holds; undefined when it is missing or wrong. */
function checkedLine(line: string): string | undefined {
  const m = CRC_TAIL.exec(line);
  if (!m) return undefined;
  const json = `${line.slice(0, m.index)}}`;
  return zlib.crc32(json).toString(16).padStart(8, '0') === m[1] ? json : undefined;
}

/** A journal path that exists must be a journal of this tool: anything else is never appended to or removed. */
function checkJournalPath(jp: string): void {
  let head: Buffer;
  try {
    const st = fs.lstatSync(jp);
    if (!st.isFile()) throw notJournal(jp);
    const fd = fs.openSync(jp, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    try {
      head = Buffer.alloc(64);
      head = head.subarray(0, fs.readSync(fd, head, 0, 64, 0));
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return;
    if (e instanceof UserError) throw e;
    throw fsError(e, 'read', 'virtual board state journal', jp);
  }
  if (head.length > 0 && !head.toString('latin1').startsWith(`{"format":"${JOURNAL_FORMAT}"`)) throw notJournal(jp);
}

function notJournal(jp: string): UserError {
  return new UserError('E_STATE_JOURNAL', `${jp} is not a journal of a virtual board state, and this tool writes its journal there; move that file away, or give --state another path.`);
}

/**
 * The append-only journal that makes `sim serve --state` keep everything it acknowledged without
 * rewriting the whole state before each reply: `append()` writes the eFuse words (when they
 * changed) and each changed 4 KiB sector as one JSON line and syncs the file (fdatasync), so a
 * killed server loses nothing a reply acknowledged; `compact()` folds it into the state file.
 * Shapes: line 1 `{"format":"pycom-secure-virtual-esp32-journal","journal":ID,"crc":"crc32"}`, then
 * `{"efuse":[[8 hex digits, ...] x 4],"crc":C}` or `{"sector":INDEX,"data":DEFLATED_BASE64 or "","crc":C}`,
 * where C is the CRC-32 (zlib's, as in gzip and PNG) of the line without its `,"crc":C` part, as 8
 * lowercase hex digits: a line damaged after it was written is found, not replayed. Journals
 * written before the checksum (a header without "crc") are read without it.
 * Errors: UserError (E_STATE_JOURNAL, file system) from the constructor and `append()`.
 */
export class StateJournal {
  private fd: number | undefined;
  private bytes = 0;
  private efuseSeen: string;

  /** Writes the whole state once (new journal id); the journal starts empty. `compactAt` in bytes. */
  constructor(
    readonly file: string,
    private readonly dev: VirtualEsp32,
    private readonly compactAt = 64 << 20,
  ) {
    saveStateFile(file, dev);
    this.efuseSeen = JSON.stringify(efuseHex(dev));
  }

  /** Appends every change since the last call and syncs it; nothing to append costs nothing. */
  append(): void {
    const lines: string[] = [];
    const ef = JSON.stringify(efuseHex(this.dev));
    if (ef !== this.efuseSeen) lines.push(withCrc(`{"efuse":${ef}}`));
    for (const c of refreshSectors(this.dev)) lines.push(withCrc(JSON.stringify({ sector: c.index, data: c.data })));
    if (lines.length === 0) return;
    const jp = journalPath(this.file);
    if (this.fd === undefined) {
      const id = (JSON.parse(fs.readFileSync(this.file, 'utf8')) as StateFileV1).journal;
      try {
        this.fd = fs.openSync(jp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw notJournal(jp);
        throw fsError(e, 'create', 'virtual board state journal', jp);
      }
      lines.unshift(JSON.stringify({ format: JOURNAL_FORMAT, journal: id, crc: JOURNAL_CRC }));
    }
    const data = Buffer.from(lines.join('\n') + '\n');
    try {
      writeAll(this.fd, data);
      fs.fdatasyncSync(this.fd);
    } catch (e) {
      throw fsError(e, 'append to', 'virtual board state journal', jp);
    }
    this.efuseSeen = ef;
    this.bytes += data.length;
    if (this.bytes >= this.compactAt) this.compact();
  }

  /** Appends what is pending, writes the whole state file and starts an empty journal. */
  compact(): void {
    this.append();
    this.close();
    saveStateFile(this.file, this.dev);
    this.bytes = 0;
  }

  /** Closes the journal file (the state stays as the file and journal hold it). */
  close(): void {
    if (this.fd !== undefined) fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

function bad(file: string, what: string): UserError {
  return new UserError(
    'E_STATE_FILE',
    `The virtual board state file ${file} is not usable: ${what}; delete it, or create a fresh board with "pycom-secure sim reset-state --state ${file}".`,
  );
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Validates a parsed state object; `file` only names it in messages. */
export function parseState(json: unknown, file: string): StateFileV1 {
  if (!isObject(json)) throw bad(file, 'it is not a JSON object');
  if (json.format !== STATE_FORMAT) throw bad(file, `it is not a virtual board state (format is ${JSON.stringify(json.format)})`);
  if (json.version !== STATE_VERSION) throw bad(file, `it has version ${JSON.stringify(json.version)}, this tool reads version ${STATE_VERSION}`);
  if (typeof json.profile !== 'string') throw bad(file, 'the profile is missing');
  let flashSize: number;
  try {
    flashSize = resolveModule(json.profile).flashSize;
  } catch {
    throw bad(file, `the profile ${json.profile} is unknown`);
  }
  if (typeof json.seed !== 'string') throw bad(file, 'the seed is missing');
  if (json.journal !== undefined && typeof json.journal !== 'string') throw bad(file, 'the journal id is not a string');
  if (json.codingScheme !== 'none' && json.codingScheme !== '3/4') throw bad(file, 'the coding scheme must be "none" or "3/4"');
  if (json.flashSize !== flashSize) throw bad(file, `the flash size ${String(json.flashSize)} does not match the ${json.profile} profile (${flashSize})`);
  const ef = json.efuse;
  if (!Array.isArray(ef) || ef.length !== 4) throw bad(file, 'the eFuse image must have 4 blocks');
  ef.forEach((blk: unknown, b) => {
    if (!Array.isArray(blk) || blk.length !== BLOCK_WORDS[b]) throw bad(file, `eFuse BLOCK${b} must have ${BLOCK_WORDS[b]} words`);
    for (const w of blk) if (typeof w !== 'string' || !/^[0-9a-f]{8}$/i.test(w)) throw bad(file, `eFuse BLOCK${b} has a word that is not 8 hex digits`);
  });
  const secs = json.sectors;
  if (!Array.isArray(secs)) throw bad(file, 'the flash sector list is missing');
  const maxIndex = flashSize / SECTOR_SIZE;
  const seen = new Set<number>();
  for (const s of secs) {
    if (!isObject(s) || !Number.isInteger(s.index) || typeof s.data !== 'string') throw bad(file, 'a flash sector entry is malformed');
    const i = s.index as number;
    if (i < 0 || i >= maxIndex) throw bad(file, `flash sector ${i} is outside the ${flashSize}-byte flash`);
    if (seen.has(i)) throw bad(file, `flash sector ${i} appears twice`);
    seen.add(i);
  }
  return json as unknown as StateFileV1;
}

/** How a board loaded from a state file runs: what the file does not hold. */
export interface BoardFromStateOptions {
  /** Timing model on (UART and flash times): true for the default profile, or a model; default off. */
  timing?: boolean | TimingModel;
  /** The board's normal-boot model (see VirtualEsp32Options.bootPredictor); default none. */
  bootPredictor?: BootPredictor;
}

/** Builds a board from a state object. */
export function boardFromState(st: StateFileV1, file: string, opts: BoardFromStateOptions = {}): VirtualEsp32 {
  const efuse: EfuseWords = st.efuse.map((b) => b.map((w) => parseInt(w, 16) >>> 0));
  const dev = new VirtualEsp32({ profile: st.profile, seed: st.seed, codingScheme: st.codingScheme, efuse, timing: opts.timing, bootPredictor: opts.bootPredictor });
  for (const s of st.sectors) {
    let data: Buffer;
    try {
      data = zlib.inflateRawSync(Buffer.from(s.data, 'base64'));
    } catch {
      throw bad(file, `flash sector ${s.index} is corrupt (its compressed data does not decode)`);
    }
    if (data.length !== SECTOR_SIZE) throw bad(file, `flash sector ${s.index} holds ${data.length} bytes instead of ${SECTOR_SIZE}`);
    dev.flash.loadSector(s.index, data);
  }
  return dev;
}

/** Reads and validates a state file; every problem becomes a UserError saying what is wrong. */
export function loadStateFile(file: string, opts: BoardFromStateOptions = {}): VirtualEsp32 {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError('E_NO_FILE', `The virtual board state file ${file} does not exist; create it with "pycom-secure sim reset-state --state ${file}".`);
    if (code === 'EISDIR') throw new UserError('E_IS_DIR', `The virtual board state file ${file} is a directory; give the path of a file.`);
    throw e;
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw notAState(file) ?? bad(file, 'it is not valid JSON (truncated or edited?)');
  }
  let st: StateFileV1;
  try {
    st = parseState(json, file);
  } catch (e) {
    throw notAState(file) ?? e;
  }
  return boardFromState(withJournal(st, file), file, opts);
}

/**
 * The state as its journal continues it: each line whose id matches the file's is applied in
 * order. A last line cut short (the server killed while appending, before the reply that line
 * would have allowed) is ignored; any other bad line is an error naming the line.
 */
function withJournal(st: StateFileV1, file: string): StateFileV1 {
  const jp = journalPath(file);
  let text: string;
  try {
    text = fs.readFileSync(jp, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return st;
    throw fsError(e, 'read', 'virtual board state journal', jp);
  }
  // Every line ends with a newline once written; what follows the last newline was cut short.
  const complete = text.split('\n').slice(0, -1);
  if (complete.length === 0) return st;
  const header = parseLine(complete[0]);
  if (!isObject(header) || header.format !== JOURNAL_FORMAT) throw notJournal(jp);
  if (st.journal === undefined || header.journal !== st.journal) return st; // continues an older version of the file
  const badLine = (n: number, what: string): UserError =>
    new UserError('E_STATE_FILE', `The journal ${jp} of the virtual board state file ${file} is not usable: line ${n} ${what}; delete both files, or create a fresh board with "pycom-secure sim reset-state --state ${file}".`);
  const efuse = st.efuse.map((b) => [...b]);
  const sectors = new Map(st.sectors.map((x) => [x.index, x.data]));
  const maxIndex = st.flashSize / SECTOR_SIZE;
  const checksummed = header.crc === JOURNAL_CRC;
  complete.slice(1).forEach((line, i) => {
    const n = i + 2;
    let text: string | undefined = line;
    if (checksummed) {
      text = checkedLine(line);
      if (text === undefined) throw badLine(n, CRC_TAIL.test(line) ? 'does not match its checksum (it was changed or damaged after it was written)' : 'has no checksum');
    }
    const rec = parseLine(text);
    if (!isObject(rec)) throw badLine(n, 'is not a JSON object');
    if (rec.efuse !== undefined) {
      const ef = rec.efuse;
      if (!Array.isArray(ef) || ef.length !== 4 || ef.some((b, k) => !Array.isArray(b) || b.length !== BLOCK_WORDS[k] || b.some((w) => typeof w !== 'string' || !/^[0-9a-f]{8}$/i.test(w)))) {
        throw badLine(n, 'has a malformed eFuse image');
      }
      ef.forEach((b: string[], k) => (efuse[k] = [...b]));
    } else if (Number.isInteger(rec.sector) && typeof rec.data === 'string') {
      const index = rec.sector as number;
      if (index < 0 || index >= maxIndex) throw badLine(n, `names flash sector ${index}, outside the ${st.flashSize}-byte flash`);
      if (rec.data === '') sectors.delete(index);
      else sectors.set(index, rec.data);
    } else throw badLine(n, 'is neither an eFuse image nor a flash sector');
  });
  return { ...st, efuse, sectors: [...sectors.entries()].sort((a, b) => a[0] - b[0]).map(([index, data]) => ({ index, data })) };
}

function parseLine(line: string | undefined): unknown {
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}

/**
 * For a file that is not a board state but holds a key: the sentence that says so, instead of
 * the usual advice to delete the file or reset it (which would destroy the key); else undefined.
 */
function notAState(file: string): UserError | undefined {
  const why = keyMaterialIn(file);
  if (!why) return undefined;
  return new UserError('E_STATE_IS_KEY', `The file ${file} is a key file (${why}), not a virtual board state, and this tool never writes over a key; leave it as it is and give another --state path.`);
}
