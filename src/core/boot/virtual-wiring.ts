import { setBootPredictor, type BootContext, type BootPrediction } from '../virtual/boot-log';
import { bootEfusesFromRaw } from './boot-efuses';
import { predictBoot } from './predict';

/**
 * Plugs the boot model into the virtual ESP32, so a reset into normal boot prints what a real
 * board would. The first-boot bootloader's own eFuse burns are not simulated (no efuseAfter):
 * the prediction reports them instead.
 */
export function bootPredictorForVirtual(ctx: BootContext): BootPrediction {
  const v = predictBoot({
    efuse: bootEfusesFromRaw(ctx.efuse, ctx.chipRevision),
    readFlash: (o, n) => ctx.flash.read(o, n),
    flashSize: ctx.flash.size,
  });
  return { log: v.log.map((l) => `${l}\r\n`).join('') };
}

export function installVirtualBootPredictor(): void {
  setBootPredictor(bootPredictorForVirtual);
}
