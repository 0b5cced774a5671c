import { newOperationId } from '../audit/audit-log';
import { appendUserWord } from './evidence';
import { readBoardRecords } from '../audit/board-record';
import { board as boardFacts, catalog, type BoardId } from '../boards/catalog';
import { UserError } from '../errors';
import { normaliseMac, type KeyStore } from '../keystore/key-store';
import * as fs from 'node:fs';
import type { UiPort } from './ui-port';

/**
 * Which Pycom module a board is, from what this tool can know besides the chip (which does not say:
 * a GPy and a WiPy 3.0 answer alike, boards/module-fit.ts): the key store's records of the runs
 * that wrote the board, and the banner of the firmware running on it. flash and ota-image check
 * the build's board against it (checkBuildModule), as provision has the operator state or confirm
 * the module: firmware of another module boots, but without that module's radios (a GPy given
 * WiPy firmware loses its LTE modem, and with it perhaps its only link for the next OTA).
 */

/** One fact naming the module (makefile BOARD) of a board. */
export interface ModuleEvidence {
  board: BoardId;
  kind: 'record' | 'banner';
  /** Where the fact came from, as a sentence names it: `the key store's record <id> (provision, started <time>)`, `the running firmware's banner "..."`. */
  source: string;
  /** For a record: its id in the key store's audit log. */
  recordId?: string;
}

/** The runs whose record names the module the board was written for (an ota-image run only writes a file, so it never counts). */
const WRITES_MODULE: readonly string[] = ['provision', 'flash'];

/**
 * The module the key store's records give the board `mac`: the latest provision or flash record
 * of it that names a board and wrote it (ended ok, or wrote a region or burned an eFuse) (provision: the module the operator stated or confirmed; flash: the
 * build written, once this check had passed or been overridden). Undefined when no record names
 * one (no evidence) or the board's name is not in the catalog.
 */
export function recordedModule(store: KeyStore, mac: string): ModuleEvidence | undefined {
  if (!fs.existsSync(store.auditPath)) return undefined;
  // Only a run that wrote the board counts (a region written or begun, or eFuses burned): a run that
  // failed before touching it (trial 9: "nothing was burned") only repeats what its operator said.
  const wrote = (r: ReturnType<typeof readBoardRecords>[number]): boolean => r.result === 'ok' || r.regions.length > 0 || (r.burnedSteps?.length ?? 0) > 0;
  const rec = readBoardRecords(store.auditPath, mac).filter((r) => WRITES_MODULE.includes(r.operation) && typeof r.board === 'string' && catalog().boards.some((b) => b.id === r.board) && wrote(r)).pop();
  if (!rec) return undefined;
  return { board: rec.board!, kind: 'record', recordId: rec.id, source: `the key store's record ${rec.id} (${rec.operation}, started ${rec.start})` };
}

/**
 * The module the MicroPython banner in `text` names: Pycom's pyexec.c prints
 * `Pycom MicroPython <version> [<tag>] on <date>; <MICROPY_HW_BOARD_NAME> with ESP32` (spec
 * pycom.md 3.2), and the board name is the catalog's `name` (boards/catalog.ts). The last banner
 * in the text counts (a soft reboot prints it again). Undefined when there is no banner, or its
 * name is no board of the catalog.
 */
export function bannerModule(text: string): ModuleEvidence | undefined {
  const lines = [...text.matchAll(/Pycom MicroPython [^\r\n]*?; ([^\r\n;]+?) with ESP32/g)];
  const last = lines.pop();
  if (!last) return undefined;
  const b = catalog().boards.find((x) => x.name === last[1]!.trim());
  if (!b) return undefined;
  return { board: b.id, kind: 'banner', source: `the running firmware's banner "${last[0].trim()}"` };
}

export interface ModuleCheckRequest {
  store: KeyStore;
  /** The build's board (makefile BOARD) and how a sentence names the build (its folder). */
  board: BoardId;
  build: string;
  /** The board's MAC when known (the override is recorded for it), and how a sentence names the board (the MAC, else its port). */
  mac?: string;
  who: string;
  evidence: readonly (ModuleEvidence | undefined)[];
  /** The command named in the sentence and the record ("flash", "ota-image"). */
  job: string;
  /** The operator says the board is the build's module whatever the evidence (the CLI's --override-module-evidence); recorded. */
  override?: boolean;
  /** Without `override`, ask through `ui.confirm` (the editor's modal question); a yes is recorded as an override. */
  ask?: boolean;
  /** How this front end overrides, in the refusal (default the CLI's "run it again with --override-module-evidence"). */
  overrideHint?: string;
}

