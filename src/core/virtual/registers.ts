import { EfuseController } from './efuse-controller';
import { Spi1 } from './spi1';
import { APB_CTL_DATE_REG, APB_HZ, CHIP_MAGIC_ESP32, CHIP_MAGIC_REG, GPIO_STRAP_REG, RTC_CALI_CFG1_REG, RTC_CNTL_SDIO_CONF_REG, UART0_CLKDIV_REG, UART_DATE_REG } from '../chip/esp32';

/**
 * The ESP32 address space as the ROM loader's READ_REG/WRITE_REG see it
 * (esptool's targets/esp32.py and loader.py; ESP-IDF soc/esp32 *_reg.h).
 */

/** APB_CTL_DATE: bit31 = 1 only on rev3 (real values UNCONFIRMED). */
export function apbCtlDate(chipRevision: number): number {
  return chipRevision >= 3 ? 0x80000000 : 0x16042000;
}

/** The RTC calibration value that makes esptool's crystal estimate `cali·15625·ck8m/40` ≈ 40 MHz. */
export function rtcCaliFor(ck8m: number): number {
  if (ck8m === 0) return 0;
  return Math.round((APB_HZ * 40) / (15625 * ck8m)) & 0x1ffffff;
}

/** esptool's estimate of the crystal the ROM measured (esptool targets/esp32.py get_crystal_freq). */
export function romXtalEstimate(cali: number, ck8m: number): number {
  return (cali * 15625 * ck8m) / 40;
}

export interface RegisterSpaceDeps {
  efuse: EfuseController;
  spi1: Spi1;
  chipRevision: number;
  /** GPIO_STRAP value latched at the last chip reset (0x03 download, 0x13 flash boot). */
  strap(): number;
  /** Current UART0 baud rate of the chip. */
  uartBaud(): number;
}

/**
 * Internal SRAM as the CPU addresses it (ESP32 TRM memory map): IRAM (SRAM0/SRAM1 instruction
 * bus), DRAM (SRAM2/SRAM1 data bus), RTC FAST and RTC SLOW memory. Where MEM_DATA puts a stub.
 * The SRAM1 data/instruction aliasing is not modelled (each alias keeps its own words).
 */
const SRAM_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3ffae000, 0x3fffffff], // DRAM
  [0x3ff80000, 0x3ff81fff], // RTC FAST (data bus)
  [0x40070000, 0x400bffff], // IRAM
  [0x400c0000, 0x400c1fff], // RTC FAST (instruction bus)
  [0x50000000, 0x50001fff], // RTC SLOW
];

export function isSram(addr: number): boolean {
  const a = addr >>> 0;
  return SRAM_RANGES.some(([lo, hi]) => a >= lo && a <= hi);
}

/**
 * A word-addressed register/memory map. Internal SRAM behaves as RAM; the registers esptool reads have
 * models. Any other address has no model: the spec says nothing about READ_REG/WRITE_REG there
 * (esptool's docs only say the ROM does a word load/store; on silicon such an access may hit a peripheral
 * with side effects, read garbage or raise a bus exception), so the conservative choice is to
 * invent no state: reads return 0, writes are dropped, and the address is recorded in
 * `unmodelled` so a test can tell that a tool relied on something the model does not know.
 * (Formerly such addresses behaved like RAM, which let a write-then-read-back "succeed".)
 * Flash-mapped cache windows (0x3F400000…, 0x400D0000…) are among them, so a READ_REG can
 * never return decrypted flash, whatever DISABLE_DL_DECRYPT / DISABLE_DL_CACHE say.
 */
export class RegisterSpace {
  /** Internal SRAM words written by WRITE_REG or MEM_DATA. */
  private readonly memory = new Map<number, number>();
  /** Addresses accessed since the last reset that have no model (read 0, writes dropped). */
  readonly unmodelled = new Set<number>();
  private sdioConf = 0;

  constructor(private readonly d: RegisterSpaceDeps) {}

  reset(): void {
    this.memory.clear();
    this.unmodelled.clear();
    this.sdioConf = 0;
  }

  read(addr: number): number {
    const a = addr >>> 0;
    if (EfuseController.owns(a)) return this.d.efuse.readReg(a);
    if (Spi1.owns(a)) return this.d.spi1.read(a);
    switch (a) {
      case CHIP_MAGIC_REG:
        return CHIP_MAGIC_ESP32;
      case APB_CTL_DATE_REG:
        return apbCtlDate(this.d.chipRevision);
      case UART0_CLKDIV_REG:
        return Math.round(APB_HZ / this.d.uartBaud()) & 0xfffff;
      case RTC_CALI_CFG1_REG: {
        const ck8m = this.d.efuse.rawField('CLK8M_FREQ');
        return (rtcCaliFor(Number(ck8m)) << 7) >>> 0;
      }
      case GPIO_STRAP_REG:
        return this.d.strap();
      case RTC_CNTL_SDIO_CONF_REG:
        return this.sdioConf;
      default:
        if (isSram(a)) return this.memory.get(a) ?? 0;
        // No model (UNCONFIRMED what silicon does): read 0, see the class comment.
        this.unmodelled.add(a);
        return 0;
    }
  }

  write(addr: number, value: number): void {
    const a = addr >>> 0;
    const v = value >>> 0;
    if (EfuseController.owns(a)) return this.d.efuse.writeReg(a, v);
    if (Spi1.owns(a)) return this.d.spi1.write(a, v);
    switch (a) {
      case CHIP_MAGIC_REG:
      case APB_CTL_DATE_REG:
      case UART0_CLKDIV_REG:
      case RTC_CALI_CFG1_REG:
      case GPIO_STRAP_REG:
      case UART_DATE_REG:
        return; // ROM / read-only or harmless (esptool's delay target)
      case RTC_CNTL_SDIO_CONF_REG:
        this.sdioConf = v;
        return;
      default:
        if (isSram(a)) this.memory.set(a, v);
        else this.unmodelled.add(a); // no model: dropped (UNCONFIRMED, conservative)
    }
  }

  /** MEM_DATA: bytes into RAM (kept as little-endian words); bytes outside SRAM are dropped. */
  writeBytes(addr: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) {
      const a = (addr + i) >>> 0;
      const wa = (a & ~3) >>> 0;
      if (!isSram(wa)) {
        this.unmodelled.add(wa);
        continue;
      }
      const shift = (a & 3) * 8;
      const old = this.memory.get(wa) ?? 0;
      this.memory.set(wa, ((old & ~(0xff << shift)) | (data[i]! << shift)) >>> 0);
    }
  }
}
