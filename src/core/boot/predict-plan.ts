import type { ChipInfo } from '../chip/identify';
import type { EfuseRegisterAccess } from '../efuse/access';
import { readEfuses } from '../efuse/access';
import type { BootPredictor } from '../flash/checks';
import type { FlashPlan } from '../flash/plan';
import type { BoardKeys } from '../flash/session';
import { storeSigningPublicKey } from '../keystore/secure-boot-key-source';
import type { KeyStore } from '../keystore/key-store';
import type { BootEfuses } from './boot-efuses';
import { predictBoot, type BootVerdict } from './predict';
import { predictBootFromReader, resolveBootEfuses } from './predict-connected';
import { createHash } from 'node:crypto';
import type { FlashIo } from '../flash/writer';
import { SECTOR_SIZE } from '../chip/esp32';

/**
 * Adapts D's boot prediction to a flash plan: the flash as it will be after the plan (the plan's
 * bytes over `base`, the current contents when known, else erased flash) is what the ROM and the
 * bootloader are predicted to read.
 */
export interface PlanBootOptions {
  efuse: BootEfuses;
  flashSize: number;
  /** Current raw flash contents (sync), e.g. the virtual device's flash; default erased. */
  base?: (offset: number, length: number) => Uint8Array;
  signingPublicKey?: Uint8Array;
}

/**
 * The flash as it will read after writing `plan`: a synchronous reader (offset and length in
 * bytes, any range) giving the plan's bytes where its regions are and `base`'s (or erased 0xFF)
 * elsewhere. Raw bytes, as the plan holds them (ciphertext for an encrypted plan).
 */
export function overlayFlash(plan: FlashPlan, base: ((o: number, n: number) => Uint8Array) | undefined): (o: number, n: number) => Uint8Array {
  return (offset, length) => {
    const out = base ? new Uint8Array(base(offset, length)) : new Uint8Array(length).fill(0xff);
    for (const r of plan.regions) {
      const s = Math.max(offset, r.address);
      const e = Math.min(offset + length, r.address + r.data.length);
      if (s < e) out.set(r.data.subarray(s - r.address, e - r.address), s - offset);
    }
    return out;
  };
}

/**
 * A flash check's boot predictor (flash/checks.ts) that runs predictBoot on the flash after the
 * plan; a first-boot self-provisioning outcome counts as not booting (the plan must be refused).
 */
export function planBootPredictor(o: PlanBootOptions): BootPredictor {
  return (plan) => {
    const v = predictBoot({
      efuse: o.efuse,
      readFlash: overlayFlash(plan, o.base),
      flashSize: o.flashSize,
      ...(o.signingPublicKey ? { signingPublicKey: o.signingPublicKey } : {}),
    });
    // A bootloader that generates its own keys boots, but leaves a board nobody can update: for a
    // flash plan that is a refusal, as predict-boot's "WOULD BOOT, BUT MUST NOT" says.
    return { boots: v.boots && v.outcome !== 'first-boot-provisioning', reason: v.reason };
  };
}

/** Whether the plan holds everything the boot reads (so erased flash elsewhere is a fair assumption). */
export function isFullSet(plan: FlashPlan): boolean {
  const roles = new Set(plan.regions.map((r) => r.role));
  return roles.has('bootloader-digest') && roles.has('partition-table') && roles.has('app');
}

/**
 * The boot prediction for flashing `plan` onto a connected board, shared by the CLI's `flash`
 * and the editor's Flash command so both refuse the same plans. Read-protected key blocks read
 * as zeros, so the key store's keys stand in for them. A full set (digest, table, app) is
 * predicted over erased flash elsewhere. A partial plan (`flash ADDR FILE`) is predicted over the
 * board's current flash with the plan's regions laid over it, read through `board` (raw bytes,
 * only the sectors the boot reads that the plan does not cover wholly; `note` gets a progress line
 * every 256 KiB): refused when the board boots now and would not after the write; when it does
 * not boot now either, not refused for it, and said through `note` ("note: ..."), as is a skip
 * because reading the board failed; `stillFails()` then gives that sentence (the boot was not
 * predicted to work).
 * Skipped (undefined predictor, `skipped` saying why) when the flash size is unknown, when the
 * board's flash cannot be decrypted (flash encryption on and its key unknown), or when reading it
 * fails. Rejects with the eFuse read's link errors, and with the key reader's UserError when the
 * store's signing key (PEM file or token) is unreadable.
 */
