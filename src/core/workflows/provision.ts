import * as fs from 'node:fs';
import { BoardRecordWriter, readBoardRecords, recordFlashProgress, recordKeyEvidence, regionsWritten, type BoardRecord } from '../audit/board-record';
import { board as boardFacts, boardFlashSize, type BoardId } from '../boards/catalog';
import { checkModuleFit, chipModuleFacts } from '../boards/module-fit';
import { CLI_BOOT_LOG_HINTS, type BootLogExplanation, type BootLogHints } from '../boot/boot-log';
import { codingForKeyLength, keyBits } from '../chip/esp32';
import { readEfuses } from '../efuse/access';
import { redactState } from '../efuse/burn/burn-keys';
import { refuseUnsupportedCodingScheme } from '../efuse/burn/coding-support';
import { renderPlan } from '../efuse/burn/plan';
import { decodeEfuses, isThreeFour } from '../efuse/decode';
import { isUserError, UserError } from '../errors';
import { GENERATIONS, type GenerationId } from '../firmware/generations';
import { buildBoard, firmwareTitle } from '../firmware/outputs';
import { describeRegion, EXPECTED_CONTENT, type FlashPlan } from '../flash/plan';
import { diagnoseDamage } from '../flash/diagnose';
import { readHardwareKeyFile } from '../keys/key-files';
import { macDirName, normaliseMac, type KeyStore } from '../keystore/key-store';
import { withKeyStoreLock } from '../keystore/lock';
import { storeSecureBootKey } from '../keystore/secure-boot-key-source';
import { boardPlanFromBuild, storeBuildKey, type DecryptedBuildCache } from '../secure-build/per-device';
import { fingerprint } from '../util/fingerprint';
import { CLI_BURN_AGAIN_HINTS, recordedFlashKey, type BurnAgainHints } from './evidence';
import { withBoard, type BoardSession, type BoardTarget } from './board';
import { burnKeys } from './burn-keys';
import { flash, type FlashRequest } from './flash';
import { checkBuildModule, recordedModule } from './module-evidence';
import type { UiPort } from './ui-port';

/**
 * Provisioning a fleet (issue #14): every listed board at once, each on its own port, through
 * download mode → identify → approval → keys → Burn Keys (resuming an interrupted run) → the build
 * re-encrypted for the board's key → flash (incremental: a rerun writes only what differs and
 * verifies the rest) → boot check → record. Boards are independent: one board's failure stops that
 * board only, and a rerun resumes each from where it stopped (Burn Keys from the audit log, flash
 * from what the flash holds).
 */

/** Where a board is; `unapproved`, `finished` and `failed` are final. */
export type ProvisionState = 'connecting' | 'identified' | 'unapproved' | 'keys' | 'burning' | 'flashing' | 'boot-check' | 'finished' | 'failed';

export const PROVISION_STATES: readonly ProvisionState[] = ['connecting', 'identified', 'unapproved', 'keys', 'burning', 'flashing', 'boot-check', 'finished', 'failed'];

/** What a provisioning run reports, board by board (the CLI prints a line each, or JSON with --json; the editor's Production tab a row each). */
export type ProvisionEvent =
  /** A board changed state; `message` is one sentence for a person. */
  | { type: 'state'; port: string; mac?: string; state: ProvisionState; message: string }
  /** Progress inside `burning` or `flashing`: `fraction` 0..1 of that phase. */
  | { type: 'progress'; port: string; mac: string; state: 'burning' | 'flashing'; fraction: number; message: string }
  /** The Burn Keys plan for a board, as text, before anything is burned. */
  | { type: 'plan'; port: string; mac: string; text: string; steps: number }
  /** A progress or warning line of one board (connection notes, baud fallback, evidence). */
  | { type: 'log'; port: string; mac?: string; level: 'info' | 'warn'; line: string }
  /**
   * The run's plan, once, before the module is confirmed and any board is opened: the build's
   * board (makefile BOARD), its name, folder and firmware generation; `message` says it for a
   * person ("GPy firmware (build/GPY/release) for each approved board").
   */
  | { type: 'firmware'; board: BoardId; boardName: string; buildDir: string; generation: GenerationId; message: string };

