import { createHash } from 'node:crypto';
import { UserError } from '../errors';
import { emptyWords, field, macBytesToValue, macCrc8, withField, type EfuseWords } from '../efuse/fields';
import { findModule, moduleIds, type PycomModule } from '../boards/catalog';
import type { CodingScheme } from '../chip/esp32';

/**
 * Factory-fresh eFuse images for the Pycom modules: a valid factory MAC (Espressif OUI,
 * deterministic per seed) with its CRC, chip revision and package bits, CLK8M_FREQ for the
 * baud-rate workaround, everything security-related blank.
 */
/** The coding scheme a virtual board's eFuses use (chip/esp32 CodingScheme). */
export type CodingSchemeOption = CodingScheme;

export interface BoardProfile {
  module: PycomModule;
  seed: string;
  codingScheme: CodingSchemeOption;
  efuse: EfuseWords;
  mac: Buffer;
}

/** Espressif OUIs seen on ESP32 modules (Pycom modules carry Espressif-assigned MACs). */
const OUIS: readonly number[][] = [
  [0x24, 0x0a, 0xc4],
  [0x30, 0xae, 0xa4],
];

/** 8 MHz oscillator calibration value; with cali 1600 the ROM's crystal estimate is exactly 40 MHz (esptool targets/esp32.py get_crystal_freq). */
export const FACTORY_CLK8M_FREQ = 0x40;

/** The catalog's module for a profile id (case-insensitive); throws UserError E_PROFILE listing the profiles. */
export function resolveModule(id: string): PycomModule {
  const m = findModule(id);
  if (!m) throw new UserError('E_PROFILE', `Unknown board profile ${id}; choose one of ${moduleIds().join(', ')}.`);
  return m;
}

/**
 * The factory-fresh eFuse image of a module (profile id as in the board catalog): MAC derived from
 * `seed`, revision and package from the catalog, CODING_SCHEME per `codingScheme`.
 * Throws UserError E_PROFILE for an unknown profile.
 */
export function factoryProfile(moduleId: string, seed = 'default', codingScheme: CodingSchemeOption = 'none'): BoardProfile {
  const module = resolveModule(moduleId);
  const h = createHash('sha256').update(`pycom-secure virtual ${module.id} ${seed}`).digest();
  const oui = OUIS[h[0]! % OUIS.length]!;
  const mac = Buffer.from([...oui, h[1]!, h[2]!, h[3]!]);
  let w = emptyWords();
  w = withField(w, field('MAC'), macBytesToValue(mac));
  w = withField(w, field('MAC_CRC'), macCrc8(mac));
  w = withField(w, field('CHIP_PACKAGE'), module.packageCode & 7);
  w = withField(w, field('CHIP_PACKAGE_4BIT'), (module.packageCode >> 3) & 1);
  if (module.chipRevision >= 1) w = withField(w, field('CHIP_VER_REV1'), 1);
  w = withField(w, field('CLK8M_FREQ'), FACTORY_CLK8M_FREQ);
  if (codingScheme === '3/4') w = withField(w, field('CODING_SCHEME'), 1);
  return { module, seed, codingScheme, efuse: w, mac };
}
