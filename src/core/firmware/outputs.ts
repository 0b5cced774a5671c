import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { board as boardFacts, boardFromAppFile, boardGeneration, boardIds, otaSlots, type BoardId, type LayoutId } from '../boards/catalog';
import { decryptFlashData } from '../crypto/flash-encryption';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { DIGEST_ADDRESS, FACTORY_ADDRESS, PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { classifyContent, type ContentInfo } from './content';
import { DIGEST_FILE, GENERATIONS, factoryName, tableOutputs, type GenerationId } from './generations';
import { hex } from '../util/hex';

/**
 * Finds the secure outputs in a build directory (`build/<BOARD>/release`) and says what each is:
 * role, target address, encrypted or plain, signed or not, board and generation
 * (pycom-micropython-sigfox esp32/application.mk, its SECURE=on rules).
 */
export type OutputRole = 'bootloader-digest' | 'partition-table' | 'app' | 'ota-copy';

export interface BuildOutput {
  path: string;
  /** Relative to the build dir, with forward slashes. */
  rel: string;
  role: OutputRole;
  address: number;
  encrypted: boolean;
  /** Known only for plaintext files, or encrypted ones when a key was given. */
  signed?: boolean;
  /** For encrypted files with a key: whether the decryption at `address` is valid content. */
  decryptsValid?: boolean;
  board: BoardId;
  generation: GenerationId;
  /** Partition tables: which layout (Era D builds both 4MB and 8MB). */
  layout?: LayoutId;
  /** Something the user must know about this file (e.g. the rc1-rc4 wrong OTA address). */
  warning?: string;
}

export interface BuildOutputs {
  dir: string;
  board: BoardId;
  generation: GenerationId;
  outputs: BuildOutput[];
  /** Signed plaintext app and table kept by 1.18/1.20-rc builds: inputs for host-side processing. */
  plainApp?: string;
  plainPartitionTable?: string;
  plainBootloader?: string;
}

export interface FindOptions {
  board?: BoardId;
  generation?: GenerationId;
  /** With the flash key, encrypted files are decrypted at their address to check and classify them. */
  flashKey?: Uint8Array;
  flashCryptConf?: number;
}

function exists(dir: string, rel: string): boolean {
  return fs.existsSync(path.join(dir, rel));
}

function detectBoard(dir: string): BoardId {
  const parts = path.resolve(dir).split(path.sep);
  const fromPath = boardIds().find((b) => parts.includes(b));
  if (fromPath) return fromPath;
  const files = fs.readdirSync(dir);
  const boards = new Set(files.map(boardFromAppFile).filter((b): b is BoardId => b !== undefined));
  if (boards.size === 1) return [...boards][0]!;
  if (boards.size === 0) {
    // --board would not help: there is no build here.
    throw new UserError('E_NOT_A_BUILD', `${dir} is not a build's output folder: it holds no app binary (such as gpy.bin_enc); give the release folder of a secure build, e.g. esp32/build/GPY/release.`);
  }
  throw new UserError('E_BUILD_BOARD', `Cannot tell which board ${dir} was built for (it holds apps for ${[...boards].join(', ')}); pass --board.`);
}

/**
 * Refuses a build folder made for another board than `board`: it holds another board's app
 * (`gpy.bin_enc` ...) and none of `board`'s, or, holding no app at all, sits in another board's
 * folder (build/GPY/release). An image made from it would carry the wrong firmware, so this is
 * said before any key is tried (a wrong board must not read as a wrong key).
 */
function checkBuildIsFor(dir: string, board: BoardId): void {
  const files = fs.readdirSync(dir);
  const apps = [...new Set(files.map(boardFromAppFile).filter((b): b is BoardId => b !== undefined))];
  if (apps.includes(board)) return;
  const fromPath = boardIds().find((b) => path.resolve(dir).split(path.sep).includes(b));
  const others = apps.length ? apps : fromPath && fromPath !== board ? [fromPath] : [];
  if (!others.length) return;
  const evidence = apps.length
    ? `it holds ${files.filter((f) => boardFromAppFile(f) !== undefined).sort().slice(0, 3).join(', ')} and no ${boardFacts(board).appBin}`
    : `its path names ${fromPath}`;
  throw new UserError('E_BUILD_BOARD', `${dir} is a build for ${others.map((b) => `${boardFacts(b).name} (BOARD=${b})`).join(' and ')}, not for ${boardFacts(board).name} (BOARD=${board}): ${evidence}; give the folder of a ${board} build (build/${board}/release), or name ${others[0]} as the board (--board ${others[0]}) if that is the board you have.`);
}

/**
 * The board (makefile BOARD) a build folder is for, without reading its outputs: `board` when
 * given and the folder does not belong to another board, else what the folder says (its path
 * build/<BOARD>/release, or its one app file). Cheap enough to call before any board is opened.
 * Errors: E_BUILD_DIR (no such folder), E_BUILD_BOARD (made for another board than `board`, one
 * sentence naming both and the fix; or the board cannot be told).
 */
export function buildBoard(dir: string, board?: BoardId): BoardId {
  if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
    throw new UserError('E_BUILD_DIR', `The build directory ${dir} does not exist; build first (pycom-secure build) or give the path of build/<BOARD>/release.`);
  }
  if (board) {
    checkBuildIsFor(dir, board);
    return board;
  }
  return detectBoard(dir);
}

