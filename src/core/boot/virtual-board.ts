import type { BootContext, BootPrediction } from '../virtual/boot-model';
import { bootEfusesFromRaw } from './boot-efuses';
import { predictBoot } from './predict';

/**
 * The boot model for a virtual ESP32 (a BootPredictor: pass it as `bootPredictor` when creating
 * the VirtualEsp32), so a reset into normal boot prints what a real board would: the lines of
 * predictBoot's verdict (esp32-boot-security.md §6, §7) for the board's physical eFuses and raw
 * flash, each ended with CRLF as the ROM and bootloader print them. Reads only; never throws for
 * any flash content. The first-boot bootloader's own eFuse burns are not simulated (no
 * efuseAfter): the prediction reports them instead.
 */
export function bootPredictorForVirtual(ctx: BootContext): BootPrediction {
  const v = predictBoot({
    efuse: bootEfusesFromRaw(ctx.efuse, ctx.chipRevision),
    readFlash: (o, n) => ctx.flash.read(o, n),
    flashSize: ctx.flash.size,
  });
  return { log: v.log.map((l) => `${l}\r\n`).join('') };
}