export interface ProvisionRequest {
  /** One target per port (socket:// URLs for `sim serve` boards). */
  ports: readonly BoardTarget[];
  store: KeyStore;
  /** The signed build (build/<BOARD>/release) every board gets. */
  buildDir: string;
  /**
   * The Pycom module the operator says every board is (the CLI's --board): the build must be for
   * it (E_BUILD_BOARD, before any board is opened). Without it the module is the build's, and the
   * operator is asked through `ui.confirm` ("These boards are GPy modules?") before any board is
   * opened: a front end that cannot ask is refused (E_MODULE_UNSTATED), a no is E_MODULE_NOT_CONFIRMED.
   * The ESP32 does not say which module it sits on; each board's flash size and revision are
   * checked against the module (boards/module-fit.ts) either way.
   */
  board?: BoardId;
  /**
   * The operator says each board is the build's module whatever the key store's records of it say
   * (the CLI's --override-module-evidence; module-evidence.ts); recorded in the audit log. Without
   * it, a board whose records name another module is asked about through `ui.confirm`, else refused.
   */
  overrideModule?: boolean;
  /** How this front end overrides, for that refusal (default "run it again with --override-module-evidence"). */
  overrideModuleHint?: string;
  /** Ask the module question even when `board` is given (the editor: pycom.board is a workspace default, not the operator's word for these boards). */
  confirmModule?: boolean;
  /** How this front end states the module, for E_MODULE_UNSTATED (default: `run it again with --board <BOARD>`, the CLI's). */
  moduleHint?(board: BoardId): string;
  /** The ways on in a board's failure sentence, in this front end's words (default CLI_PROVISION_HINTS). */
  hints?: ProvisionHints;
  /** One flash-encryption key per board, created in devices/<MAC>/ the first time it is seen (0600, never overwritten). */
  perDeviceKeys: boolean;
  /** Also burn the hardening fuses (DISABLE_DL_ENCRYPT, DISABLE_DL_DECRYPT, DISABLE_DL_CACHE, JTAG_DISABLE). */
  hardening: boolean;
  /** The MACs the operator approved; a board whose MAC is not here is left untouched and reported. */
  approvedMacs: readonly string[];
  /** Boards worked on at once (default: all of them). */
  jobs?: number;
  /** The key the build was made with (default: the key store's flash_encryption_key.bin). */
  buildKey?: Uint8Array;
  /** The boot check after the writes (see FlashRequest.bootLog); false checks the boot by prediction only. */
  bootLog: FlashRequest['bootLog'];
  /** Says which ports are virtual boards (said in the plan and records); default none. */
  isVirtual?(port: string): boolean;
  /** Aborting stops each board between steps (nothing half-burned: Burn Keys stops between steps). */
  signal?: AbortSignal;
  onEvent?(event: ProvisionEvent): void;
}

export interface ProvisionBoardResult {
  port: string;
  mac?: string;
  state: 'finished' | 'failed' | 'unapproved';
  /** One sentence: what was done, or what went wrong and what to do. */
  message: string;
  /** The board record's id in the key store's audit log. */
  recordId?: string;
  flashKeyFingerprint?: string;
  /** True when this run created the board's per-device key. */
  keyCreated?: boolean;
  /**
   * eFuse steps burned in this run (0 on a rerun); for a failed board, the steps burned before it
   * stopped, as its record says (each read back from the board and verified: BoardRecord.burnedSteps).
   */
  burned?: number;
  /** The earlier run of this board that this run took over from (cut off or failed), and what it had done. */
  resumed?: ResumedRun;
  /** Flash bytes written in this run (0 on a rerun: everything verified as it was). */
  bytesWritten?: number;
  boot?: BootLogExplanation['verdict'] | 'predicted';
  /**
   * For a failed board: true when running the same provision again can finish it (a cut link, a
   * cancelled run), false when something must be fixed first (the message says what).
   */
  rerunResumes?: boolean;
}

/** What an earlier run of a board, cut off or failed, had done, from its record (see earlierRun). */
export interface ResumedRun {
  recordId: string;
  operation: BoardRecord['operation'];
  /** interrupted (cut off: no end line) or failed. */
  result: string;
  /** The runs cut off or failed before it that it had taken over from in turn (its `supersedes` chain), latest first. */
  before: string[];
  /** The eFuse steps it and `before` burned, each read back and verified on the board (BoardRecord.burnedSteps), oldest first. */
  burnedSteps: string[];
  /** Regions it wrote and verified (not the one it was cut off in). */
  regionsWritten: number;
}

/** The earlier run `supersedes` names, from the audit log, as ResumedRun; undefined when there is none. */
function earlierRun(auditPath: string, mac: string, supersedes: string | undefined): ResumedRun | undefined {
  if (supersedes === undefined) return undefined;
  const all = readBoardRecords(auditPath, mac);
  const r = all.find((x) => x.id === supersedes);
  if (!r) return undefined;
  // A rerun cut off too (before its own burn) took over from the run that burned: follow the chain.
  const chain = [r];
  for (let p = all.find((x) => x.id === r.supersedes); p && (p.result === 'interrupted' || p.result === 'failed') && !chain.includes(p); p = all.find((x) => x.id === p!.supersedes)) chain.push(p);
  const burnedSteps = [...new Set(chain.slice().reverse().flatMap((x) => x.burnedSteps ?? []))];
  return { recordId: r.id, operation: r.operation, result: r.result, before: chain.slice(1).map((x) => x.id), burnedSteps, regionsWritten: r.regions.filter((g) => !g.cutOff).length };
}

