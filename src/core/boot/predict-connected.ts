import type { EfuseWords } from '../efuse/fields';
import { fingerprint } from '../util/fingerprint';
import { bootEfusesFromRaw, flashEncryptionOn, type BootEfuses } from './boot-efuses';
import { predictBoot, type BootVerdict } from './predict';
import { codingForKeyLength, keyBytes, SECTOR_SIZE } from '../chip/esp32';

/**
 * "Will it boot?" for a board we can only reach through its ROM loader (issue 4 §5), or for a
 * planned one. Over the wire, read-protected key blocks read as zeros (ESP32 TRM, eFuse controller
 * chapter), so the
 * keys the boot uses must come from the user's key store; when one is needed and not given, the
 * answer is "cannot decide", never a guess made with a zero key.
 */
export interface KnownKeys {
  /** Key-file byte order, as in flash_encryption_key.bin. */
  flashKey?: Uint8Array;
  /** The BLOCK2 key (the digest of the signing key for reflashable secure boot v1). */
  secureBootKey?: Uint8Array;
  /** 64-byte X‖Y of the signing key, for the partition table and app signature checks. */
  signingPublicKey?: Uint8Array;
}

export interface ResolvedEfuses {
  efuse: BootEfuses;
  /** Facts the prediction takes on trust (a read-protected key assumed to be the given one). */
  assumptions: string[];
  /** What would have to be known to decide; empty when the prediction can be made. */
  undecidable: string[];
}

/**
 * How a front end tells the user to supply a key the prediction lacks: the end of the sentence
 * "BLOCK1 is read-protected and the flash-encryption key is not known: <hint>." (no final stop).
 */
export interface MissingKeyHints {
  flashKey: string;
  secureBootKey: string;
}

/** The CLI's way (predict-boot's options); the default of resolveBootEfuses. */
export const CLI_MISSING_KEY_HINTS: MissingKeyHints = {
  flashKey: 'give --flash-key FILE (or a key store holding it)',
  secureBootKey: 'give --secure-boot-key FILE or --signing-key PEM (or a key store holding it)',
};

/**
 * The boot-relevant eFuses from words read over the loader, with read-protected keys replaced by
 * the given ones. A readable block is used as it is (the chip's key wins over a file's). A key
 * that is needed and not given makes the answer undecidable, the sentence ending with `hints`.
 */
export function resolveBootEfuses(words: EfuseWords, revision: number, keys: KnownKeys, hints: MissingKeyHints = CLI_MISSING_KEY_HINTS): ResolvedEfuses {
  const efuse = bootEfusesFromRaw(words, revision);
  const assumptions: string[] = [];
  const undecidable: string[] = [];
  const fe = flashEncryptionOn(efuse);
  const slot = (which: 'flashKey' | 'secureBootKey', block: 'BLOCK1' | 'BLOCK2', needed: boolean, what: string): void => {
    const facts = block === 'BLOCK1' ? efuse.blk1 : efuse.blk2;
    const given = keys[which];
    if (!facts.readProtected) {
      if (given && fingerprint(given) !== fingerprint(efuse[which]) && !facts.empty) {
        assumptions.push(`${block} is readable and holds another ${what} than the one given; the chip's own key is used.`);
      }
      return;
    }
    if (given) {
      efuse[which] = given;
      if (needed) assumptions.push(`${block} is read-protected: it is assumed to hold the ${what} ${fingerprint(given)} (this cannot be checked over the serial port).`);
    } else if (needed) {
      undecidable.push(`${block} is read-protected and the ${what} is not known: ${hints[which]}.`);
    }
  };
  slot('flashKey', 'BLOCK1', fe, 'flash-encryption key');
  slot('secureBootKey', 'BLOCK2', efuse.absDone0, 'secure boot key');
  return { efuse, assumptions, undecidable };
}

/** Thrown by the synchronous reader when a range has not been fetched yet. */
class NeedRange {
  constructor(readonly sectors: number[]) {}
}

export interface ReaderPredictionOptions {
  efuse: BootEfuses;
  flashSize: number;
  /** Reads raw flash (ciphertext when encrypted), e.g. with READ_FLASH_SLOW. */
  read(offset: number, length: number): Promise<Uint8Array>;
  signingPublicKey?: Uint8Array;
  /** Called before each batch of reads with the number of bytes about to be read. */
  onRead?: (bytes: number) => void;
  /**
   * Whether raw flash [offset, offset+length) is erased (one SPI_FLASH_MD5), when the reader can
   * tell cheaply: a batch of sectors whose last one is erased is searched for where the erased
   * part starts, and only the part before it is read (an image cut off by an interrupted write
   * would otherwise have its whole partition read at 64 bytes a command).
   */
  erased?: (offset: number, length: number) => Promise<boolean>;
}

/** Contiguous runs of sector numbers, in order. */
function runs(sectors: readonly number[]): number[][] {
  const out: number[][] = [];
  for (const s of [...sectors].sort((a, b) => a - b)) {
    const last = out[out.length - 1];
    if (last && last[last.length - 1] === s - 1) last.push(s);
    else out.push([s]);
  }
  return out;
}

