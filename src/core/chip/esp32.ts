/**
 * THE ESP32 chip facts: register addresses (one name each, ESP-IDF's `*_REG` spelling, used by
 * the host code and the virtual ESP32 alike), the flash map of secure boot v1, and the key-length
 * rule of the eFuse coding schemes. Sources: ESP32 Technical Reference Manual (register map,
 * eFuse chapter), ESP-IDF soc/*_reg.h, esptool's targets/esp32.py and loader.py,
 * ESP-IDF esp_flash_partitions.h.
 */

// ---- Registers, absolute addresses as READ_REG / WRITE_REG take them ----

/** Word the ROM keeps at this address; esptool's CHIP_DETECT_MAGIC_REG_ADDR. */
export const CHIP_MAGIC_REG = 0x40001000;
/** Value of CHIP_MAGIC_REG on every ESP32 (esptool's ESP32 CHIP_DETECT_MAGIC_VALUE). */
export const CHIP_MAGIC_ESP32 = 0x00f01d83;
/** APB_CTL_DATE: bit 31 is set only on revision 3 silicon (esptool's get_chip_revision). */
export const APB_CTL_DATE_REG = 0x3ff6607c;
/** UART0_CLKDIV: bits 19:0 = APB clock / baud rate. */
export const UART0_CLKDIV_REG = 0x3ff40014;
/** UART_DATE of UART0 (read by esptool's stub detection). */
export const UART_DATE_REG = 0x60000078;
/** RTC_CNTL calibration result (TIMG0 RTC_CALI value in bits 31:7, as esptool reads it). */
export const RTC_CALI_CFG1_REG = 0x3ff5f06c;
/** GPIO_STRAP: the boot strapping pins latched at reset (0x03 download mode, 0x13 flash boot). */
export const GPIO_STRAP_REG = 0x3ff44038;
/** RTC_CNTL_SDIO_CONF: the flash voltage (VDD_SDIO) regulator. */
export const RTC_CNTL_SDIO_CONF_REG = 0x3ff48074;
/** DR_REG_EFUSE_BASE: the eFuse controller (its register map is in efuse/registers.ts). */
export const EFUSE_BASE = 0x3ff5a000;
/** EFUSE_BLK0_RDATA4: CLK8M_FREQ lives in bits 7:0. */
export const EFUSE_BLK0_RDATA4_REG = EFUSE_BASE + 0x010;
/** DR_REG_SPI1_BASE: the SPI1 flash controller ("user command" engine, esptool loader.py run_spiflash_command). */
export const SPI1_BASE = 0x3ff42000;
/** SPI1 register offsets from SPI1_BASE (ESP-IDF soc/spi_reg.h). */
export const SPI1 = { CMD: 0x00, ADDR: 0x04, USER: 0x1c, USER1: 0x20, USER2: 0x24, MOSI_DLEN: 0x28, MISO_DLEN: 0x2c, W0: 0x80, LAST: 0xbc } as const;
/** SPI_CMD.SPI_USR: starts the user command, clears when done. */
export const SPI_CMD_USR = 1 << 18;
/** SPI_USER bits. */
export const SPI_USER_COMMAND = 1 << 31;
export const SPI_USER_ADDR = 1 << 30;
export const SPI_USER_MISO = 1 << 28;
export const SPI_USER_MOSI = 1 << 27;
/** APB clock in download mode: the 40 MHz crystal of every Pycom module. */
export const APB_HZ = 40_000_000;

// ---- Flash map of secure boot v1 (reflashable) with flash encryption ----

/** Reflashable secure boot: the digest block (IV, digest, padding) then the bootloader, written at 0x0. */
export const DIGEST_ADDRESS = 0x0;
/** Where the ROM loads the second-stage bootloader from (plaintext on an insecure chip). */
export const BOOTLOADER_ADDRESS = 0x1000;
/** Longest bootloader that fits before the partition table (0x1000-0x8000). */
export const BOOTLOADER_MAX_LEN = 0x7000;
/** The partition table (ESP-IDF CONFIG_PARTITION_TABLE_OFFSET default). */
export const PARTITION_TABLE_ADDRESS = 0x8000;
/** The factory app, the first app partition of every Pycom layout. */
export const FACTORY_ADDRESS = 0x10000;
/** SPI flash erase sector, bytes. */
export const SECTOR_SIZE = 0x1000;
/** SPI flash program page, bytes. */
export const PAGE_SIZE = 0x100;

/**
 * Address windows the CPU reaches through the flash cache (ESP32 Technical Reference Manual,
 * system address map: external memory DROM0 0x3F400000-0x3F7FFFFF on the data bus, IROM0
 * 0x400C2000-0x40BFFFFF on the instruction bus), as [start, end) pairs. An app maps segments
 * there; a second-stage bootloader is loaded by the ROM into internal RAM only, so an image with
 * no segment in these windows is read as a bootloader. Used only to name a file's kind.
 */
export const FLASH_MAPPED_WINDOWS: readonly (readonly [number, number])[] = [
  [0x3f400000, 0x3f800000],
  [0x400c2000, 0x40c00000],
];

// ---- eFuse key blocks ----

/** espefuse's CODING_SCHEME values this product handles. */
export type CodingScheme = 'none' | '3/4';

/**
 * Key length in bytes for a key block (BLOCK1 flash encryption, BLOCK2 secure boot) under the
 * coding scheme: 3/4 coding stores 24 bytes (192-bit keys), no coding 32 bytes (256-bit keys).
 * Source: ESP32 TRM eFuse chapter, espefuse burn_key ("192-bit key" with 3/4 coding).
 */
export function keyBytes(coding: CodingScheme): 24 | 32 {
  return coding === '3/4' ? 24 : 32;
}

/** The same rule in bits (192 or 256), as espsecure's digest_private_key takes it. */
export function keyBits(coding: CodingScheme): 192 | 256 {
  return keyBytes(coding) === 24 ? 192 : 256;
}

/** The coding scheme a key of this many bytes is for (24 → '3/4', anything else → 'none'). */
export function codingForKeyLength(length: number | undefined): CodingScheme {
  return length === 24 ? '3/4' : 'none';
}
