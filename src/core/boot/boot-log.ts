import type { EfuseWords } from '../efuse/fields';
import type { SpiFlash } from '../virtual/spi-flash';

/**
 * What the ROM prints on UART0 after a reset (esp32-rom-protocol.md §1, esp32-boot-security.md §6).
 * The download-mode text is fixed; the normal-boot text depends on eFuses and flash content and
 * is supplied by the boot predictor (the eFuse/boot model, virtual-board.ts) the device was created with.
 */
export const ROM_BANNER_REV01 = 'ets Jun  8 2016 00:22:57';
export const ROM_BANNER_REV3 = 'ets Jul 29 2019 12:21:46';

export const RESET_REASONS: Readonly<Record<number, string>> = {
  0x1: 'POWERON_RESET',
  0x3: 'SW_RESET',
  0x4: 'OWDT_RESET',
  0x5: 'DEEPSLEEP_RESET',
  0x6: 'SDIO_RESET',
  0x7: 'TG0WDT_SYS_RESET',
  0x8: 'TG1WDT_SYS_RESET',
  0x9: 'RTCWDT_SYS_RESET',
  0xa: 'INTRUSION_RESET',
  0xb: 'TGWDT_CPU_RESET',
  0xc: 'SW_CPU_RESET',
  0xd: 'RTCWDT_CPU_RESET',
  0xe: 'EXT_CPU_RESET',
  0xf: 'RTCWDT_BROWN_OUT_RESET',
  0x10: 'RTCWDT_RTC_RESET',
};

export const BOOT_DOWNLOAD = 0x3;
export const BOOT_FLASH = 0x13;
const BOOT_MODE_TEXT: Readonly<Record<number, string>> = {
  [BOOT_DOWNLOAD]: 'DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2)',
  [BOOT_FLASH]: 'SPI_FAST_FLASH_BOOT',
};

export function romBanner(chipRevision: number): string {
  return chipRevision >= 3 ? ROM_BANNER_REV3 : ROM_BANNER_REV01;
}

/** `rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))`. */
export function resetLine(reason: number, strap: number): string {
  const r = RESET_REASONS[reason] ?? 'NO_MEAN';
  const m = BOOT_MODE_TEXT[strap] ?? 'SPI_FLASH_BOOT';
  return `rst:0x${reason.toString(16)} (${r}),boot:0x${strap.toString(16)} (${m})`;
}

/** ROM output on entering download mode (lines end with CRLF as the ROM prints them). */
export function downloadBootLog(chipRevision: number, reason = 0x1): string {
  return `${romBanner(chipRevision)}\r\n\r\n${resetLine(reason, BOOT_DOWNLOAD)}\r\nwaiting for download\r\n`;
}

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
}

export interface BootPrediction {
  /** Text printed after the ROM header (no trailing requirement). */
  log: string;
  /** eFuse bits the first-boot bootloader burned, if it does (applied by the device). */
  efuseAfter?: EfuseWords;
  /** Flash writes the bootloader performed (e.g. in-place encryption), applied in order. */
  flashWrites?: Array<{ offset: number; data: Uint8Array; erase?: boolean }>;
}

/**
 * The normal-boot model a virtual ESP32 is created with (VirtualEsp32Options.bootPredictor):
 * given the board as it is at the reset, what it prints after the ROM header. Called
 * synchronously once per reset into normal boot; it must not keep `ctx` (the views are live).
 */
export type BootPredictor = (ctx: BootContext) => BootPrediction;

/** Normal (flash) boot header; without a predictor that is all the device prints. */
export function normalBootHeader(chipRevision: number, reason = 0x1): string {
  return `${romBanner(chipRevision)}\r\n\r\n${resetLine(reason, BOOT_FLASH)}\r\n`;
}