/**
 * Runs the (synchronous, pure) boot prediction over a flash that has to be fetched: the
 * prediction is re-run until every range it asks for has been read, so only what the boot really
 * looks at (digest, bootloader, partition table, the app image) crosses the serial line.
 */
export async function predictBootFromReader(o: ReaderPredictionOptions): Promise<BootVerdict> {
  const cache = new Map<number, Uint8Array>();
  const readFlash = (offset: number, length: number): Uint8Array => {
    const out = new Uint8Array(length);
    const missing: number[] = [];
    for (let s = Math.floor(offset / SECTOR_SIZE); s * SECTOR_SIZE < offset + length; s++) {
      const data = cache.get(s);
      if (!data) {
        missing.push(s);
        continue;
      }
      const from = Math.max(offset, s * SECTOR_SIZE);
      const to = Math.min(offset + length, (s + 1) * SECTOR_SIZE);
      out.set(data.subarray(from - s * SECTOR_SIZE, to - s * SECTOR_SIZE), from - offset);
    }
    if (missing.length) throw new NeedRange(missing);
    return out;
  };
  // Each round fetches at least one new sector, so this ends; the bound is only a safety net.
  for (let round = 0; round < 4096; round++) {
    try {
      return predictBoot({ efuse: o.efuse, flashSize: o.flashSize, readFlash, ...(o.signingPublicKey ? { signingPublicKey: o.signingPublicKey } : {}) });
    } catch (e) {
      if (!(e instanceof NeedRange)) throw e;
      let sectors = e.sectors.filter((s) => s * SECTOR_SIZE < o.flashSize);
      if (o.erased) {
        const toRead: number[] = [];
        for (const run of runs(sectors)) {
          const at = (i: number): number => run[i]! * SECTOR_SIZE;
          const tailErased = async (i: number): Promise<boolean> => o.erased!(at(i), Math.min(o.flashSize, at(run.length - 1) + SECTOR_SIZE) - at(i));
          if (run.length < 2 || !(await tailErased(run.length - 1))) {
            toRead.push(...run);
            continue;
          }
          // The first sector from which the rest of the run is erased.
          let lo = 0;
          let hi = run.length - 1;
          while (lo < hi) {
            const mid = Math.floor((lo + hi) / 2);
            if (await tailErased(mid)) hi = mid;
            else lo = mid + 1;
          }
          for (const s of run.slice(lo)) cache.set(s, new Uint8Array(SECTOR_SIZE).fill(0xff));
          toRead.push(...run.slice(0, lo));
        }
        sectors = toRead;
      }
      o.onRead?.(sectors.length * SECTOR_SIZE);
      for (const s of sectors) cache.set(s, await o.read(s * SECTOR_SIZE, Math.min(SECTOR_SIZE, o.flashSize - s * SECTOR_SIZE)));
      for (const s of e.sectors) if (!cache.has(s)) cache.set(s, new Uint8Array(SECTOR_SIZE).fill(0xff));
    }
  }
  throw new Error('boot prediction kept asking for more flash');
}

export const PLANNED_EFUSE_STATES = ['fresh', 'burned', 'hardened'] as const;
export type PlannedEfuseState = (typeof PLANNED_EFUSE_STATES)[number];

/**
 * A planned eFuse state, for "will it boot?" before anything is burned: `fresh` is a factory
 * board; `burned` is the state `efuse burn-keys` leaves (keys in BLOCK1/BLOCK2, both protected,
 * FLASH_CRYPT_CNT 1, FLASH_CRYPT_CONFIG 0xF, ABS_DONE_0); `hardened` adds --hardening's bits.
 */
export function plannedBootEfuses(state: PlannedEfuseState, keys: KnownKeys, revision = 1): ResolvedEfuses {
  const fresh = state === 'fresh';
  const keyBlock = { empty: fresh, readProtected: !fresh, writeProtected: !fresh };
  const undecidable: string[] = [];
  if (!fresh && !keys.flashKey) undecidable.push('The planned state has a flash-encryption key in BLOCK1: give --flash-key FILE (or a key store holding it).');
  if (!fresh && !keys.secureBootKey) undecidable.push('The planned state has a secure boot key in BLOCK2: give --secure-boot-key FILE or --signing-key PEM (or a key store holding it).');
  const coding = codingForKeyLength(keys.flashKey?.length);
  const threeFour = coding === '3/4';
  const efuse: BootEfuses = {
    revision,
    flashCryptCnt: fresh ? 0 : 1,
    flashCryptConfig: fresh ? 0 : 0xf,
    absDone0: !fresh,
    codingScheme: threeFour ? 1 : 0,
    consoleDebugDisable: false,
    jtagDisable: state === 'hardened',
    disableDlDecrypt: state === 'hardened',
    cryptCntWriteProtected: false,
    flashKey: fresh ? new Uint8Array(keyBytes(coding)) : (keys.flashKey ?? new Uint8Array(keyBytes('none'))),
    secureBootKey: fresh ? new Uint8Array(keyBytes(coding)) : (keys.secureBootKey ?? new Uint8Array(keyBytes('none'))),
    blk1: { ...keyBlock },
    blk2: { ...keyBlock },
  };
  return { efuse, assumptions: [], undecidable };
}