/** How a plan or a question names a build: "GPy firmware (build/GPY/release)". */
export function firmwareTitle(board: BoardId, dir: string): string {
  return `${boardFacts(board).name} firmware (${dir})`;
}

/** The firmware generation of the secure build in `dir` for `board`, by its output files. Throws E_BUILD_OUTPUTS when there is none. */
export function buildGeneration(dir: string, board: BoardId): GenerationId {
  return detectGeneration(dir, board);
}

function detectGeneration(dir: string, board: BoardId): GenerationId {
  const app = boardFacts(board).appBin;
  // 1.20.3.b3 names its 8MB table after SMALL_FACTORY_FW_ENABLED (application.mk about 647-653).
  if (['8MB_small_factory_fw', '8MB_normal_factory_fw'].some((l) => exists(dir, `lib/partitions_${l}.bin_enc`))) return 'E';
  const eraD = GENERATIONS.D;
  if (tableOutputs(eraD, boardGeneration(board, 'D').layouts).some((t) => exists(dir, t.file)) || exists(dir, factoryName(eraD, app))) return 'D';
  if (!exists(dir, `${app}_enc_0x10000`)) {
    throw new UserError('E_BUILD_OUTPUTS', `${dir} holds no secure build outputs for ${board} (no ${app}_enc or ${app}_enc_0x10000); run the build with SECURE=on first.`);
  }
  // 1.18 and 1.20 rc builds keep the signed plaintext table: its ota_0 tells them apart.
  let ota0: number | undefined;
  try {
    const t = parsePartitionTable(fs.readFileSync(path.join(dir, 'lib/partitions.bin')).subarray(0, TABLE_MAX_LEN));
    ota0 = t.entries.find((e) => e.type === 0 && e.subtype === 0x10)?.offset;
  } catch {
    ota0 = undefined;
  }
  const has = (a: number) => exists(dir, `${app}_enc_${hex(a)}`);
  if (ota0 === 0x210000 || has(0x210000)) return 'C-rc12-13';
  if (ota0 === 0x1c0000) return has(0x1a0000) ? 'C-rc1-4' : 'C-rc5-11';
  if (has(0x1c0000)) return 'C-rc5-11';
  // 1.17-1.18 leave <app>.bin plaintext ($(MV) undefined); 1.19 copies the ciphertext over it.
  const plain = exists(dir, app) && classifyContent(fs.readFileSync(path.join(dir, app))).kind === 'image';
  return plain ? 'B' : 'B19';
}

type Inspection = Pick<BuildOutput, 'encrypted' | 'signed' | 'decryptsValid'>;

/**
 * Gives `o` its encrypted / signed / decryptsValid fields, worked out from the file when one of
 * them is first read: a flash run reads those of the files it writes and never decrypts an OTA
 * copy it does not write (1.9 MB of ciphertext, about 0.1 s).
 */
