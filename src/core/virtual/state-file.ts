import type { TimingModel } from './timing';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import { UserError } from '../errors';
import { BLOCK_WORDS } from '../efuse/registers';
import type { EfuseWords } from '../efuse/fields';
import { writeFileAtomic } from '../util/atomic-file';
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
}

/** Deflated sectors of each board, re-encoded only when the flash says a sector changed. */
const encoded = new WeakMap<VirtualEsp32, Map<number, string>>();

function encodedSectors(dev: VirtualEsp32): Array<{ index: number; data: string }> {
  let cache = encoded.get(dev);
  const changed = dev.flash.takeChangedSectors();
  if (!cache) {
    cache = new Map();
    encoded.set(dev, cache);
    for (const [index, data] of dev.flash.usedSectors()) cache.set(index, zlib.deflateRawSync(data).toString('base64'));
  } else {
    for (const i of changed) {
      cache.delete(i);
      const data = dev.flash.read(i * SECTOR_SIZE, SECTOR_SIZE);
      if (data.some((b) => b !== 0xff)) cache.set(i, zlib.deflateRawSync(data).toString('base64'));
    }
  }
  return [...cache.entries()].sort((a, b) => a[0] - b[0]).map(([index, data]) => ({ index, data }));
}

export function exportState(dev: VirtualEsp32): StateFileV1 {
  return {
    format: STATE_FORMAT,
    version: STATE_VERSION,
    profile: dev.module.id,
    seed: dev.seed,
    codingScheme: dev.efuse.codingScheme === 1 ? '3/4' : 'none',
    flashSize: dev.flash.size,
    efuse: dev.efuse.rawWords().map((b) => b.map((w) => (w >>> 0).toString(16).padStart(8, '0'))),
    sectors: encodedSectors(dev),
  };
}

export function saveStateFile(file: string, dev: VirtualEsp32): void {
  writeFileAtomic(file, Buffer.from(JSON.stringify(exportState(dev)) + '\n'), { what: 'virtual board state file', mode: 0o600 });
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
  return boardFromState(st, file, opts);
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
