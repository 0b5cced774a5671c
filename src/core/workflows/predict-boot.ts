import { readEfuses } from '../efuse/access';
import { decodeEfuses, isThreeFour } from '../efuse/decode';
import { predictBootFromReader, resolveBootEfuses, type KnownKeys, type ResolvedEfuses } from '../boot/predict-connected';
import { overlayFlash } from '../boot/predict-plan';
import type { BootVerdict } from '../boot/predict';
import type { FlashPlan } from '../flash/plan';
import { readFlash } from '../loader/flash';
import { UserError } from '../errors';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';

export interface PredictBootRequest {
  /** The keys the prediction may use for read-protected key blocks (files, or the key store by MAC). */
  keys(board: { mac: string; threeFour: boolean }): KnownKeys;
  /** A build to predict the board after (its bytes over what the flash holds now); made once the flash size is known. */
  plan?(board: { flashKey: Uint8Array | undefined; flashSize: number }): FlashPlan;
}

export interface PredictBootOutcome {
  /** The eFuses the prediction used, what it assumed, and what it could not decide (missing keys). */
  resolved: ResolvedEfuses;
  /** Undefined when the answer cannot be decided (see `resolved.undecidable`). */
  verdict?: BootVerdict;
}

/**
 * Will the connected board boot: its eFuses (read-protected key blocks filled in from `keys`, or
 * named as undecidable), its flash read over the ROM loader as the bootloader reads it (digest,
 * bootloader, partition table, the app), optionally with a build's bytes laid over it. Progress on
 * large reads goes to `ui.info` every 256 KiB (READ_FLASH_SLOW moves 64 bytes per command).
 *
 * Errors: E_FLASH_SIZE when the flash chip did not identify itself; link errors.
 */
export async function predictBootOnBoard(board: BoardSession, req: PredictBootRequest, ui: Pick<UiPort, 'info'>): Promise<PredictBootOutcome> {
  const { conn, chip } = board;
  const snap = await readEfuses(conn.loader);
  const words = snap.words;
  const threeFour = isThreeFour(decodeEfuses(snap).codingScheme);
  const keys = req.keys({ mac: chip.mac.address, threeFour });
  const resolved = resolveBootEfuses(words, chip.revision.major, keys);
  const flashSize = chip.flash.sizeBytes;
  if (!flashSize) throw new UserError('E_FLASH_SIZE', 'predict-boot: the flash chip did not identify itself, so the boot cannot be predicted; check the board and its connection.');
  if (resolved.undecidable.length) return { resolved };
  let read = (o: number, n: number): Promise<Uint8Array> => readFlash(conn.loader, o, n);
  if (req.plan) {
    const plan = req.plan({ flashKey: keys.flashKey, flashSize });
    const fromBoard = read;
    read = async (o, n) => {
      const now = await fromBoard(o, n);
      return overlayFlash(plan, () => now)(o, n);
    };
  }
  let fetched = 0;
  const verdict = await predictBootFromReader({
    efuse: resolved.efuse,
    flashSize,
    read,
    ...(keys.signingPublicKey ? { signingPublicKey: keys.signingPublicKey } : {}),
    onRead: (n) => {
      if (Math.floor((fetched + n) / 0x40000) > Math.floor(fetched / 0x40000)) ui.info(`Reading flash for the prediction: ${Math.round((fetched + n) / 1024)} KiB so far...`);
      fetched += n;
    },
  });
  return { resolved, verdict };
}