export async function boardBootPredictor(
  access: EfuseRegisterAccess,
  info: Pick<ChipInfo, 'revision' | 'flash'>,
  plan: FlashPlan,
  keys: BoardKeys,
  store: KeyStore,
  board?: { flash: Pick<FlashIo, 'read' | 'md5'>; note?: (line: string) => void },
): Promise<{ predictor?: BootPredictor; skipped?: string; stillFails?: () => string | undefined }> {
  if (!info.flash.sizeBytes) return { skipped: 'the flash size is unknown, so the boot could not be predicted.' };
  const flashSize = info.flash.sizeBytes;
  // Readable key blocks are used as read (the chip's key wins); read-protected ones take the store's.
  const resolved = resolveBootEfuses((await readEfuses(access)).words, info.revision.major, keys);
  const pub = storeSigningPublicKey(store)?.publicKey;
  if (isFullSet(plan)) return { predictor: planBootPredictor({ efuse: resolved.efuse, flashSize, ...(pub ? { signingPublicKey: pub } : {}) }) };
  if (!board) return { skipped: 'the board\'s current flash cannot be read here, so the boot after this partial write was not predicted.' };
  if (resolved.undecidable.length) return { skipped: `the boot after this partial write was not predicted: ${resolved.undecidable.join(' ')}` };
  // The ROM loader reads flash 64 bytes a request (READ_FLASH_SLOW; esp32-rom-protocol): the app
  // the boot would read back (1-2 MB) takes tens of seconds at 921600 baud and minutes at 115200,
  // more than most writes. Without an app in the plan the prediction is skipped, said as such;
  // with one, what is left to read is the digest, bootloader, table and otadata (about 48 KiB).
  if (!plan.regions.some((r) => r.role === 'app')) return { skipped: 'the boot after this partial write was not predicted: it would read the app back from the board 64 bytes a request (the ROM loader\'s READ_FLASH_SLOW), which takes longer than the write; check the board afterwards with the boot prediction.' };
  const sectors = new Map<number, Uint8Array>();
  let fetched = 0;
  // The board's raw flash, a sector at a time and each sector once (the prediction before and after the write share it).
  const boardRead = async (o: number, n: number): Promise<Uint8Array> => {
    const out = new Uint8Array(n);
    for (let s = o - (o % SECTOR_SIZE); s < o + n; s += SECTOR_SIZE) {
      let data = sectors.get(s);
      if (!data) {
        data = await board.flash.read(s, Math.min(SECTOR_SIZE, flashSize - s));
        sectors.set(s, data);
        if (Math.floor((fetched + data.length) / 0x40000) > Math.floor(fetched / 0x40000)) board.note?.(`Reading flash for the boot prediction: ${Math.round((fetched + data.length) / 1024)} KiB so far...`);
        fetched += data.length;
      }
      const from = Math.max(o, s);
      const to = Math.min(o + n, s + data.length);
      if (from < to) out.set(data.subarray(from - s, to - s), from - o);
    }
    return out;
  };
  const ERASED_SECTOR_MD5 = createHash('md5').update(new Uint8Array(SECTOR_SIZE).fill(0xff)).digest('hex');
  const predict = (over: FlashPlan | undefined): Promise<BootVerdict> => predictBootFromReader({
    efuse: resolved.efuse,
    flashSize,
    read: async (o, n) => {
      // A sector the plan covers wholly is not read from the board.
      const covered = over?.regions.some((g) => g.address <= o && o + n <= g.address + g.data.length);
      const base = covered ? new Uint8Array(n).fill(0xff) : await boardRead(o, n);
      return over ? overlayFlash(over, () => base)(o, n) : base;
    },
    erased: async (o, n) => !over?.regions.some((g) => g.address < o + n && o < g.address + g.data.length)
      && (await board.flash.md5(o, n)) === (n === SECTOR_SIZE ? ERASED_SECTOR_MD5 : createHash('md5').update(new Uint8Array(n).fill(0xff)).digest('hex')),
    ...(pub ? { signingPublicKey: pub } : {}),
  });
  let still: string | undefined;
  const predictor: BootPredictor = async (p) => {
    still = undefined;
    let after: BootVerdict;
    let before: BootVerdict | undefined;
    // A first-boot self-provisioning outcome counts as not booting, as for a full set.
    const fails = (v: BootVerdict): boolean => !v.boots || v.outcome === 'first-boot-provisioning';
    try {
      after = await predict(p);
      if (fails(after)) before = await predict(undefined);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      still = `The boot after this partial write was not predicted: the board's current flash could not be read (${why.replace(/\.$/, '')}).`;
      board.note?.(`note: ${still}`);
      return { boots: true };
    }
    if (!fails(after)) return { boots: true };
    if (before && fails(before)) {
      // The write does not stop a boot that works now: it is not refused for it, but said.
      still = `The board does not boot now and will not after this write either: ${after.reason.replace(/\.$/, '')}.`;
      board.note?.(`note: ${still}`);
      return { boots: true };
    }
    return { boots: false, reason: after.reason };
  };
  return { predictor, stillFails: () => still };
}
