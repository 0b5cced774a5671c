import type { BootContext, BootPrediction, VirtualFirmware } from '../virtual/boot-model';
import { pycomOtaSlot } from '../ota/ota-slot';
import { bootEfusesFromRaw } from './boot-efuses';
import { normalBootHeader } from './boot-log';
import { simulateFirstBoot } from './first-boot';
import { cpuFlashView, predictBoot } from './predict';

/**
 * Pycom's firmware as far as a host asks it: `pycom.ota_slot()` read from the board's partition
 * table and otadata as the firmware reads them (through flash encryption when it is on, with the
 * key in the board's own BLOCK1), by Pycom's rule (ota/ota-slot.ts).
 */
export const pycomFirmware: VirtualFirmware = {
  otaSlot(board) {
    const view = cpuFlashView({ efuse: bootEfusesFromRaw(board.efuse, board.chipRevision), readFlash: (o, n) => board.flash.read(o, n), flashSize: board.flash.size });
    const r = pycomOtaSlot({ read: view, chipRevision: board.chipRevision });
    if ('slot' in r) return r.slot;
    // Not reachable after a boot that found its app; the wording is a model of a failed flash read.
    return { exception: r.error === 'no-table' ? 'OSError: [Errno 5] EIO (no partition table at 0x8000)' : 'OSError: [Errno 2] ENOENT (no otadata partition in the table)' };
  },
};

const lines = (log: readonly string[]): string => log.map((l) => `${l}\r\n`).join('');

/**
 * The boot model for a virtual ESP32 (a BootPredictor: pass it as `bootPredictor` when creating
 * the VirtualEsp32), so a reset into normal boot prints what a real board would: the lines of
 * predictBoot's verdict (the ROM's and the bootloader's boot messages and checks, ESP-IDF
 * secure-boot-v1 and flash-encryption docs) for the board's physical eFuses and raw
 * flash, each ended with CRLF as the ROM and bootloader print them. Never throws for any flash
 * content. With secure boot on, the partition table's and the app's signatures are checked with
 * the key linked into the bootloader the board boots (image/bootloader-key.ts), as the real
 * bootloader checks them; a bootloader that holds no key does not start the app.
 *
 * A secure bootloader on a board with empty key blocks provisions itself (ESP-IDF's secure_boot.c
 * and flash_encrypt.c; Pycom's bootloader does so without checking any signature first, and even
 * when the app did not load: predictBoot's `firstBoot`), simulated
 * by simulateFirstBoot with keys derived from the device's seed): the returned eFuse words and
 * flash writes burn keys nobody has, read-protected, encrypt the flash in place and, when flash
 * encryption went on, the log goes on with the SW_RESET boot that follows.
 *
 * When the boot reaches the app, the prediction carries `pycomFirmware`: the device then answers
 * MicroPython's raw REPL (`pycom.ota_slot()`) until its next reset.
 */
export function bootPredictorForVirtual(ctx: BootContext): BootPrediction {
  const v = predictBoot({
    efuse: bootEfusesFromRaw(ctx.efuse, ctx.chipRevision),
    readFlash: (o, n) => ctx.flash.read(o, n),
    flashSize: ctx.flash.size,
    requireVerificationKey: true,
  });
  const runs = (boots: boolean): Pick<BootPrediction, 'firmware'> => (boots ? { firmware: pycomFirmware } : {});
  if (!v.firstBoot) return { log: lines(v.log), ...runs(v.boots) };
  let first: ReturnType<typeof simulateFirstBoot>;
  try {
    first = simulateFirstBoot({
      efuse: ctx.efuse,
      chipRevision: ctx.chipRevision,
      readFlash: (o, n) => ctx.flash.read(o, n),
      flashSize: ctx.flash.size,
      generate: v.firstBoot,
      seed: ctx.seed ?? '',
    });
  } catch {
    // Only for content predictBoot accepted and the simulation could not follow: print, change nothing.
    return { log: lines(v.log), ...runs(v.boots) };
  }
  // predictBoot's own "Generating new ..." lines are replaced by the full provisioning sequence.
  const before = v.log.filter((l) => !/Generating new (secure boot|flash encryption) key/.test(l));
  let log = lines([...before, ...first.log]);
  if (first.resets) {
    // The software reset: the ROM boots again, now reading the flash through the new key.
    const written = new Map(first.flashWrites.map((w) => [w.offset, w.data]));
    const readAfter = (o: number, n: number): Uint8Array => {
      const out = new Uint8Array(ctx.flash.read(o, n));
      for (const [at, data] of written) {
        const s = Math.max(o, at);
        const e = Math.min(o + n, at + data.length);
        if (s < e) out.set(data.subarray(s - at, e - at), s - o);
      }
      return out;
    };
    const again = predictBoot({ efuse: bootEfusesFromRaw(first.efuseAfter, ctx.chipRevision), readFlash: readAfter, flashSize: ctx.flash.size, requireVerificationKey: true });
    log += normalBootHeader(ctx.chipRevision, 0x3) + lines(again.log);
    return { log, efuseAfter: first.efuseAfter, flashWrites: first.flashWrites, ...runs(again.boots) };
  }
  // No reset: the app the bootloader loaded before it burned ABS_DONE_0 starts, unchecked for
  // its signature (it is checked from the next boot on), unless the app did not load at all.
  // What Pycom's bootloader prints and does when it then jumps into an app that did not load is
  // UNCONFIRMED: the board is modelled as stopped (nothing started).
  return { log, efuseAfter: first.efuseAfter, flashWrites: first.flashWrites, ...runs(v.firstBoot.appStarts) };
}
