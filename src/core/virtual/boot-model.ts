import type { EfuseWords } from '../efuse/fields';
import type { SpiFlash } from './spi-flash';

/**
 * The boot model's interface as the virtual ESP32 sees it: what a board prints (and burns and
 * writes) when it resets into normal boot. The device only calls it; the model itself (the ROM and
 * bootloader decision procedure) lives in src/core/boot (bootPredictorForVirtual satisfies
 * BootPredictor), and is handed to each device when it is created, so this folder never imports it.
 */
/** What a boot predictor is given: read-only views of the board. */
export interface BootContext {
  chipRevision: number;
  /** Reset reason code (0x1 POWERON_RESET…). */
  resetReason: number;
  /** Physical eFuse bits (the boot ROM and bootloader use them regardless of read protection). */
  efuse: EfuseWords;
  flash: SpiFlash;
  /** The header text the ROM prints before loading from flash (banner + rst line). */
  romHeader: string;
  /** The device's seed (VirtualEsp32Options.seed): what a model's "random" choices derive from, so rehearsals repeat. */
  seed?: string;
}

export interface BootPrediction {
  /** Text printed after the ROM header (no trailing requirement). */
  log: string;
  /** eFuse bits the first-boot bootloader burned, if it does (applied by the device). */
  efuseAfter?: EfuseWords;
  /** Flash writes the bootloader performed (e.g. in-place encryption), applied in order. */
  flashWrites?: Array<{ offset: number; data: Uint8Array; erase?: boolean }>;
  /**
   * Present when the boot reaches the app: the firmware that then runs (its MicroPython console
   * answers on the UART). Absent when the boot stops (no bootloader, no app, a reset loop): the
   * board then stays silent to anything the host sends.
   */
  firmware?: VirtualFirmware;
}

/** A live, read-only view of the board for the running firmware (physical eFuses, raw flash). */
export interface FirmwareBoard {
  chipRevision: number;
  efuse: EfuseWords;
  flash: SpiFlash;
}

/**
 * What the firmware's MicroPython answers, computed from the board as it is when asked (so it may
 * keep nothing of it): `pycom.ota_slot()` gives the address, or the exception line it raises.
 */
export interface VirtualFirmware {
  otaSlot(board: FirmwareBoard): number | { exception: string };
}

/**
 * The normal-boot model a virtual ESP32 is created with (VirtualEsp32Options.bootPredictor):
 * given the board as it is at the reset, what it prints after the ROM header. Called
 * synchronously once per reset into normal boot; it must not keep `ctx` (the views are live).
 */
export type BootPredictor = (ctx: BootContext) => BootPrediction;