/** The line a rerun says first: which run it resumes and what that run had done (its record). */
function resumeLine(r: ResumedRun): string {
  const n = r.burnedSteps.length;
  const who = r.before.length ? `it and the run(s) it took over from (${r.before.join(', ')})` : 'it';
  const burned = n ? `${who} burned and verified ${n} eFuse step(s) (${r.burnedSteps.join(', ')})` : `${who} burned no eFuse`;
  const wrote = r.regionsWritten ? `it wrote and verified ${r.regionsWritten} flash region(s)` : 'it wrote no flash region';
  return `Resuming ${r.operation} run ${r.recordId} (${r.result === 'interrupted' ? 'cut off' : r.result}): ${burned}, and ${wrote}; the board is read now and only what is missing is burned or written.`;
}

export interface ProvisionOutcome {
  boards: ProvisionBoardResult[];
  /** Approved MACs no port answered with. */
  notSeen: string[];
  /** True when every approved board seen finished and every approved MAC was seen. */
  ok: boolean;
}

/** How a front end names its ways on, for provisionSummary (each the front end's own, real, command). */
export interface ProvisionSummaryTerms {
  /** Running the same provisioning again, as a verb phrase: "run the same command again" (CLI). */
  rerun: string;
  /** Giving the port of a board never seen: for one board ("give its port with --port") and for several. */
  givePort: { one: string; many: string };
}

/**
 * The last line of a provisioning run, the one wording of the CLI's summary and the editor's
 * Production tab: all finished (and where the records are), or per kind of unfinished board what
 * it needs: a rerun resumes only boards whose failure a rerun can fix (`rerunResumes`), the others
 * need what their message says first, and an approved board never seen needs its port. `stopped`:
 * the run was stopped (Ctrl-C, Stop). `auditPath` is the key store's audit log.
 */
export function provisionSummary(outcome: Pick<ProvisionOutcome, 'ok' | 'boards' | 'notSeen'>, auditPath: string, terms: ProvisionSummaryTerms, stopped = false): string {
  const done = outcome.boards.filter((b) => b.state === 'finished').length;
  if (outcome.ok) return `All ${done} approved board(s) finished; records in ${auditPath}.`;
  const failed = outcome.boards.filter((b) => b.state === 'failed');
  const resumable = failed.filter((b) => b.rerunResumes).length;
  const todo: string[] = [];
  if (resumable) todo.push(`${terms.rerun} to resume ${resumable === 1 ? 'the board' : `the ${resumable} boards`} that stopped`);
  if (failed.length > resumable) todo.push(`${failed.length - resumable} board(s) need what their message says first (running again alone does not fix them)`);
  const n = outcome.notSeen;
  if (n.length) todo.push(`${n.join(', ')} ${n.length === 1 ? 'was' : 'were'} never seen: plug ${n.length === 1 ? 'that board' : 'those boards'} in and ${n.length === 1 ? terms.givePort.one : terms.givePort.many}`);
  return `Not finished${stopped ? ' (stopped)' : ''}: ${todo.join('; ')} (${done} board(s) finished; records in ${auditPath}).`;
}

/**
 * The approved MAC list, normalised: refuses an empty list and anything that is not a MAC (one
 * sentence naming the entry). Used by the front ends to check the list before any port is opened.
 */
export function parseApprovedMacs(list: readonly string[], from = 'the approved MAC list'): string[] {
  const entries = list.map((s) => s.trim()).filter((s) => s !== '');
  if (entries.length === 0) throw new UserError('E_USAGE', `${from} is empty; give the MACs of the boards to provision (e.g. 24:0a:c4:12:34:56).`);
  return [...new Set(entries.map((m) => {
    try {
      return normaliseMac(m);
    } catch {
      throw new UserError('E_MAC', `"${m}" in ${from} is not a MAC address; write each as six hex bytes such as 24:0a:c4:12:34:56.`);
    }
  }))];
}

/**
 * Provisions every board of `req.ports` (at most `jobs` at once) and returns one result per port.
 * Checks everything that needs no board first (the approved list, the signing key, the build and
 * that it decrypts with the build key), so bad input touches no board. Within one process the
 * boards share the key store: per-MAC key creation and record appends are synchronous file
 * operations (no other board runs between the check and the write), and a MAC seen on two ports
 * at once is worked on only once.
 *
 * Errors (thrown before any board is touched): E_USAGE/E_MAC (the approved list), E_NO_KEY (no
 * signing key or build key in the store), findBuildOutputs' errors (E_BUILD_BOARD: the build is
 * not for `board`), E_PLAN_DECRYPT (an output of the build is damaged: diagnoseDamage), E_BUILD_KEY, E_MODULE_UNSTATED / E_MODULE_NOT_CONFIRMED (no `board` and the
 * module not confirmed through `ui.confirm`). Everything that goes wrong on a board (E_MODULE_FLASH_SIZE,
 * E_MODULE_REVISION: the chip is no module of the build's board; E_CODING_34: the board uses the 3/4 eFuse coding scheme, refused before its record, key or plan) is that board's `failed` result, never thrown.
 */
