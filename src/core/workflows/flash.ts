import { boardBootPredictor } from '../boot/predict-plan';
import { captureBootLog } from '../boot/capture';
import { explainBootLog, type BootLogExplanation } from '../boot/boot-log';
import type { FlashPlan } from '../flash/plan';
import { romFlashIo } from '../flash/rom-io';
import { keysForBoard, runFlashSession, type BoardKeys, type FlashSessionResult } from '../flash/session';
import type { FlashProgressEvent } from '../flash/writer';
import type { ResetMode } from '../connect/strategy';
import type { KeyStore } from '../keystore/key-store';
import { withKeyStoreLock } from '../keystore/lock';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';
import { establishKeyEvidence, type KeyEvidence } from './evidence';
import { fingerprint } from '../util/fingerprint';
import { checkModuleFit, chipModuleFacts } from '../boards/module-fit';
import { firmwareTitle } from '../firmware/outputs';
import { checkBuildModule, recordedModule, type ModuleCheck } from './module-evidence';

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
   * The operator says the board is the build's module whatever the key store's records say (the
   * CLI's --override-module-evidence; module-evidence.ts checkBuildModule); recorded in the audit log.
   */
  overrideModule?: boolean;
  /** When the records name another module, ask through `ui.confirm` (the editor's modal question); a yes is recorded. */
  askModule?: boolean;
  /** How this front end overrides, for the refusal (default "run it again with --override-module-evidence"). */
  overrideModuleHint?: string;
}

export interface FlashOutcome extends FlashSessionResult {
  plan: FlashPlan;
  keys: BoardKeys;
  /** Whether the boot of the full image set was predicted (and passed) before writing. */
  predicted: boolean;
  /** Why the store's keys were taken for the board's (workflows/evidence.ts). */
  evidence: KeyEvidence;
  /** The boot log and what it says, when one was asked for and the plan was written. */
  boot?: { text: string; explanation: BootLogExplanation };
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
  const keys = keysForBoard(req.store, chip);
  // Issue 12 B: no check may stand the store's keys in for read-protected ones without evidence.
  // Its refusal comes first and alone: the key is named only once it is known to be the board's.
  const evidence = await establishKeyEvidence(board, {
    store: req.store, keys, job: 'flash', writes: true,
    ...(req.trustKeyStore ? { trust: true } : {}), ...(req.askTrust ? { ask: true } : {}),
    ...(req.acknowledgeHint ? { acknowledgeHint: req.acknowledgeHint } : {}), ...(req.keyStoreHint ? { keyStoreHint: req.keyStoreHint } : {}),
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
    // Nor can the chip say it is a GPy rather than a WiPy 3.0: the key store's records of the
    // runs that wrote it can (the firmware that ran before this write says nothing here: its boot
    // log is not read before writing). Another module's build is refused, or overridden and recorded.
    module = await checkBuildModule({
      store: req.store, board: plan.board, build, mac: chip.mac.address, who: chip.mac.address, job: 'flash',
      evidence: [recordedModule(req.store, chip.mac.address)],
      ...(req.overrideModule ? { override: true } : {}), ...(req.askModule ? { ask: true } : {}),
      ...(req.overrideModuleHint ? { overrideHint: req.overrideModuleHint } : {}),
    }, ui);
  }
  const { predictor, skipped } = await boardBootPredictor(conn.loader, chip, plan, keys, req.store);
  if (skipped) ui.info(`note: ${skipped}`);
  const result = await runFlashSession({
    io: romFlashIo(conn.loader), info: chip, plan, store: req.store, keys,
    incremental: req.incremental ?? false, dryRun: req.dryRun ?? false, forceConfigSector: req.forceConfigSector ?? false,
    compress: req.compress ?? true,
    ...(predictor ? { predictBoot: predictor } : {}),
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.onProgress ? { onProgress: req.onProgress } : {}),
    baud: board.transport.baud,
    log: (l) => ui.info(l),
  });
  const outcome: FlashOutcome = { ...result, plan, keys, evidence, predicted: predictor !== undefined, ...(module ? { module } : {}) };
  if (req.dryRun || req.bootLog === false) return outcome;
  const text = typeof req.bootLog === 'function'
    ? await req.bootLog(board)
    : await captureBootLog(board.transport, {
      ms: req.bootLog.ms, mode: req.bootLog.mode, loader: conn.loader, note: (l) => ui.info(l), untilOutcome: true,
      ...(req.bootLog.silenceMs !== undefined ? { silenceMs: req.bootLog.silenceMs } : {}),
    });
  return { ...outcome, boot: { text, explanation: explainBootLog(text) } };
}

/**
 * A boot log as the lines a front end shows: each printed line behind "| ", then one line per
 * recognised line with its meaning (✗ failure, ✗ CRITICAL for keys the board burned itself,
 * ✓ success, • information) and the summary.
 */
export function bootLogLines(text: string, explanation: BootLogExplanation = explainBootLog(text), o: { advice?: boolean } = {}): string[] {
  const out: string[] = [];
  for (const line of text.split(/\r?\n/)) if (line.trim()) out.push(`| ${line}`);
  for (const f of explanation.findings) {
    const critical = f.entry.severity === 'critical';
    const mark = critical || f.entry.severity === 'failure' ? '✗' : f.entry.severity === 'success' ? '✓' : '•';
    // A critical line always carries its advice: the board just did something that cannot be undone.
    out.push(`${mark} ${critical ? 'CRITICAL ' : ''}"${f.line}": ${f.entry.meaning}${(o.advice || critical) && f.entry.advice ? ` (${f.entry.advice})` : ''}.`);
  }
  out.push(explanation.summary);
  return out;
}
