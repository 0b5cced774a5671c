import * as fs from 'node:fs';
import type { ChipInfo } from '../chip/identify';
import type { EfuseRegisterAccess } from '../efuse/access';
import { readEfuses } from '../efuse/access';
import { resolveBootEfuses } from './predict-connected';
import { readSigningKeyFile } from '../keys/key-files';
import type { KeyStore } from '../keystore/key-store';
import { isFullSet, planBootPredictor } from './predict-plan';
import type { BootPredictor } from '../flash/checks';
import type { FlashPlan } from '../flash/plan';
import type { BoardKeys } from '../flash/session';

/**
 * The boot prediction for flashing `plan` onto a connected board, shared by the CLI's `flash`
 * and the editor's Flash command so both refuse the same plans. Read-protected key blocks read
 * as zeros, so the key store's keys stand in for them. Only a full set (digest, table, app) is
 * predicted: for a partial plan the rest of the flash is unknown without reading it all back,
 * and undefined is returned (with the reason) instead of a guess.
 */
export async function boardBootPredictor(
  access: EfuseRegisterAccess,
  info: Pick<ChipInfo, 'revision' | 'flash'>,
  plan: FlashPlan,
  keys: BoardKeys,
  store: KeyStore,
): Promise<{ predictor?: BootPredictor; skipped?: string }> {
  if (!isFullSet(plan)) return { skipped: 'boot prediction needs the full set (digest, partition table, app) in the plan; it was not run.' };
  if (!info.flash.sizeBytes) return { skipped: 'the flash size is unknown, so the boot could not be predicted.' };
  // Readable key blocks are used as read (the chip's key wins); read-protected ones take the store's.
  const { efuse } = resolveBootEfuses((await readEfuses(access)).words, info.revision.major, keys);
  const pub = fs.existsSync(store.signingKeyPath) ? readSigningKeyFile(store.signingKeyPath).publicKey : undefined;
  return { predictor: planBootPredictor({ efuse, flashSize: info.flash.sizeBytes, ...(pub ? { signingPublicKey: pub } : {}) }) };
}