/**
 * The module, stated or confirmed before any board is opened: the chip cannot say which Pycom
 * module it sits on, so without `req.board` (or with `req.confirmModule`) the operator is asked.
 */
async function confirmModule(req: ProvisionRequest, ui: Pick<UiPort, 'info' | 'confirm'>, board: BoardId, title: string): Promise<void> {
  if (req.board && !req.confirmModule) return;
  const name = boardFacts(board).name;
  if (!ui.confirm) {
    const hint = req.moduleHint?.(board) ?? `run it again with --board ${board}`;
    throw new UserError('E_MODULE_UNSTATED', `${title} is for ${name} modules and an ESP32 does not say which Pycom module it sits on, so the boards' module must be stated: if every board is a ${name}, ${hint}; otherwise give the build made for their module (build/<BOARD>/release); no board was opened.`);
  }
  const n = req.ports.length;
  const yes = await ui.confirm({
    title: `These boards are ${name} modules?`,
    detail: `Every approved board gets ${title}, which runs only on a ${name}. An ESP32 does not say which Pycom module it sits on: each board's flash size and chip revision are checked, the module is your word. Yes only if every board on ${n === 1 ? 'this port' : `these ${n} ports`} is a ${name}.`,
    yes: `Yes, ${name} modules`,
  });
  if (!yes) {
    throw new UserError('E_MODULE_NOT_CONFIRMED', `You did not confirm that the boards are ${name} modules, so nothing was burned or written; provision them with the build made for their own module (build/<BOARD>/release).`);
  }
  ui.info(`Module: ${name}, confirmed for every board of this run.`);
}

/**
 * How a front end names its ways on in a board's failure sentence (each a verb phrase naming that
 * front end's own command, flag or setting): `rerun` runs the same provisioning again,
 * `withPerDeviceKeys` / `withoutPerDeviceKeys` run it again with per-device keys turned on / off,
 * `keysBurnedElsewhere` finishes a board whose key block another tool or workstation burned (which
 * provision cannot: only Burn Keys takes such keys on the user's word), `burnAgain` finishes a
 * cut-off Burn Keys run (evidence.ts), `keyStore` takes another key store, `bootLog` names the
 * commands in the boot check's explanation.
 */
export interface ProvisionHints {
  rerun: string;
  withPerDeviceKeys: string;
  withoutPerDeviceKeys: string;
  keysBurnedElsewhere: string;
  burnAgain: BurnAgainHints;
  keyStore: string;
  /** The commands the boot check's explanation names (flashAgain: provisioning again). */
  bootLog: BootLogHints;
}

/** The CLI's ways on (`pycom-secure provision`): the default of ProvisionRequest.hints. */
export const CLI_PROVISION_HINTS: ProvisionHints = {
  rerun: 'run the same provision command again',
  withPerDeviceKeys: 'run the same provision command again with --per-device-keys added',
  withoutPerDeviceKeys: 'run the same provision command again without --per-device-keys',
  keysBurnedElsewhere: 'finish it with `pycom-secure efuse burn-keys --keys-burned-elsewhere`',
  burnAgain: CLI_BURN_AGAIN_HINTS,
  keyStore: '--key-store DIR',
  bootLog: { ...CLI_BOOT_LOG_HINTS, flashAgain: 'run the same `pycom-secure provision` command again to write it in full' },
};

/** Failures that running the same provision again cannot get past: the message says what to fix first. */
const NOT_FIXED_BY_RERUN: ReadonlySet<string> = new Set(['E_MODULE_FLASH_SIZE', 'E_MODULE_REVISION', 'E_MODULE_EVIDENCE', 'E_KEY_BLOCK_PROTECTED', 'E_KEY_BLOCK_USED', 'E_SAME_KEY', 'E_KEY_IS_PUBLIC', 'E_KEY_MALFORMED', 'E_CRYPT_CNT_FULL', 'E_CHIP', 'E_CHIP_REVISION', 'E_KEY_MISMATCH', 'E_KEY_BLOCK_HALF_PROTECTED', 'E_NO_KEY', 'E_KEY_LENGTH', 'E_SAME_MAC', 'E_BOOT', 'E_KEY_EVIDENCE', 'E_KEY_CONTRADICTED', 'E_NOT_CONFIRMED', 'E_BUILD_KEY', 'E_CODING_34', 'E_CODING_RESERVED', 'E_CODING_HIDDEN', 'E_CODING_REPEAT']);

/**
 * A Burn Keys error said in provision's terms: Burn Keys' own hints name `efuse burn-keys` flags
 * and "run Burn Keys again", which provision does not have; this names what works from here.
 */