/** What checkBuildModule found: the evidence that agreed, and the evidence the operator overrode (recorded). */
export interface ModuleCheck {
  agreed: ModuleEvidence[];
  overridden: ModuleEvidence[];
}

/** The option that overrides the evidence, as the CLI names it. */
export const OVERRIDE_MODULE_OPTION = 'override-module-evidence';

/** "LTE", "LoRa and Sigfox": what `has` has and `lacks` does not (the catalog's radio flags). */
function radiosMissing(has: BoardId, lacks: BoardId): string {
  const a = boardFacts(has);
  const b = boardFacts(lacks);
  const names = ([['lora', 'LoRa'], ['sigfox', 'Sigfox'], ['lte', 'LTE']] as const).filter(([k]) => a[k] && !b[k]).map(([, n]) => n);
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names.join('');
}

/** The indefinite article before a module name: "an" before a vowel letter, else "a". */
export const article = (name: string): string => (/^[AEIOU]/.test(name) ? 'an' : 'a');

/**
 * Checks the build's board against the evidence for the board's module (recordedModule,
 * bannerModule; undefined entries are no evidence). No evidence, or evidence that agrees: passes
 * (the agreeing evidence said through `ui.info`). Evidence that names another module: refused
 * before anything is written, unless `override` (or `ask` and the operator's yes), which is
 * recorded in the key store's audit log (operation `module-override`, when the MAC is known) and said.
 *
 * Errors: E_MODULE_EVIDENCE, one sentence naming the build's module, each disagreeing fact with
 * its source (record id, banner line), what to do (the build for that module, or the override),
 * and that nothing was written.
 */
export async function checkBuildModule(req: ModuleCheckRequest, ui: Pick<UiPort, 'info' | 'confirm'>): Promise<ModuleCheck> {
  const evidence = req.evidence.filter((e): e is ModuleEvidence => e !== undefined);
  const agreed = evidence.filter((e) => e.board === req.board);
  const against = evidence.filter((e) => e.board !== req.board);
  const mine = boardFacts(req.board).name;
  if (against.length === 0) {
    for (const e of agreed) ui.info(`Module: ${mine}, as ${e.source} says.`);
    return { agreed, overridden: [] };
  }
  const others = [...new Set(against.map((e) => e.board))];
  const otherNames = others.map((b) => boardFacts(b).name);
  const says = against.map((e, i) => `${e.source} says ${i === 0 ? req.who : 'it'} is ${article(boardFacts(e.board).name)} ${boardFacts(e.board).name}`).join(' and ');
  const lost = others.map((b) => radiosMissing(b, req.board)).filter(Boolean);
  const loses = lost.length === 1 && others.length === 1 ? ` (${mine} firmware does not drive ${article(otherNames[0]!)} ${otherNames[0]}'s ${lost[0]})` : '';
  const builds = others.map((b) => `build/${b}/release`).join(' or ');
  const what = `${req.job}: ${req.build} is ${mine} firmware, but ${says}${loses}`;
  let yes = req.override === true;
  if (!yes && req.ask && ui.confirm) {
    yes = await ui.confirm({
      title: `${req.who}: is this board ${article(mine)} ${mine}, not ${otherNames.map((n) => `${article(n)} ${n}`).join(' or ')}?`,
      detail: `${what}. An ESP32 does not say which Pycom module it sits on, so these are the only facts about it. Yes only if this board really is ${article(mine)} ${mine}; your answer is recorded in the audit log.`,
      yes: `Yes, it is ${article(mine)} ${mine}`,
    });
  }
  if (!yes) {
    throw new UserError('E_MODULE_EVIDENCE', `${what}; use the build made for its module (${builds}), or if this board really is ${article(mine)} ${mine}, ${req.overrideHint ?? `run it again with --${OVERRIDE_MODULE_OPTION}`} (recorded in the audit log); nothing was written.`);
  }
  const line = `${req.job}: the operator said ${req.who} is ${article(mine)} ${mine} (${req.build}), overriding ${against.map((e) => e.source).join(' and ')}`;
  if (req.mac !== undefined) {
    const mac = normaliseMac(req.mac);
    appendUserWord(req.store, { id: newOperationId(), phase: 'done', operation: 'module-override', mac, result: 'overridden', message: line }, [], 'a module override');
  }
  ui.info(`Module: ${line}${req.mac !== undefined ? ` (recorded in ${req.store.auditPath})` : ''}.`);
  return { agreed, overridden: against };
}
