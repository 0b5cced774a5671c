import type { BootEfuses } from './boot-efuses';
import { predictBoot } from './predict';
import type { BootPredictor } from '../flash/checks';
import type { FlashPlan } from '../flash/plan';

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

export function planBootPredictor(o: PlanBootOptions): BootPredictor {
  return (plan) => {
    const v = predictBoot({
      efuse: o.efuse,
      readFlash: overlayFlash(plan, o.base),
      flashSize: o.flashSize,
      ...(o.signingPublicKey ? { signingPublicKey: o.signingPublicKey } : {}),
    });
    return { boots: v.boots, reason: v.reason };
  };
}

/** Whether the plan holds everything the boot reads (so erased flash elsewhere is a fair assumption). */
export function isFullSet(plan: FlashPlan): boolean {
  const roles = new Set(plan.regions.map((r) => r.role));
  return roles.has('bootloader-digest') && roles.has('partition-table') && roles.has('app');
}