function inProvisionTerms(e: UserError, mac: string | undefined, req: ProvisionRequest): string {
  const h = req.hints ?? CLI_PROVISION_HINTS;
  if (e.code === 'E_KEY_BLOCK_PROTECTED' && mac) {
    const cut = e.message.indexOf('; if another key store');
    const what = cut >= 0 ? e.message.slice(0, cut) : e.message.replace(/[.;]?\s*$/, '');
    if (!req.perDeviceKeys && fs.existsSync(req.store.deviceFlashKeyPath(mac))) {
      return `${what}; the key store holds this board's own key (devices/${macDirName(mac)}/): ${h.withPerDeviceKeys}; nothing was burned.`;
    }
    return `${what}; if espefuse or another workstation burned it, provision cannot finish this board: ${h.keysBurnedElsewhere} (its key then NOT verified); nothing was burned.`;
  }
  if (e.code === 'E_KEY_MISMATCH' && mac) {
    // The store's record names another key for the block: when that is the board's own key, the
    // way forward is provision's --per-device-keys, not another --flash-key.
    const what = e.message.replace(/; give that key \(the one this store burned into this board\); nothing was burned\.$/, '');
    if (!req.perDeviceKeys && fs.existsSync(req.store.deviceFlashKeyPath(mac))) {
      return `${what}; the key store holds this board's own key (devices/${macDirName(mac)}/): ${h.withPerDeviceKeys}; nothing was burned.`;
    }
    if (req.perDeviceKeys && fs.existsSync(req.store.sharedFlashKeyPath)) {
      // Only when the recorded key is the shared one does leaving out --per-device-keys help.
      const rec = recordedFlashKey(req.store, mac);
      const shared = fingerprint(readHardwareKeyFile(req.store.sharedFlashKeyPath, 'flash-encryption'));
      if (!rec || rec.fingerprint === shared) return `${what}; if that is the key store's shared key, ${h.withoutPerDeviceKeys}; nothing was burned.`;
      return `${what}; that is neither this file nor the key store's shared key (${shared}): restore the board's own key from your backup to devices/${macDirName(mac)}/flash_encryption_key.bin, then ${h.rerun}; nothing was burned.`;
    }
  }
  if (e.code === 'E_CANCELLED') return e.message.replace(/run Burn Keys again/g, h.rerun);
  return e.message;
}

export async function provision(req: ProvisionRequest, ui: Pick<UiPort, 'info' | 'warn' | 'confirm'>): Promise<ProvisionOutcome> {
  // One lock for the whole run: the boards of this process share it (re-entrant), and another
  // process using the same key store is refused before any board is opened.
  return withKeyStoreLock(req.store.dir, `provision of ${req.ports.length} board(s)`, () => provisionLocked(req, ui));
}

