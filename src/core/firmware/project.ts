import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../errors';
import { GENERATIONS, REPORT_RELEASE, generationForVersion, isAmbiguousVersion, type Generation, type GenerationId } from './generations';

/**
 * Recognises a pycom-micropython-sigfox checkout and its secure-build generation. The version
 * header is the reliable signal; the makefile's own text is the fallback (pycom-micropython-sigfox
 * esp32/pycom_version.h, esp32/Makefile, esp32/application.mk).
 */
export interface FirmwareProject {
  /** The checkout's root (the directory holding `esp32/`). */
  root: string;
  /** `<root>/esp32`: where make runs and where SECURE_KEY/ENCRYPT_KEY are resolved. */
  esp32Dir: string;
  version?: string;
  generation: Generation;
  /** How the generation was decided, for messages. */
  evidence: string;
}

// UNCONFIRMED: the header name; pycom-micropython-sigfox defines SW_VERSION_NUMBER in esp32/pycom_version.h.
const VERSION_FILE = 'pycom_version.h';

function read(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

/** Finds the checkout from a path inside it: the root, `esp32/`, or any directory below. */
export function findProjectRoot(start: string): string | undefined {
  let dir = path.resolve(start);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'esp32', 'Makefile'))) return dir;
    if (path.basename(dir) === 'esp32' && fs.existsSync(path.join(dir, 'Makefile')) && fs.existsSync(path.join(dir, 'application.mk'))) {
      return path.dirname(dir);
    }
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

/**
 * Reads the makefiles' text (esp32/Makefile + esp32/application.mk) and decides the generation from
 * what they build; the evidence says which text decided. Used when the version is missing, new or
 * ambiguous (1.20.0.rc4 before and after the 2019-01-17 fix).
 */
export function generationFromMakefiles(text: string): { id: GenerationId; evidence: string } | undefined {
  if (!/SECURE/.test(text)) return undefined;
  if (/^\s*ENCRYPT\s*\?=/m.test(text)) return { id: 'A', evidence: 'the makefile has a separate ENCRYPT option' };
  // v1.20.3.b3 Makefile about 27 / application.mk about 647.
  if (/SMALL_FACTORY_FW_ENABLED/.test(text)) return { id: 'E', evidence: 'the makefile has SMALL_FACTORY_FW_ENABLED (partitions_8MB_small_factory_fw)' };
  // v1.20.1 .. v1.20.2.r6 application.mk: PART_BIN_4MB and PART_BIN_8MB side by side.
  if (/partitions_4MB/.test(text) && /partitions_8MB/.test(text) && /PART_BIN_ENCRYPT_8MB/.test(text)) {
    return { id: 'D', evidence: 'the makefile builds both 4MB and 8MB partition tables' };
  }
  if (/partitions_8MB/.test(text)) return { id: 'C-rc12-13', evidence: 'the makefile picks a 4MB or 8MB partition CSV per board' };
  if (/_enc_0x1C0000/i.test(text)) return { id: 'C-rc5-11', evidence: 'the makefile encrypts the OTA copy for 0x1C0000' };
  if (/_enc_0x1A0000/i.test(text)) {
    // boot_app arrived in v1.19.0.b2 (application.mk about 445).
    if (/boot_app/.test(text)) return { id: 'B19', evidence: 'the makefile encrypts the OTA copy for 0x1A0000 and has TARGET=boot_app' };
    return { id: 'B', evidence: 'the makefile encrypts the OTA copy for 0x1A0000 and has no TARGET=boot_app' };
  }
  return undefined;
}

export function readVersion(esp32Dir: string): string | undefined {
  const h = read(path.join(esp32Dir, VERSION_FILE));
  return h ? /SW_VERSION_NUMBER\s+"([^"]+)"/.exec(h)?.[1] : undefined;
}

/** 1.20.4 and later, or 2.x: a release newer than every row of the generation table. */
function versionIsNewer(v: string): boolean {
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) return false;
  const [maj, min, patch] = [Number(m[1]), Number(m[2]), Number(m[3])];
  return maj > 1 || (maj === 1 && (min > 20 || (min === 20 && patch > 3)));
}

/**
 * Finds the checkout from `start` and decides its generation: SW_VERSION_NUMBER in
 * esp32/pycom_version.h first, the makefiles where the version is missing or ambiguous.
 * Errors: UserError E_NOT_PYCOM (no checkout), E_UNKNOWN_RELEASE (a newer release nothing
 * matches: says how to report it), E_NO_SECURE_BUILD (a release before 1.17.2).
 */
export function detectProject(start: string): FirmwareProject {
  const root = findProjectRoot(start);
  if (!root) {
    throw new UserError('E_NOT_PYCOM', `${start} is not inside a pycom-micropython-sigfox checkout (no esp32/Makefile found); clone https://github.com/pycom/pycom-micropython-sigfox or give its path.`);
  }
  const esp32Dir = path.join(root, 'esp32');
  const version = readVersion(esp32Dir);
  const fromVersion = version ? generationForVersion(version) : undefined;
  const mk = [read(path.join(esp32Dir, 'Makefile')) ?? '', read(path.join(esp32Dir, 'application.mk')) ?? ''].join('\n');
  const fromMake = generationFromMakefiles(mk);
  let id: GenerationId | undefined = fromVersion ?? fromMake?.id;
  let evidence = fromVersion ? `SW_VERSION_NUMBER ${version}` : fromMake?.evidence ?? '';
  if (fromVersion && version && isAmbiguousVersion(version) && fromMake && fromMake.id !== fromVersion) {
    // The 2019-01-17 fix moved the OTA copy to 0x1C0000 but kept "1.20.0.rc4" (commit 0650a29af).
    id = fromMake.id;
    evidence = `SW_VERSION_NUMBER ${version}, which is ambiguous, and ${fromMake.evidence}`;
  }
  // Era B/B19 and rc0-4 share the 0x1A0000 text; only the version or the CSV tells them apart.
  if (!fromVersion && (id === 'B' || id === 'B19')) {
    const csv = read(path.join(esp32Dir, 'lib', 'partitions.csv')) ?? '';
    if (/0x1C0000/i.test(csv)) {
      id = 'C-rc1-4';
      evidence += ' while lib/partitions.csv puts ota_0 at 0x1C0000';
    }
  }
  // UNCONFIRMED what a newer release's secure build does: refuse rather than guess from similar makefile text.
  if (version && !fromVersion && versionIsNewer(version)) {
    throw new UserError('E_UNKNOWN_RELEASE', `Firmware ${version} at ${root} is newer than every release this tool knows (up to 1.20.3.b3), so its outputs and addresses cannot be trusted; ${REPORT_RELEASE}.`);
  }
  if (!id) {
    throw new UserError('E_NO_SECURE_BUILD', `The checkout at ${root}${version ? ` (firmware ${version})` : ''} has no secure build (SECURE=on appeared in 1.17.2); check out 1.18.x or 1.20.x.`);
  }
  return { root, esp32Dir, ...(version ? { version } : {}), generation: GENERATIONS[id], evidence };
}