function withInspection(o: Omit<BuildOutput, keyof Inspection>, file: string, address: number, opts: FindOptions): BuildOutput {
  let found: Inspection | undefined;
  const field = (k: keyof Inspection) => ({ enumerable: true, get: () => (found ??= inspect(file, address, opts))[k] });
  return Object.defineProperties(o, { encrypted: field('encrypted'), signed: field('signed'), decryptsValid: field('decryptsValid') }) as BuildOutput;
}

function inspect(file: string, address: number, o: FindOptions): Inspection {
  const data = fs.readFileSync(file);
  const plain: ContentInfo = classifyContent(data);
  if (plain.kind !== 'unknown') return { encrypted: false, ...(plain.signed !== undefined ? { signed: plain.signed } : {}) };
  if (!o.flashKey || data.length % 16 !== 0) return { encrypted: true };
  const dec = classifyContent(decryptFlashData(data, { key: o.flashKey, address, flashCryptConf: o.flashCryptConf ?? 0xf }));
  return { encrypted: true, decryptsValid: dec.kind !== 'unknown', ...(dec.signed !== undefined ? { signed: dec.signed } : {}) };
}

export function findBuildOutputs(dir: string, o: FindOptions = {}): BuildOutputs {
  const board = buildBoard(dir, o.board);
  const generation = o.generation ?? detectGeneration(dir, board);
  const gen = GENERATIONS[generation];
  const app = boardFacts(board).appBin;
  const outputs: BuildOutput[] = [];
  const add = (rel: string, role: OutputRole, address: number, extra: Partial<BuildOutput> = {}) => {
    const p = path.join(dir, rel);
    if (!fs.existsSync(p)) return;
    outputs.push(withInspection({ path: p, rel, role, address, board, generation, ...extra }, p, address, o));
  };
  add(DIGEST_FILE, 'bootloader-digest', DIGEST_ADDRESS);
  for (const t of tableOutputs(gen, boardGeneration(board, generation).layouts)) {
    // Pycom's default 1.20.3.b3 build (SMALL_FACTORY_FW_ENABLED=1): its OTA copy does not match this table.
    const warning = t.layout === '8MB_small_factory_fw' ? `${t.file} puts ota_0 at 0x110000 but this build's OTA copy is encrypted for 0x210000 (Pycom's SMALL_FACTORY_FW_ENABLED=1 flow is inconsistent); rebuild with pycom-secure build, which uses SMALL_FACTORY_FW_ENABLED=0.` : undefined;
    add(t.file, 'partition-table', PARTITION_TABLE_ADDRESS, { layout: t.layout, ...(warning ? { warning } : {}) });
  }
  add(factoryName(gen, app), 'app', FACTORY_ADDRESS);
  const prefix = `${app}_enc_0x`;
  for (const f of fs.readdirSync(dir).filter((n) => n.startsWith(prefix)).sort()) {
    const address = parseInt(f.slice(prefix.length), 16);
    if (address === FACTORY_ADDRESS) continue;
    const slots = otaSlots(board, generation);
    const warning = slots.includes(address)
      ? undefined
      : `${f} is encrypted for ${hex(address)}, but ${board} firmware ${gen.versions} has its OTA slot at ${slots.map((a) => hex(a)).join(' or ')}; it would never boot there.`;
    add(f, 'ota-copy', address, warning ? { warning } : {});
  }
  const plainIf = (rel: string) => {
    const p = path.join(dir, rel);
    return fs.existsSync(p) && classifyContent(fs.readFileSync(p)).kind !== 'unknown' ? p : undefined;
  };
  const plainApp = plainIf(app);
  const plainPartitionTable = plainIf('lib/partitions.bin');
  const plainBootloader = plainIf('bootloader/bootloader.bin');
  return {
    dir,
    board,
    generation,
    outputs,
    ...(plainApp ? { plainApp } : {}),
    ...(plainPartitionTable ? { plainPartitionTable } : {}),
    ...(plainBootloader ? { plainBootloader } : {}),
  };
}