async function provisionLocked(req: ProvisionRequest, ui: Pick<UiPort, 'info' | 'warn' | 'confirm'>): Promise<ProvisionOutcome> {
  const approved = new Set(parseApprovedMacs(req.approvedMacs));
  if (req.ports.length === 0) throw new UserError('E_USAGE', 'There are no ports to provision; give at least one port.');
  if (req.store.signingKeyFile() === undefined) {
    throw new UserError('E_NO_KEY', `There is no signing key at ${req.store.signingKeyPath}; generate it first (pycom-secure generate-signing-key) and build with it.`);
  }
  // BLOCK2's key: the store's random secure_boot_key.bin (a signing key in a token), else the
  // digest of the PEM signing key (Pycom's reflashable flow). Checked here, before any board.
  const secureBootKeyFor = (bits: 256 | 192): Uint8Array => storeSecureBootKey(req.store, bits)!.key;
  secureBootKeyFor(256);
  let buildKey = req.buildKey;
  if (!buildKey) {
    if (!fs.existsSync(req.store.sharedFlashKeyPath)) {
      throw new UserError('E_NO_KEY', `There is no build key at ${req.store.sharedFlashKeyPath} (the flash-encryption key the build was made with); put it there or generate one and build with it (pycom-secure generate-flash-encryption-key).`);
    }
    buildKey = readHardwareKeyFile(req.store.sharedFlashKeyPath, 'flash-encryption');
  }
  // The build must decrypt with the build key: checked once, before any board. The plan is made
  // for the smallest module of the build's board: its table must be there (each board's own
  // flash size is checked again when its plan is made).
  const smallest = boardFlashSize(buildBoard(req.buildDir, req.board));
  const check = boardPlanFromBuild(req.buildDir, { ...(req.board ? { board: req.board } : {}), flashKey: buildKey, buildKey, flashSize: smallest });
  // decryptsValid is left unset for a file that is not whole 16-byte blocks: no decryption of it is valid.
  const bad = check.build.outputs.filter((o) => o.encrypted && o.decryptsValid !== true);
  for (const o of bad) {
    // A damaged file is named damaged (as flash names it), not blamed on the build key.
    const data = new Uint8Array(fs.readFileSync(o.path));
    const damaged = diagnoseDamage({ data, address: o.address, want: EXPECTED_CONTENT[o.role]!, region: describeRegion({ address: o.address, file: o.path, data, role: o.role, encrypted: true }), conf: 0xf }, [{ label: 'the build key', key: buildKey }]);
    if (damaged) throw new UserError('E_PLAN_DECRYPT', damaged);
  }
  if (bad.length) {
    throw new UserError('E_BUILD_KEY', `${bad.map((o) => o.rel).join(', ')} in ${req.buildDir} do${bad.length === 1 ? 'es' : ''} not decrypt with the build key ${fingerprint(buildKey)}; the build was made with another key: rebuild it with the key store's keys.`);
  }
  const board = check.build.board;
  // The build decrypted once for all boards of this run (each board then costs one encryption).
  const decrypted: DecryptedBuildCache = {};
  const gen = check.build.generation;
  const name = boardFacts(board).name;
  const title = firmwareTitle(board, req.buildDir);
  req.onEvent?.({ type: 'firmware', board, boardName: name, buildDir: req.buildDir, generation: gen, message: `${title} for each approved board.` });
  await confirmModule(req, ui, board, title);

  const busy = new Set<string>();
  const results: ProvisionBoardResult[] = new Array(req.ports.length);
  const emit = (e: ProvisionEvent): void => req.onEvent?.(e);

  const one = async (target: BoardTarget): Promise<ProvisionBoardResult> => {
    const port = target.port;
    let mac: string | undefined;
    let record: BoardRecordWriter | undefined;
    let flashKey: Uint8Array | undefined;
    let secureBootKey: Uint8Array | undefined;
    let owned = false;
    let resumed: ResumedRun | undefined;
    const state = (s: ProvisionState, message: string): void => emit({ type: 'state', port, ...(mac ? { mac } : {}), state: s, message });
    const log = (level: 'info' | 'warn') => (line: string): void => {
      emit({ type: 'log', port, ...(mac ? { mac } : {}), level, line });
      ui[level](`[${mac ?? port}] ${line}`);
    };
    const boardUi: UiPort = {
      info: log('info'),
      warn: log('warn'),
      choose: async () => undefined,
      confirmMac: async () => undefined,
      task: (_title, fn) => fn((message, fraction) => emit({ type: 'progress', port, mac: mac!, state: 'burning', fraction: fraction ?? 0, message }), req.signal ?? new AbortController().signal),
    };
    state('connecting', `Connecting to ${port}.`);
    try {
      return await withBoard(target, boardUi, async (session) => {
        mac = session.chip.mac.address;
        state('identified', `${session.chip.description}, MAC ${mac}.`);
        if (!approved.has(mac)) {
          const message = `${mac} on ${port} is not in the approved list; it was left untouched.`;
          state('unapproved', message);
          return { port, mac, state: 'unapproved', message };
        }
        // What the chip can say about its module (flash size, revision) must fit the build's board.
        const fit = checkModuleFit(board, chipModuleFacts(session.chip), req.buildDir, 'provision it with the build made for its own module (build/<BOARD>/release); nothing was burned or written');
        for (const n of fit.notes) log('info')(`note: ${n}`);
        if (busy.has(mac)) throw new UserError('E_SAME_MAC', `${mac} is being provisioned on another port as well; it is worked on there only. Unplug one of them.`);
        busy.add(mac);
        owned = true;
        const virtual = req.isVirtual?.(port) ?? false;
        // A board whose coding scheme this tool's builds cannot boot on (3/4: 192-bit keys) is
        // refused before its record, its key or its plan: nothing is written or burned for it.
        const snap = await readEfuses(session.conn.loader);
        refuseUnsupportedCodingScheme(decodeEfuses(snap));
        // The key store's records of this board may name another module (flash and ota-image check
        // the same, module-evidence.ts): checked before this run's own record exists, so that record
        // (which repeats the module stated for this run) is never taken as evidence for it.
        await checkBuildModule({
          store: req.store, board, build: req.buildDir, mac, who: mac, job: 'provision',
          evidence: [recordedModule(req.store, mac)], ask: true,
          ...(req.overrideModule ? { override: true } : {}), ...(req.overrideModuleHint ? { overrideHint: req.overrideModuleHint } : {}),
        }, { info: boardUi.info, ...(ui.confirm ? { confirm: ui.confirm } : {}) });
        record = new BoardRecordWriter(req.store.auditPath, 'provision', mac, () => [flashKey, secureBootKey, buildKey].filter((k): k is Uint8Array => k !== undefined), {
          board, port, chipRevision: session.chip.revision.text, virtual,
          firmware: { generation: gen, versions: GENERATIONS[gen].versions, buildDir: req.buildDir },
        });
        resumed = earlierRun(req.store.auditPath, mac, record.supersedes);
        if (resumed) log('info')(resumeLine(resumed));

        state('keys', req.perDeviceKeys ? `Keys: this board's own flash-encryption key (devices/${macDirName(mac)}/).` : 'Keys: the shared flash-encryption key.');
        const threeFour = isThreeFour(decodeEfuses(snap).codingScheme);
        const own = req.store.deviceFlashKeyPath(mac);
        let created = false;
        if (req.perDeviceKeys && !fs.existsSync(own) && session.chip.security.keys.flashEncryption !== 'empty') {
          throw new UserError('E_NO_KEY', noOwnKeyMessage(req.store, mac, req.hints ?? CLI_PROVISION_HINTS));
        }
        const k = req.store.flashKeyFor(mac, req.perDeviceKeys ? 'per-device' : 'shared', threeFour ? 24 : 32);
        flashKey = k.key;
        created = k.created;
        if (flashKey.length !== (threeFour ? 24 : 32)) {
          throw new UserError('E_KEY_LENGTH', `${k.path} holds a ${flashKey.length * 8}-bit key but ${mac} uses ${threeFour ? 'the 3/4 coding scheme (192-bit keys)' : '256-bit keys'}; nothing was burned.`);
        }
        secureBootKey = secureBootKeyFor(keyBits(codingForKeyLength(flashKey.length)));
        record.add('keys', { keyFingerprints: { 'flash-key': k.fingerprint, 'secure-boot-key': fingerprint(secureBootKey), 'build-key': fingerprint(buildKey!) }, keyCreated: created, efuseBefore: redactState(decodeEfuses(snap)) });

        const earlierSteps = resumed?.burnedSteps.length ?? 0;
        const byEarlier = resumed ? (resumed.before.length ? `the earlier runs ${[resumed.recordId, ...resumed.before].join(', ')}` : `the earlier run ${resumed.recordId}`) : '';
        state('burning', earlierSteps
          ? `Burn Keys: the ${earlierSteps} step(s) burned by ${byEarlier} are verified on the chip, not burned again; only a step still missing is burned.`
          : 'Burn Keys: keys, flash encryption and secure boot (steps already on the chip are verified, not burned again).');
        const burn = await burnKeys(session, {
          store: req.store,
          keys: () => ({ flashKey: flashKey!, secureBootKey: secureBootKey! }),
          hardening: req.hardening,
          confirm: mac,
          virtual,
          within: record.id,
          showPlan: (plan) => emit({ type: 'plan', port, mac: mac!, text: renderPlan(plan), steps: plan.steps.filter((s) => s.status === 'pending').length }),
        }, boardUi);
        let chip = session.chip;
        let burned = 0;
        if (burn.kind === 'burned' || burn.kind === 'closed') {
          burned = burn.kind === 'burned' ? burn.result.burned.length : 0;
          record.add('burn-keys', { burnRuns: [burn.result.id] });
          if (burn.kind === 'burned') chip = burn.chip;
        } else if (burn.kind === 'cancelled') {
          throw new UserError('E_CANCELLED', burn.message.replace(/run Burn Keys again/g, (req.hints ?? CLI_PROVISION_HINTS).rerun));
        } else if (burn.kind !== 'nothing-to-do') {
          throw new UserError('E_NOT_CONFIRMED', `Burn Keys on ${mac} ended without burning (${burn.kind}); nothing was burned.`);
        }
        const after = burn.kind === 'burned' ? burn.after : await readEfuses(session.conn.loader);
        record.add('efuses', { efuseAfter: redactState(decodeEfuses(after)) });

        state('flashing', 'Flash: the build re-encrypted for this board\'s key, only what differs written, every region verified.');
        const burnedSession: BoardSession = { ...session, chip };
        let reencrypted = false;
        let plan: FlashPlan | undefined;
        const out = await flash(burnedSession, {
          store: req.store,
          plan: ({ flashKey: key, flashSize }) => {
            const p = boardPlanFromBuild(req.buildDir, { board, ...(flashSize !== undefined ? { flashSize } : {}), ...(key ? { flashKey: key } : {}), buildKey: buildKey! }, decrypted);
            reencrypted = p.reencrypted;
            plan = p.plan;
            return p.plan;
          },
          incremental: true,
          // This run's own `provision` record holds the writes (recordFlashProgress below).
          record: false,
          // Checked above, before this run's record began (which would otherwise be found as its own evidence).
          moduleChecked: true,
          bootLog: req.bootLog,
          keyStoreHint: (req.hints ?? CLI_PROVISION_HINTS).keyStore, burnAgainHints: (req.hints ?? CLI_PROVISION_HINTS).burnAgain,
          bootLogHints: (req.hints ?? CLI_PROVISION_HINTS).bootLog,
          ...(req.signal ? { signal: req.signal } : {}),
          onProgress: (e) => {
            // Each region into the record as it begins and as it is verified: a run cut off keeps them.
            if (plan) recordFlashProgress(record!, plan, e, reencrypted);
            emit({ type: 'progress', port, mac: mac!, state: 'flashing', fraction: e.bytesDone / Math.max(1, e.bytesTotal), message: `${e.file} @ 0x${e.address.toString(16)}` });
          },
        }, boardUi);
        record.add('flash', { regions: regionsWritten(plan!, out.results, reencrypted), keyEvidence: recordKeyEvidence(out.evidence.kind) });
        const bytesWritten = out.results.reduce((n, r) => n + r.bytesWritten, 0);

        state('boot-check', out.boot ? 'Boot check: the boot log after the writes.' : 'Boot check: predicted before the writes.');
        const boot = out.boot ? out.boot.explanation.verdict : 'predicted';
        if (out.boot && out.boot.explanation.verdict === 'failed') {
          record.add('boot-check', { boot });
          throw new UserError('E_BOOT', `${mac} was written but its boot log says it does not boot: ${out.boot.explanation.summary}`);
        }
        const efuses = burned
          ? `${burned} eFuse step(s) burned${earlierSteps ? ` (and ${earlierSteps} by ${byEarlier})` : ''}`
          : earlierSteps ? `eFuses burned by ${byEarlier} (${earlierSteps} step(s)), verified now` : 'eFuses already complete';
        const message = `${mac} finished: ${efuses}, ${bytesWritten ? `${bytesWritten} byte(s) written` : 'flash verified unchanged'}, flash key ${fingerprint(flashKey)}${created ? ' (new)' : ''}.`;
        record.end('ok', { boot, bytesWritten, burned });
        state('finished', message);
        return { port, mac, state: 'finished', message, recordId: record.id, flashKeyFingerprint: fingerprint(flashKey), keyCreated: created, burned, bytesWritten, boot, ...(resumed ? { resumed } : {}) };
      });
    } catch (e) {
      let message = isUserError(e) ? inProvisionTerms(e, mac, req) : `internal error: ${e instanceof Error ? e.message : String(e)}`;
      const rerunResumes = !(isUserError(e) && NOT_FIXED_BY_RERUN.has(e.code)) && isUserError(e);
      // What this run burned before it stopped, as its record says (each step read back from the board).
      let burnedSteps: string[] | undefined;
      try {
        const runs = record?.burnRunsSinceStart() ?? [];
        if (runs.length) record?.add('burn-keys', { burnRuns: runs });
        if (record && mac) burnedSteps = readBoardRecords(req.store.auditPath, mac).find((r) => r.id === record!.id)?.burnedSteps ?? [];
        if (burnedSteps?.length) {
          message = `${message.replace(/\.$/, '')} (before it stopped, this run burned ${burnedSteps.length} eFuse step(s), each read back and verified: ${burnedSteps.join(', ')}; ${rerunResumes ? 'running it again does not burn them again' : 'they stay burned'}).`;
        }
        record?.end('failed', burnedSteps ? { burned: burnedSteps.length } : {}, message);
      } catch (re) {
        log('warn')(`the record could not be closed: ${re instanceof Error ? re.message : String(re)}`);
      }
      state('failed', message);
      return {
        port, ...(mac ? { mac } : {}), state: 'failed', message, rerunResumes, ...(record ? { recordId: record.id } : {}), ...(flashKey ? { flashKeyFingerprint: fingerprint(flashKey) } : {}),
        ...(burnedSteps ? { burned: burnedSteps.length } : {}), ...(resumed ? { resumed } : {}),
      };
    } finally {
      if (owned && mac) busy.delete(mac);
    }
  };

  const jobs = Math.max(1, Math.min(req.jobs ?? req.ports.length, req.ports.length));
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < req.ports.length) {
      const i = next++;
      results[i] = await one(req.ports[i]!);
    }
  };
  await Promise.all(Array.from({ length: jobs }, worker));
  const seen = new Set(results.map((r) => r.mac).filter((m): m is string => m !== undefined));
  const notSeen = [...approved].filter((m) => !seen.has(m));
  const ok = notSeen.length === 0 && results.every((r) => r.state === 'finished' || r.state === 'unapproved');
  return { boards: results, notSeen, ok };
}

