import { boardBootPredictor } from '../boot/predict-plan';
import { captureBootLog } from '../boot/capture';
import { BOOTLOADER_UNREADABLE, explainBootLog, type BootLogExplanation, type BootLogHints } from '../boot/boot-log';
import type { FlashPlan } from '../flash/plan';
import { romFlashIo } from '../flash/rom-io';
import { keysForBoard, runFlashSession, type BoardKeys, type FlashSessionResult } from '../flash/session';
import type { FlashProgressEvent } from '../flash/writer';
import { chooseStrategy, type ResetMode } from '../connect/strategy';
import { isSocketUrl } from '../transport/tcp';
import type { KeyStore } from '../keystore/key-store';
import { withKeyStoreLock } from '../keystore/lock';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';
import { establishKeyEvidence, type BurnAgainHints, type KeyEvidence } from './evidence';
import { fingerprint } from '../util/fingerprint';
import { UserError } from '../errors';
import { checkModuleFit, chipModuleFacts } from '../boards/module-fit';
import { board as boardFacts, boardFromAppFile, type BoardId } from '../boards/catalog';
import * as path from 'node:path';
import { firmwareTitle } from '../firmware/outputs';
import { GENERATIONS } from '../firmware/generations';
import { BoardRecordWriter, endByBoot, recordFlashProgress, recordKeyEvidence, regionsWritten, type KeyRefutedFact } from '../audit/board-record';
import { article, checkBuildModule, recordedModule, type ModuleCheck } from './module-evidence';
import { connect, type Connection } from '../connect/connect';
import { identify } from '../chip/identify';
import { writeFlash } from '../loader/flash';
import { PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { hex } from '../util/hex';

export interface FlashRequest {
  store: KeyStore;
  /**
   * The flash plan for this board, made once its key and flash size are known: `flashKey` is the
   * board's key from the store (per-device by MAC, else the shared one; undefined when the store
   * has none), `flashSize` the chip's flash size in bytes when the flash id says it.
   */
  plan(board: { flashKey: Uint8Array | undefined; flashSize: number | undefined }): FlashPlan;
  incremental?: boolean;
  /** Run every check, write nothing. */
  dryRun?: boolean;
  forceConfigSector?: boolean;
  /**
   * Allow FLASH_DEFL_* for regions that shrink meaningfully (loader/flash.ts worthCompressing:
   * ciphertext never does, so it goes plain); default on. false writes every region plain.
   */
  compress?: boolean;
  signal?: AbortSignal;
  onProgress?(e: FlashProgressEvent): void;
  /**
   * The boot log after the writes: after starting the firmware the board's way (`mode`), listen
   * until a line settles the outcome (the MicroPython banner or a known failure, boot-log.ts
   * bootLogSettled) or `silenceMs` (default 1.5 s) pass without output, for at most `ms`
   * milliseconds; or a function that produces it (the editor's in-window virtual boards print what
   * their boot model predicts); false for none.
   */
  bootLog: false | { ms: number; mode: ResetMode; silenceMs?: number } | ((session: BoardSession) => Promise<string>);
  /** The user vouched that the store holds the board's read-protected keys (the CLI's --trust-key-store); recorded in the audit log. */
  trustKeyStore?: boolean;
  /** Without other evidence, ask through `ui.confirm` (the editor's modal question). */
  askTrust?: boolean;
  /** How this front end acknowledges, for the refusal (default "pass --trust-key-store"). */
  acknowledgeHint?: string;
  /** How this front end uses another key store, for the refusal (default "--key-store DIR"). */
  keyStoreHint?: string;
  /**
   * Write the run's `flash` board record in the store's audit log (audit/board-record.ts: begun at
   * the first write, each region as it is verified, ended by the boot log); default true. Provision
   * passes false: its own `provision` record holds the writes.
   */
  record?: boolean;
  /** How this front end finishes a cut-off Burn Keys run, for E_BURN_UNFINISHED (default the CLI's). */
  burnAgainHints?: BurnAgainHints;
  /** The commands the boot log's explanation names, in this front end's words (default CLI_BOOT_LOG_HINTS). */
  bootLogHints?: BootLogHints;
  /** The folder the log's key file path is relative to when inside it (the editor: the workspace; default the working folder), else absolute. */
  pathBase?: string;
  /**
   * The operator says the board is the build's module whatever the key store's records say (the
   * CLI's --override-module-evidence; module-evidence.ts checkBuildModule); recorded in the audit log.
   */
  overrideModule?: boolean;
  /** When the records name another module, ask through `ui.confirm` (the editor's modal question); a yes is recorded. */
  askModule?: boolean;
  /** How this front end overrides, for the refusal (default "run it again with --override-module-evidence"). */
  overrideModuleHint?: string;
  /** For a plan of single files: the module the operator names (the CLI's --board), checked against the key store's records. */
  board?: BoardId;
  /** The caller checked the module against the key store's records itself, before its own record began (provision). */
  moduleChecked?: boolean;
}

export interface FlashOutcome extends FlashSessionResult {
  plan: FlashPlan;
  keys: BoardKeys;
  /** Whether the boot after the plan (a full set, or a partial plan over the board's flash) was predicted, and passed, before writing. */
  predicted: boolean;
  /** Why the store's keys were taken for the board's (workflows/evidence.ts). */
  evidence: KeyEvidence;
  /** The boot log and what it says, when one was asked for and the plan was written. */
  boot?: { text: string; explanation: BootLogExplanation };
  /** The id of the run's `flash` board record (none for a dry run, a refused plan or `record: false`). */
  recordId?: string;
  /**
   * Set when the boot log refutes the key the user vouched for (evidence `acknowledged`): the ROM
   * could not read the bootloader this run had just written with that key and verified, so BLOCK1
   * holds another key. One sentence for the user; the record says it too (`keyRefuted`), and later
   * runs with that key refuse it (evidence.ts, E_KEY_CONTRADICTED).
   */
  keyRefuted?: string;
  /** For a build's plan: the key store's records about the board's module, agreeing or overridden (module-evidence.ts). */
  module?: ModuleCheck;
}

/**
 * Flash, the one body the CLI's `flash` and the editor's Flash Secure Firmware run: pick the
 * board's flash key from the store, establish that it is the board's (evidence.ts: a burn record,
 * the flash read-back, or the user's recorded word; E_KEY_CONTRADICTED when the flash shows another key, E_KEY_EVIDENCE otherwise), make the plan, predict the boot of a full set against the
 * board's eFuses, check that the chip can be a module of the build's board (flash size and
 * silicon revision, boards/module-fit.ts) and that the key store's records do not name another
 * module for it (module-evidence.ts; E_MODULE_EVIDENCE unless overridden), check every region (address, encryption for this key, the chip's security
 * state, the config sector), write and verify (MD5) each region, then start the firmware and
 * read its boot log. Nothing is written unless every check passed.
 *
 * Errors: UserError from the plan and its checks (nothing written; E_MODULE_FLASH_SIZE and
 * E_MODULE_REVISION for a chip that is no module of the build's board, E_MODULE_EVIDENCE for a
 * board the records say is another module), link errors (the region
 * being written is named; a rerun with --incremental resumes), E_CANCELLED when `signal` aborts
 * between blocks.
 */
export async function flash(board: BoardSession, req: FlashRequest, ui: Pick<UiPort, 'info' | 'confirm'>): Promise<FlashOutcome> {
  // A real run writes the store (journal, config-sector backup, an acknowledgement): it holds the store's lock.
  if (req.dryRun) return flashLocked(board, req, ui);
  return withKeyStoreLock(req.store.dir, `flash on ${board.chip.mac.address}`, () => flashLocked(board, req, ui));
}

async function flashLocked(board: BoardSession, req: FlashRequest, ui: Pick<UiPort, 'info' | 'confirm'>): Promise<FlashOutcome> {
  const { conn, chip } = board;
  const keys = keysForBoard(req.store, chip, req.pathBase);
  // Issue 12 B: no check may stand the store's keys in for read-protected ones without evidence.
  // Its refusal comes first and alone: the key is named only once it is known to be the board's.
  const evidence = await establishKeyEvidence(board, {
    store: req.store, keys, job: 'flash', writes: true,
    ...(req.trustKeyStore ? { trust: true } : {}), ...(req.askTrust ? { ask: true } : {}),
    ...(req.acknowledgeHint ? { acknowledgeHint: req.acknowledgeHint } : {}), ...(req.keyStoreHint ? { keyStoreHint: req.keyStoreHint } : {}),
    ...(req.burnAgainHints ? { burnAgainHints: req.burnAgainHints } : {}),
  }, ui);
  if (keys.flashKeySource) {
    // The evidence line has named the key by its fingerprint already: the fingerprint is said once.
    const fp = keys.flashKey ? fingerprint(keys.flashKey) : undefined;
    ui.info(`Flash key: ${fp && evidence.text.includes(fp) ? keys.flashKeySource.replace(` (fingerprint ${fp})`, '') : keys.flashKeySource}.`);
  }
  const plan = req.plan({ flashKey: keys.flashKey, flashSize: chip.flash.sizeBytes });
  let module: ModuleCheck | undefined;
  if (plan.board) {
    // The chip cannot say which Pycom module it is, but its flash size and revision must be a
    // module's of the build's board (boards/module-fit.ts): refused before anything is written.
    const build = plan.buildDir ?? `this ${plan.board} build`;
    const fit = checkModuleFit(plan.board, chipModuleFacts(chip), build);
    ui.info(`Firmware: ${firmwareTitle(plan.board, build)} for ${chip.mac.address} (${chip.flash.sizeText} flash, ${chip.description}).`);
    for (const n of fit.notes) ui.info(`note: ${n}`);
  }
  // Nor can the chip say it is a GPy rather than a WiPy 3.0: the key store's records of the runs
  // that wrote it can (the firmware that ran before this write says nothing here: its boot log is
  // not read before writing). Another module's build is refused, or overridden and recorded; for
  // single files, the module the operator names (--board) or the app file's Pycom name says.
  const named = plan.board ? { board: plan.board, what: plan.buildDir ?? `this ${plan.board} build` } : singleFilesModule(plan, req.board);
  if (named && !req.moduleChecked) {
    module = await checkBuildModule({
      store: req.store, board: named.board, build: named.what, mac: chip.mac.address, who: chip.mac.address, job: 'flash',
      evidence: [recordedModule(req.store, chip.mac.address)],
      ...(req.overrideModule ? { override: true } : {}), ...(req.askModule ? { ask: true } : {}),
      ...(req.overrideModuleHint ? { overrideHint: req.overrideModuleHint } : {}),
    }, ui);
  }
  // Said before anything is written: what a refuted key undoes (keyRefutedByBoot, eraseBootRegion).
  if (evidence.kind === 'acknowledged' && !req.dryRun && req.bootLog !== false && plan.regions.some(isEncryptedBootloader)) {
    ui.info(`note: the key is taken on your word; if the board's ROM then cannot read the bootloader written with it, the bootloader region 0x0-${hex(BOOT_REGION_END)} is erased again, so that the key store that burned this board can flash it.`);
  }
  const { predictor, skipped, stillFails } = await boardBootPredictor(conn.loader, chip, plan, keys, req.store, { flash: romFlashIo(conn.loader), note: (l) => ui.info(l) });
  // Said once the plan's checks have passed (at its first write, or after a dry run): a refusal for
  // another reason (a misaligned address, the config sector) is not preceded by a note about the app.
  let skippedSaid = !skipped;
  const saySkipped = (): void => {
    if (!skippedSaid) ui.info(`note: ${skipped}`);
    skippedSaid = true;
  };
  // The board's record (issue #14): begun at the first write (a refused plan leaves none), each
  // region added as it begins and as it is verified, so a run cut off keeps what it finished.
  let record: BoardRecordWriter | undefined;
  const startRecord = (): void => {
    if (req.dryRun || req.record === false) return;
    record ??= new BoardRecordWriter(req.store.auditPath, 'flash', chip.mac.address, () => [keys.flashKey, keys.secureBootKey].filter((k): k is Uint8Array => k !== undefined), {
      // The module from the first line: a run cut off before its end still names what it was writing.
      port: chip.port, chipRevision: chip.revision.text, ...(named ? { board: named.board } : {}),
      keyFingerprints: { ...(keys.flashKey ? { 'flash-key': fingerprint(keys.flashKey) } : {}), ...(keys.secureBootKey ? { 'secure-boot-key': fingerprint(keys.secureBootKey) } : {}) },
    });
  };
  try {
    const result = await runFlashSession({
      io: romFlashIo(conn.loader), info: chip, plan, store: req.store, keys,
      incremental: req.incremental ?? false, dryRun: req.dryRun ?? false, forceConfigSector: req.forceConfigSector ?? false,
      compress: req.compress ?? true,
      ...(predictor ? { predictBoot: predictor } : {}),
      ...(req.signal ? { signal: req.signal } : {}),
      onProgress: (e) => {
        saySkipped();
        // Started before the first erase (the 'erase' event comes first): a run cut off during the erase is recorded too.
        startRecord();
        if (record) recordFlashProgress(record, plan, e);
        req.onProgress?.(e);
      },
      baud: board.transport.baud,
      log: (l) => ui.info(l),
    });
    const outcome: FlashOutcome = { ...result, plan, keys, evidence, predicted: predictor !== undefined && !stillFails?.(), ...(module ? { module } : {}) };
    saySkipped();
    if (req.dryRun) return outcome;
    startRecord();
    record?.add('flash', {
      regions: regionsWritten(plan, result.results),
      ...(named ? { board: named.board } : {}),
      ...(plan.generation ? { firmware: { generation: plan.generation, versions: GENERATIONS[plan.generation].versions, buildDir: plan.buildDir ?? '' } } : {}),
    });
    const keyEvidence = { keyEvidence: recordKeyEvidence(evidence.kind) };
    if (req.bootLog === false) {
      if (record) endByBoot(record, undefined, keyEvidence);
      return { ...outcome, ...(record ? { recordId: record.id } : {}) };
    }
    const text = typeof req.bootLog === 'function'
      ? await req.bootLog(board)
      : await captureBootLog(board.transport, {
        ms: req.bootLog.ms, mode: req.bootLog.mode, loader: conn.loader, note: (l) => ui.info(l), untilOutcome: true,
        ...(req.bootLog.silenceMs !== undefined ? { silenceMs: req.bootLog.silenceMs } : {}),
      });
    const explanation = explainBootLog(text, req.bootLogHints);
    const refuted = keyRefutedByBoot(outcome, explanation);
    // The chip cannot read what this run wrote at 0x0-0x8000 with the refuted key, and the store that
    // did burn the board would read it back as evidence against its own key (evidence.ts): erased
    // again, as the read-back of a board nobody has flashed, so that store can flash the board.
    const erased = refuted ? await eraseBootRegion(board, req.bootLog) : undefined;
    if (erased && !erased.ok) ui.info(`note: ${erased.why}`);
    const refutedText = refuted ? refutationSentence(refuted.fact, erased!, req.keyStoreHint) : undefined;
    // A board that was written but does not boot is a failed run, the boot log's summary its error.
    if (record) endByBoot(record, explanation, { ...keyEvidence, ...(refuted ? { keyRefuted: refuted.fact, bootRegionErased: erased!.ok } : {}) });
    return { ...outcome, boot: { text, explanation }, ...(record ? { recordId: record.id } : {}), ...(refutedText ? { keyRefuted: refutedText } : {}) };
  } catch (e) {
    record?.end('failed', {}, e instanceof Error ? e.message : String(e));
    throw e;
  }
}

/**
 * The boot log's verdict on a key taken on the user's word: when the run wrote (or verified
 * unchanged) the bootloader at 0x0/0x1000 encrypted with the store's flash key, and the ROM then
 * cannot read a bootloader at 0x1000 ("flash read err, 1000"; "invalid header" on revision 3),
 * the chip decrypts with another key than that one (the bytes are on the flash: MD5-verified).
 * Only for evidence `acknowledged`: with any other evidence the key was checked, and such a line
 * has other causes. Source of the ROM's lines: esp32-boot-security (the ROM's first-stage boot).
 */
function keyRefutedByBoot(o: FlashOutcome, explanation: BootLogExplanation): { fact: KeyRefutedFact } | undefined {
  if (o.evidence.kind !== 'acknowledged' || !o.keys.flashKey) return undefined;
  if (!explanation.findings.some((f) => BOOTLOADER_UNREADABLE.includes(f.entry.id))) return undefined;
  const boot = o.plan.regions.find(isEncryptedBootloader);
  if (!boot || !o.results.some((r) => r.address === boot.address)) return undefined;
  return { fact: { block: 'BLOCK1', keyFingerprint: fingerprint(o.keys.flashKey) } };
}

/**
 * The module a plan of single files (`flash ADDR FILE`) is for: the one the operator names (the
 * CLI's --board), else the one an app file's Pycom name says (`wipy.bin_enc` is WiPy firmware,
 * boards/catalog.ts boardFromAppFile); undefined when neither says.
 */
function singleFilesModule(plan: FlashPlan, board: BoardId | undefined): { board: BoardId; what: string } | undefined {
  // Only an app is one module's firmware: a table, a digest image or a file system image is not.
  const app = plan.regions.find((r) => r.role === 'app');
  if (!app) return undefined;
  const byName = boardFromAppFile(app.file);
  const file = path.basename(app.file);
  if (board && byName && byName !== board) {
    throw new UserError('E_BUILD_BOARD', `flash: ${file} is ${boardFacts(byName).name} firmware by its Pycom name, but --board ${board} names ${article(boardFacts(board).name)} ${boardFacts(board).name}; give --board ${byName}, or the ${boardFacts(board).name} app (${boardFacts(board).appBin}_enc); nothing was written.`);
  }
  if (board) return { board, what: byName ? file : `${file} (given for --board ${board})` };
  return byName ? { board: byName, what: file } : undefined;
}

/** A plan region holding the bootloader (or its digest image) encrypted: what a refuted key's boot could not read. */
const isEncryptedBootloader = (r: FlashPlan['regions'][number]): boolean => (r.role === 'bootloader-digest' || r.role === 'bootloader') && r.encrypted;

/** The region a refuted run erases again: the digest block at 0x0 and the bootloader, up to the partition table. */
const BOOT_REGION_END = PARTITION_TABLE_ADDRESS;

/**
 * Erases 0x0 up to the partition table again (written as 0xFF, MD5-verified) after a run whose key
 * the boot refuted: the ROM loader is entered again the board's way (the boot log started the
 * firmware), or the session's own is used when the boot log came from an in-process virtual board.
 * Never throws: a board that cannot be put back into download mode (no reset line) or a failed
 * write is returned as the sentence part that says so.
 */
async function eraseBootRegion(board: BoardSession, bootLog: FlashRequest['bootLog']): Promise<{ ok: true } | { ok: false; why: string }> {
  let again: Connection | undefined;
  try {
    if (typeof bootLog !== 'function' && bootLog !== false) {
      const t = board.transport;
      // Over socket:// nothing resets the chip; a virtual board's server resets it into download
      // mode on each new connection (virtual/tcp-server.ts), so the link is opened again. A real
      // board behind a TCP bridge is not reset by that, and connect says it is not in download mode.
      if (chooseStrategy(bootLog.mode, undefined, t.capabilities, t.url) === 'none' && isSocketUrl(t.url)) {
        await t.close();
        await t.open();
      }
      again = await connect(t, { reset: bootLog.mode, baud: board.conn.baud, attempts: 2 });
      // After a reset the ROM needs SPI_ATTACH before any flash command (identify does it, with the eFuses' pins).
      await identify(again);
    }
    await writeFlash((again ?? board.conn).loader, 0, new Uint8Array(BOOT_REGION_END).fill(0xff));
    return { ok: true };
  } catch (e) {
    const why = (e instanceof Error ? e.message : String(e)).replace(/\.$/, '');
    return { ok: false, why: `the bootloader region 0x0-${hex(BOOT_REGION_END)} this run wrote could not be erased again (${why})` };
  } finally {
    again?.loader.dispose();
  }
}

/** What the user is told of a refuted key: what the board showed, what was undone, and the way forward in this front end's words. */
function refutationSentence(fact: KeyRefutedFact, erased: { ok: true } | { ok: false; why: string }, keyStoreHint: string | undefined): string {
  const store = keyStoreHint ?? '--key-store DIR';
  const undone = erased.ok
    ? `the bootloader region 0x0-${hex(BOOT_REGION_END)} it wrote has been erased again, so flash this board with the key store that burned it (${store})`
    : `${erased.why}, and until it is, the key store that burned this board reads what is there as evidence against its own key: erase 0x0-${hex(BOOT_REGION_END)} with another tool (esptool.py erase_region 0x0 ${hex(BOOT_REGION_END)}), then flash this board with that key store (${store})`;
  return `The board's BLOCK1 does not hold the flash-encryption key ${fact.keyFingerprint} you vouched for: the ROM cannot read the bootloader that was just written encrypted with it and verified (MD5), so this key store is not the one that burned this board; ${undone}.`;
}

/**
 * A boot log as the lines a front end shows: each printed line behind "| ", then one line per
 * recognised line with its meaning (✗ failure, ✗ CRITICAL for keys the board burned itself,
 * ✓ success, • information) and the summary.
 */
export function bootLogLines(text: string, explanation: BootLogExplanation = explainBootLog(text), o: { advice?: boolean } = {}): string[] {
  // The advice is the finding's, in the words of the front end that explained the log (explainBootLog's hints).
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) if (line.trim()) out.push(`| ${line}`);
  for (const f of explanation.findings) {
    const critical = f.entry.severity === 'critical';
    const mark = critical || f.entry.severity === 'failure' ? '✗' : f.entry.severity === 'success' ? '✓' : '•';
    // A critical line always carries its advice: the board just did something that cannot be undone.
    out.push(`${mark} ${critical ? 'CRITICAL ' : ''}"${f.line}": ${f.entry.meaning}${(o.advice || critical) && f.advice ? ` (${f.advice})` : ''}.`);
  }
  out.push(explanation.summary);
  return out;
}
