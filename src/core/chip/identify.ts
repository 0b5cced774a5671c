import type { Connection } from '../connect/connect';
import { INITIAL_BAUD } from '../connect/connect';
import { readEfuses } from '../efuse/access';
import { decodeEfuses, majorRevision } from '../efuse/decode';
import { factoryMacBytes, field, formatMac, macCrc8, readFieldNumber } from '../efuse/fields';
import type { EfuseWords } from '../efuse/fields';
import { APB_CTL_DATE_REG, CHIP_MAGIC_ESP32 } from './esp32';
import { readFlashId, formatSize, type FlashId } from './flash-id';
import { securityFromEfuses, type SecurityState } from './security';

export interface ChipInfo {
  chip: 'ESP32';
  magic: number;
  /** e.g. "ESP32-D0WDQ6 (revision v1.0)". */
  description: string;
  packageName: string;
  packageVersion: number;
  revision: { major: number; minor: number; text: string };
  features: string[];
  crystalMhz: 26 | 40 | 48;
  mac: { address: string; crc: number; crcCalculated: number; crcOk: boolean };
  flash: FlashId & { sizeText: string };
  security: SecurityState;
  /** The baud rate the link runs at. */
  baud: number;
  port: string;
}

/** Package names by PKG_VERSION (esptool targets/esp32.py); rev3 silicon renames some. */
function packageName(pkg: number, singleCore: boolean, rev3: boolean): string {
  switch (pkg) {
    case 0: return singleCore ? 'ESP32-S0WDQ6' : rev3 ? 'ESP32-D0WDQ6-V3' : 'ESP32-D0WDQ6';
    case 1: return singleCore ? 'ESP32-S0WD' : rev3 ? 'ESP32-D0WD-V3' : 'ESP32-D0WD';
    case 2: return 'ESP32-D2WD';
    case 4: return 'ESP32-U4WDH';
    case 5: return rev3 ? 'ESP32-PICO-V3' : 'ESP32-PICO-D4';
    case 6: return 'ESP32-PICO-V3-02';
    case 7: return 'ESP32-D0WDR2-V3';
    default: return 'unknown ESP32';
  }
}

export { majorRevision };

function features(words: EfuseWords, pkg: number): string[] {
  const n = (name: string): number => readFieldNumber(words, field(name));
  const out = ['WiFi'];
  if (!n('DISABLE_BT')) out.push('BT');
  out.push(n('DISABLE_APP_CPU') ? 'Single Core' : 'Dual Core');
  if (n('CHIP_CPU_FREQ_RATED')) out.push(n('CHIP_CPU_FREQ_LOW') ? '160MHz' : '240MHz');
  if ([2, 4, 5, 6].includes(pkg)) out.push('Embedded Flash');
  if (pkg === 6) out.push('Embedded PSRAM');
  if (n('ADC_VREF')) out.push('VRef calibration in efuse');
  if (n('BLK3_PART_RESERVE')) out.push('BLK3 partially reserved');
  const coding = ['None', '3/4', 'Repeat (UNSUPPORTED)', 'None (may contain encoding data)'][n('CODING_SCHEME')]!;
  out.push(`Coding Scheme ${coding}`);
  return out;
}

/** Crystal from the UART divider the ROM set up at a known baud (esptool targets/esp32.py get_crystal_freq). */
export function crystalFromClkDiv(div: number, baud = INITIAL_BAUD): 26 | 40 | 48 {
  const est = (baud * div) / 1e6;
  return est > 45 ? 48 : est > 33 ? 40 : 26;
}

/** Everything `device info` shows: identity, flash, security state. Read-only on the chip. */
export async function identify(conn: Connection): Promise<ChipInfo> {
  const { loader } = conn;
  const snap = await readEfuses(loader);
  const words = snap.words;
  const dec = decodeEfuses(snap);
  const apb = await loader.readReg(APB_CTL_DATE_REG);
  const major = majorRevision(words, apb);
  const minor = readFieldNumber(words, field('WAFER_VERSION_MINOR'));
  const pkg = (readFieldNumber(words, field('CHIP_PACKAGE_4BIT')) << 3) | readFieldNumber(words, field('CHIP_PACKAGE'));
  const pkgName = packageName(pkg, readFieldNumber(words, field('DISABLE_APP_CPU')) === 1, major === 3);
  const rev = `v${major}.${minor}`;
  const mac = factoryMacBytes(words);
  const crc = readFieldNumber(words, field('MAC_CRC'));
  const crcCalculated = macCrc8(mac);
  await loader.spiAttach(spiPadConfig(words));
  const flash = await readFlashId(loader);
  return {
    chip: 'ESP32',
    magic: CHIP_MAGIC_ESP32,
    description: `${pkgName} (revision ${rev})`,
    packageName: pkgName,
    packageVersion: pkg,
    revision: { major, minor, text: rev },
    features: features(words, pkg),
    crystalMhz: crystalFromClkDiv(conn.uartClkDivAtInitialBaud),
    mac: { address: formatMac(mac), crc, crcCalculated, crcOk: crc === crcCalculated },
    flash: { ...flash, sizeText: formatSize(flash.sizeBytes) },
    security: securityFromEfuses(dec),
    baud: conn.baud,
    port: conn.transport.url,
  };
}

/** SPI_ATTACH argument: the pins burned in eFuse if any, else 0 = default pins (esptool loader.py flash_spi_attach). */
export function spiPadConfig(words: EfuseWords): number {
  const n = (name: string): number => readFieldNumber(words, field(name));
  const clk = n('SPI_PAD_CONFIG_CLK');
  const q = n('SPI_PAD_CONFIG_Q');
  const d = n('SPI_PAD_CONFIG_D');
  const cs = n('SPI_PAD_CONFIG_CS0');
  const hd = n('SPI_PAD_CONFIG_HD');
  if ((clk | q | d | cs | hd) === 0) return 0;
  return ((hd << 24) | (cs << 18) | (d << 12) | (q << 6) | clk) >>> 0;
}