/**
 * Provision with --per-device-keys on a board whose BLOCK1 holds a key while devices/<MAC>/ holds
 * none: when the store's audit log recorded which key a verified Burn Keys run burned there, the
 * way on that it names (restore the board's own key, or the shared key when that is the one); else
 * the general sentence.
 */
function noOwnKeyMessage(store: KeyStore, mac: string, h: ProvisionHints): string {
  const rec = recordedFlashKey(store, mac);
  const file = `devices/${macDirName(mac)}/flash_encryption_key.bin`;
  const key = storeBuildKey(store);
  const shared = key ? fingerprint(key) : undefined;
  if (rec && rec.fingerprint !== shared) {
    return `${mac} already has a flash-encryption key in BLOCK1: the verified Burn Keys run ${rec.run} in this key store burned its own key ${rec.fingerprint} there, and ${file} is missing; restore that key from your backup to ${file}, then ${h.rerun}; nothing was burned.`;
  }
  if (rec) return `${mac} already has a flash-encryption key in BLOCK1: the verified Burn Keys run ${rec.run} in this key store burned the shared key ${rec.fingerprint} there; ${h.withoutPerDeviceKeys}; nothing was burned.`;
  return `${mac} already has a flash-encryption key in BLOCK1, but the key store has no key for it in devices/; restore the key it was burned with to devices/${macDirName(mac)}/flash_encryption_key.bin, or if that is the shared key, ${h.withoutPerDeviceKeys}; nothing was burned.`;
}
