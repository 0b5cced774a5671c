import type { ChipInfo } from '../chip/identify';
import type { EfuseRegisterAccess } from '../efuse/access';
import { readEfuses } from '../efuse/access';
import type { BootPredictor } from '../flash/checks';
import type { FlashPlan } from '../flash/plan';
import type { BoardKeys } from '../flash/session';
import { storeSigningPublicKey } from '../keystore/secure-boot-key-source';
import type { KeyStore } from '../keystore/key-store';
import type { BootEfuses } from './boot-efuses';
import { predictBoot } from './predict';
import { resolveBootEfuses } from './predict-connected';

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
 * as zeros, so the key store's keys stand in for them. Only a full set (digest, table, app) is
 * predicted: for a partial plan the rest of the flash is unknown without reading it all back,
 * and undefined is returned (with the reason) instead of a guess. Rejects with the eFuse read's
 * link errors, and with the key reader's UserError when the store's signing key (PEM file or token) is unreadable.
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
  const pub = storeSigningPublicKey(store)?.publicKey;
  return { predictor: planBootPredictor({ efuse, flashSize: info.flash.sizeBytes, ...(pub ? { signingPublicKey: pub } : {}) }) };
}
