import { UserError } from '../errors';
import { board as boardFacts, modules, type BoardId, type PycomModule } from './catalog';

/**
 * Whether a connected chip can be a module of the board a build is for. The ESP32 does not say
 * which Pycom module it sits on (a GPy and a LoPy4 answer alike), so the module itself is the
 * operator's word (provision's --board or confirmation); this checks what the chip CAN say against
 * the board catalog (boards/catalog.ts ModuleVariant), the only place these facts live:
 *  - the flash size (the flash chip's JEDEC id) must be one of the board's modules' sizes: a
 *    4 MB chip is no GPy, and an 8 MB-layout build does not fit it;
 *  - the silicon revision must be on the same side of 0 as that module's: Pycom's firmware takes
 *    its 8 MB layout iff the revision is above 0 (esp32_get_chip_rev() in esp32/ftp/updater.c), so
 *    a chip on the other side runs the build on a layout its flash does not hold;
 *  - the package (eFuse CHIP_PACKAGE) is compared too, but only noted: the catalog's package codes
 *    are UNCONFIRMED for most modules, and a wrong guess must not stop a real board.
 */

/** What the chip says about itself: from ChipInfo (chip/identify.ts). */
export interface ChipModuleFacts {
  /** Flash size in bytes from the flash id; undefined when its capacity byte is unknown (not checked then). */
  flashSize: number | undefined;
  /** ESP32 silicon revision, major (0, 1, 3). */
  revisionMajor: number;
  /** eFuse CHIP_PACKAGE (PKG_VERSION). */
  packageCode: number;
  /** How the chip is named in a message ("the board on socket://...", "24:0a:c4:12:34:56"). */
  name: string;
}

export interface ModuleFit {
  /** The board's modules the chip can be (at least one when the check passed). */
  candidates: PycomModule[];
  /** Things not checked or not matching that do not refuse (unknown flash size, package). */
  notes: string[];
}

const mb = (n: number): string => `${n / 0x100000} MB`;
/** "a 4 MB", "an 8 MB". */
const aSize = (n: number): string => `${/^(8|11|18)/.test(mb(n)) ? 'an' : 'a'} ${mb(n)}`;
const revisionText = (r: number): string => (r > 0 ? 'revision 1 or later' : 'revision 0');

/** "WiPy 2.0, LoPy or SiPy": the catalog's modules with this flash size and revision side, by title. */
function modulesLike(flashSize: number, revisionMajor: number | undefined): string {
  const titles = modules().filter((m) => m.flashSize === flashSize && (revisionMajor === undefined || (m.chipRevision > 0) === (revisionMajor > 0))).map((m) => m.title);
  return titles.length > 1 ? `${titles.slice(0, -1).join(', ')} or ${titles[titles.length - 1]}` : titles.join('');
}

/**
 * Checks that `chip` can be a module of `id` (the build's board). Returns the modules it can be
 * and notes; throws UserError E_MODULE_FLASH_SIZE (flash size of no module of the board) or
 * E_MODULE_REVISION (silicon revision on the other side of 0 from every module of the board with
 * that flash size), one sentence naming the chip, the module and what to do. `build` names the
 * firmware in the message ("build/GPY/release"); `fix` ends the message: what to do and what was
 * left undone (default: use the build of the chip's own module; nothing was written). Reads
 * nothing from the chip itself.
 */
export function checkModuleFit(id: BoardId, chip: ChipModuleFacts, build: string, fix = 'use the build made for its own module (build/<BOARD>/release) instead; nothing was written'): ModuleFit {
  const b = boardFacts(id);
  const all = modules().filter((m) => m.makeBoard === id);
  const notes: string[] = [];
  let candidates = all;
  if (chip.flashSize === undefined) {
    notes.push(`${chip.name}: the flash id does not say the flash size, so it was not checked against the ${b.name} modules' (${[...new Set(all.map((m) => mb(m.flashSize)))].join(' or ')}).`);
  } else {
    const size = chip.flashSize;
    candidates = all.filter((m) => m.flashSize === size);
    if (candidates.length === 0) {
      const like = modulesLike(size, chip.revisionMajor);
      throw new UserError('E_MODULE_FLASH_SIZE', `${chip.name} has ${mb(size)} of flash but every ${b.name} module has ${[...new Set(all.map((m) => mb(m.flashSize)))].join(' or ')}, so it is not a ${b.name} and ${build} (${b.name} firmware) is not for it${like ? ` (${aSize(size)} board is a ${like})` : ''}; ${fix}.`);
    }
  }
  const sameRevision = candidates.filter((m) => (m.chipRevision > 0) === (chip.revisionMajor > 0));
  if (sameRevision.length === 0) {
    const like = chip.flashSize !== undefined ? modulesLike(chip.flashSize, chip.revisionMajor) : '';
    throw new UserError('E_MODULE_REVISION', `${chip.name} is ESP32 silicon ${revisionText(chip.revisionMajor)}, but ${b.name} modules${chip.flashSize !== undefined ? ` with ${mb(chip.flashSize)}` : ''} are ${revisionText(candidates[0]!.chipRevision)} (Pycom's firmware picks its partition layout by it), so it is not a ${b.name} and ${build} (${b.name} firmware) would not boot right on it${like ? ` (such a board is a ${like})` : ''}; ${fix}.`);
  }
  candidates = sameRevision;
  if (!candidates.some((m) => m.packageCode === chip.packageCode)) {
    notes.push(`${chip.name}: the chip package (CHIP_PACKAGE ${chip.packageCode}) is not the one the catalog gives ${b.name} modules (${[...new Set(candidates.map((m) => m.packageCode))].join(' or ')}); that is not refused, as the catalog's package codes are unconfirmed.`);
  }
  return { candidates, notes };
}

/** The chip facts checkModuleFit needs, from what identify() read (ChipInfo's fields). */
export function chipModuleFacts(chip: { flash: { sizeBytes: number | undefined }; revision: { major: number }; packageVersion: number; mac: { address: string } }): ChipModuleFacts {
  return { flashSize: chip.flash.sizeBytes, revisionMajor: chip.revision.major, packageCode: chip.packageVersion, name: chip.mac.address };
}
