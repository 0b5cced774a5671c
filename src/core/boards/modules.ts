/**
 * Pycom modules (pycom.md §1.10, §3). Flash sizes: 8 MB for LoPy4, GPy, FiPy and WiPy 3.0;
 * 4 MB for LoPy (1), SiPy and WiPy 2.0. Pycom's firmware picks the 8 MB layout iff the ESP32
 * silicon revision is > 0 (pycom.md §1.9), so 8 MB modules carry revision 1 chips and 4 MB
 * modules revision 0. Public reports show GPy and FiPy as "ESP32D0WDQ6 (revision 1)"
 * (landscape.md); the package of the other modules is UNCONFIRMED and assumed D0WDQ6 too.
 */
export type PycomModuleId = 'WIPY' | 'WIPY2' | 'LOPY' | 'SIPY' | 'GPY' | 'FIPY' | 'LOPY4';

export interface PycomModule {
  id: PycomModuleId;
  /** Name as Pycom prints it (MICROPY_HW_BOARD_NAME). */
  boardName: string;
  /** Human description. */
  title: string;
  /** Makefile BOARD value. */
  makeBoard: 'WIPY' | 'LOPY' | 'SIPY' | 'GPY' | 'FIPY' | 'LOPY4';
  flashSize: number;
  /** ESP32 silicon revision (major). */
  chipRevision: 0 | 1;
  /** CHIP_PACKAGE value: 0 = ESP32-D0WDQ6. */
  packageCode: number;
  lora: boolean;
  sigfox: boolean;
  lte: boolean;
}

const MB = 1024 * 1024;

export const PYCOM_MODULES: readonly PycomModule[] = Object.freeze([
  { id: 'WIPY', boardName: 'WiPy', title: 'WiPy 3.0', makeBoard: 'WIPY', flashSize: 8 * MB, chipRevision: 1, packageCode: 0, lora: false, sigfox: false, lte: false },
  { id: 'WIPY2', boardName: 'WiPy', title: 'WiPy 2.0', makeBoard: 'WIPY', flashSize: 4 * MB, chipRevision: 0, packageCode: 0, lora: false, sigfox: false, lte: false },
  { id: 'LOPY', boardName: 'LoPy', title: 'LoPy', makeBoard: 'LOPY', flashSize: 4 * MB, chipRevision: 0, packageCode: 0, lora: true, sigfox: false, lte: false },
  { id: 'SIPY', boardName: 'SiPy', title: 'SiPy', makeBoard: 'SIPY', flashSize: 4 * MB, chipRevision: 0, packageCode: 0, lora: false, sigfox: true, lte: false },
  { id: 'GPY', boardName: 'GPy', title: 'GPy', makeBoard: 'GPY', flashSize: 8 * MB, chipRevision: 1, packageCode: 0, lora: false, sigfox: false, lte: true },
  { id: 'FIPY', boardName: 'FiPy', title: 'FiPy', makeBoard: 'FIPY', flashSize: 8 * MB, chipRevision: 1, packageCode: 0, lora: true, sigfox: true, lte: true },
  { id: 'LOPY4', boardName: 'LoPy4', title: 'LoPy4', makeBoard: 'LOPY4', flashSize: 8 * MB, chipRevision: 1, packageCode: 0, lora: true, sigfox: true, lte: false },
] satisfies PycomModule[]);

export function findModule(id: string): PycomModule | undefined {
  const up = id.toUpperCase();
  return PYCOM_MODULES.find((m) => m.id === up);
}

export const MODULE_IDS: readonly PycomModuleId[] = PYCOM_MODULES.map((m) => m.id);
