import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  boardRecordsCsv, captureBootLog, hardeningChoices, parseApprovedMacs, parseBoard, provision, provisionSummary, readBoardRecords, storeBuildKey, transportFromUrl, UserError, withBoard, writeFileAtomic, buildBoard, findBoard, firmwareTitle, isUserError,
  type BoardTarget, type ChipInfo, type ProvisionEvent, type ProvisionOutcome, type ProvisionRequest, type ProvisionState, type ProvisionSummaryTerms, type Transport, type VirtualEsp32, type BoardId,
} from '../../core';
import type { ProductionRowView, ProductionView, RecordFormat } from '../../../webview/src/protocol';
import { readSettings, remoteSocketOptions, resolveInWorkspace, workspaceRoot, type PycomSettings } from '../settings';
import { coreResetMode } from '../device';
import { vscodeUi } from '../vscode-ui';
import type { SelectedPort } from '../state';
import { type FlowContext, currentBuildDir, keyStore, MODULE_OVERRIDE_HINT, PROVISION_HINTS } from './context';
import { virtualBootLog } from './flash';
import { boardTitle, refreshPorts } from './ports';

/*
 * Provision Boards: the core's provisioning workflow (many boards at once, per-device keys,
 * records) with the editor as its front end. Pick the ports → each board's MAC and state read
 * (nothing written) → the operator ticks the MACs to provision → the run, a row per board in the
 * panel's Production tab, Stop between steps → Export records. A workspace that sets
 * pycom.buildPath, pycom.keyStorePath, pycom.perDeviceKeys and pycom.hardening leaves the operator
 * only the ports and the approval.
 */

/** How far a board is (0..1) when it enters each state; burning and flashing fill their span with the event's fraction. */
const STATE_PROGRESS: Readonly<Record<ProvisionState, number>> = {
  connecting: 0.02, identified: 0.05, unapproved: 1, keys: 0.08, burning: 0.1, flashing: 0.3, 'boot-check': 0.92, finished: 1, failed: 1,
};
const PHASE_SPAN = { burning: 0.2, flashing: 0.62 } as const;

/** The editor's ways on, in provision's summary line (the core's provisionSummary, as the CLI's). */
const SUMMARY_TERMS: ProvisionSummaryTerms = {
  rerun: 'run "Pycom: Provision Boards" again',
  givePort: { one: 'tick its port when you run "Pycom: Provision Boards" again', many: 'tick their ports when you run "Pycom: Provision Boards" again' },
};

/** Virtual boards one "Start virtual boards" may add to a run. */
const MAX_NEW_VIRTUAL = 16;
/** The boot log listened to after the writes on a board that is not in this window (as Flash does). */
const BOOT_LOG_MS = 2000;

/** A board chosen for the run, with what reading it found. */
interface Chosen extends SelectedPort {
  chip?: ChipInfo;
}

/**
 * The build every board gets: pycom.buildPath (relative to the workspace) when set, else the
 * firmware project's release folder for pycom.board. Throws E_NO_BUILD (one sentence, what to do).
 */
export function provisionBuildDir(s: Pick<PycomSettings, 'buildPath'>): string {
  if (s.buildPath.trim() !== '') {
    const dir = resolveInWorkspace(s.buildPath.trim());
    if (!dir || !fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new UserError('E_NO_BUILD', `The build folder ${dir ?? s.buildPath} in pycom.buildPath does not exist; build first ("Pycom: Build Secure Firmware") or set pycom.buildPath to the build's release folder.`);
    }
    return dir;
  }
  const b = currentBuildDir();
  if (!b) throw new UserError('E_NO_BUILD', 'There is no secure build to provision with: run "Pycom: Build Secure Firmware" first, or set pycom.buildPath to the build\'s release folder.');
  return b.dir;
}

/**
 * The module the build is for (its folder or app file), checked against pycom.board when that
 * names one: the chip cannot say which Pycom module it sits on, so the run names the build's and
 * the operator confirms it. Throws E_BUILD_BOARD (one sentence, the settings to change).
 */
export function provisionModule(buildDir: string, setting: string): BoardId {
  const named = parseBoard(setting);
  let built: BoardId;
  try {
    built = buildBoard(buildDir);
  } catch (e) {
    // A folder that does not say its board on its own: pycom.board names it (checked against its files).
    if (!named || !isUserError(e) || e.code !== 'E_BUILD_BOARD') throw e;
    built = buildBoard(buildDir, named);
  }
  if (named && named !== built) {
    const b = findBoard(built)!.name;
    const n = findBoard(named)!.name;
    throw new UserError('E_BUILD_BOARD', `${firmwareTitle(built, buildDir)} is for ${b} modules but pycom.board says ${n}; set pycom.board to ${b} (or auto) if the boards are ${b} modules, or pycom.buildPath to a ${n} build.`);
  }
  return built;
}

/** One sentence on a board's security state as read, for the approval list and its row. */
export function securityText(c: ChipInfo): string {
  const s = c.security;
  const fe = s.flashEncryption.enabled;
  const sb = s.secureBoot.v1Enabled;
  const keys = s.keys.flashEncryption !== 'empty' || s.keys.secureBoot !== 'empty';
  if (!fe && !sb && !keys) return `${c.description}: factory-fresh (no keys, flash encryption off, secure boot off).`;
  if (fe && sb) return `${c.description}: flash encryption on, secure boot on; a run verifies it and writes only what differs.`;
  return `${c.description}: partly provisioned (flash encryption ${fe ? 'on' : 'off'}, secure boot ${sb ? 'on' : 'off'}, keys ${keys ? 'burned' : 'empty'}); a run resumes it.`;
}

/** The run's rows and phase, posted to the Production tab a few times a second at most. */
class ProductionRun {
  readonly view: ProductionView;
  private lastPost = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ctx: FlowContext, setup: string, ports: readonly SelectedPort[]) {
    this.view = {
      phase: 'reading', setup,
      rows: ports.map((p) => ({ port: p.path, board: boardTitle(p), virtual: p.virtual, state: 'connecting', progress: 0, message: `Reading ${p.path}.` })),
    };
    this.post(true);
  }

  row(port: string): ProductionRowView {
    return this.view.rows.find((r) => r.port === port)!;
  }

  set(port: string, patch: Partial<ProductionRowView>, force = false): void {
    Object.assign(this.row(port), patch);
    this.post(force);
  }

  phase(phase: ProductionView['phase'], result?: ProductionView['result']): void {
    this.view.phase = phase;
    if (result) this.view.result = result;
    this.post(true);
  }

  /** The core's events: states and progress into the board's row, the plan and warnings into the log. */
  onEvent(e: ProvisionEvent): void {
    if (e.type === 'state') {
      const r = this.row(e.port);
      const outcome = e.state === 'finished' ? 'finished' : e.state === 'failed' ? 'failed' : e.state === 'unapproved' ? 'untouched' : undefined;
      this.set(e.port, {
        state: e.state, message: e.message, ...(e.mac ? { mac: e.mac } : {}), ...(outcome ? { outcome } : {}),
        progress: outcome ? 1 : Math.max(r.progress, STATE_PROGRESS[e.state]),
      }, true); // a board's state change is posted at once (a few per board); only progress is throttled
    } else if (e.type === 'progress') {
      const base = STATE_PROGRESS[e.state];
      this.set(e.port, { progress: Math.max(this.row(e.port).progress, base + PHASE_SPAN[e.state] * Math.max(0, Math.min(1, e.fraction))) });
    } else if (e.type === 'plan') {
      // The plan each board is burned by (the approved MAC is its confirmation), in the log as the CLI prints it.
      this.ctx.log.info(`[${e.mac}] Burn Keys plan (${e.steps} step(s) to burn):\n${e.text}`);
    }
  }

  /** Posts now when forced or when the last post is old enough; otherwise once, a little later. */
  private post(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastPost < 150) {
      this.timer ??= setTimeout(() => { this.timer = undefined; this.post(true); }, 150);
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastPost = now;
    this.ctx.state.update({ production: structuredClone(this.view) });
  }

  dispose(): void {
    if (this.timer) this.post(true);
  }
}

/**
 * The ports for the run, as a multi-select: Pycom boards on serial ports (recognised by their USB
 * ids) come ticked; other serial ports and virtual boards are listed, virtual boards marked. The
 * last item starts virtual boards in this window to rehearse a run; they come back ticked.
 */
async function pickPorts(ctx: FlowContext): Promise<SelectedPort[] | undefined> {
  let ticked: Set<string> | undefined;
  for (;;) {
    const rows = await refreshPorts(ctx);
    type Item = vscode.QuickPickItem & { row?: SelectedPort; start?: boolean };
    const items: Item[] = rows.map((r) => ({
      label: `${r.virtual ? '$(beaker)' : '$(plug)'} ${boardTitle(r)}`,
      description: r.path,
      detail: r.virtual ? 'Virtual board: nothing real is burned or flashed' : r.pycom ? `Pycom board · ${r.detail ?? ''}` : `${r.detail ?? 'serial port'} · not recognised as a Pycom board`,
      picked: ticked ? ticked.has(r.path) : r.pycom === true,
      row: { path: r.path, virtual: r.virtual, ...(r.board ? { board: r.board } : {}) },
    }));
    const profile = readSettings().virtualBoardProfile;
    items.push({ label: `$(add) Start virtual ${profile} boards…`, detail: 'In this window, to rehearse a run; gone when the window closes', start: true });
    const picked = await vscode.window.showQuickPick(items, {
      title: 'Pycom: Provision Boards: which ports?',
      placeHolder: 'Pycom boards are ticked. Next, each board\'s MAC is read (nothing is written) for you to approve.',
      canPickMany: true, ignoreFocusOut: true, matchOnDescription: true,
    });
    if (!picked) return undefined;
    if (!picked.some((p) => p.start)) return picked.flatMap((p) => (p.row ? [p.row] : []));
    const count = await vscode.window.showInputBox({
      title: `Pycom: Provision Boards: how many virtual ${profile} boards?`, value: '3', ignoreFocusOut: true,
      validateInput: (v) => (/^\d+$/.test(v.trim()) && Number(v) >= 1 && Number(v) <= MAX_NEW_VIRTUAL ? undefined : `Type a number from 1 to ${MAX_NEW_VIRTUAL}.`),
    });
    const n = Number(count?.trim());
    if (!count || !Number.isInteger(n) || n < 1 || n > MAX_NEW_VIRTUAL) return undefined;
    ticked = new Set(picked.flatMap((p) => (p.row ? [p.row.path] : [])));
    for (let i = 0; i < n; i++) {
      const b = await ctx.virtuals.start(profile);
      ctx.log.info(`started a virtual ${b.title} on ${b.url} for provisioning`);
      ticked.add(b.url);
    }
  }
}

/** Development or release for the whole run: pycom.hardening, or asked once when it says "ask". */
async function runProfile(ctx: FlowContext, s: PycomSettings): Promise<boolean | undefined> {
  if (s.hardening !== 'ask') return s.hardening === 'on';
  return vscodeUi(ctx.log).choose!({
    title: 'Pycom: Provision Boards: development or release for every board of this run?',
    placeholder: 'Set pycom.hardening in the workspace to fix it for an operator; Release also burns DISABLE_DL_ENCRYPT, DISABLE_DL_DECRYPT, DISABLE_DL_CACHE and JTAG_DISABLE',
    items: hardeningChoices(),
  });
}

/**
 * Provision Boards. Refuses up front (nothing opened) when there is no build or signing key or a
 * run is already going; reads each chosen board (identify only) and lists its MAC and state;
 * provisions only the boards whose MAC the operator ticked (the others are never opened again and
 * are shown as untouched). Resolves with the core's outcome, or undefined when the operator
 * stopped before anything ran (Escape, nothing ticked).
 */
export async function provisionBoards(ctx: FlowContext): Promise<ProvisionOutcome | undefined> {
  if (ctx.provisionAbort) throw new UserError('E_BUSY', 'Boards are being provisioned already; wait for that run to end or stop it in the Production tab.');
  const s = readSettings();
  const store = keyStore();
  const buildDir = provisionBuildDir(s);
  const board = provisionModule(buildDir, s.board);
  const moduleName = findBoard(board)!.name;
  if (!fs.existsSync(store.signingKeyPath)) throw new UserError('E_NO_KEY', `There is no signing key at ${store.signingKeyPath}: run "Pycom: Generate Keys" and build with it first.`);
  // Checked again by the core; here so the operator hears it before plugging boards in and approving them.
  if (!storeBuildKey(store)) throw new UserError('E_NO_KEY', `There is no build key at ${store.sharedFlashKeyPath} (the flash-encryption key the build was made with): put that key there with "Pycom: Import Key", then provision.`);
  const hardening = await runProfile(ctx, s);
  if (hardening === undefined) return undefined;
  const ports = await pickPorts(ctx);
  if (!ports?.length) return undefined;

  const abort = new AbortController();
  ctx.provisionAbort = abort;
  const mode = coreResetMode(s.resetMode);
  const setup = `${firmwareTitle(board, buildDir)} for each approved board · key store ${store.dir} · ${s.perDeviceKeys ? 'per-device keys (one per MAC)' : 'the shared flash-encryption key'} · ${hardening ? 'release (hardening fuses too)' : 'development'}`;
  const run = new ProductionRun(ctx, setup, ports);
  ctx.panel.show('production');
  try {
    // 1. Read every board (identify only: nothing is written), in parallel.
    const chosen: Chosen[] = ports.map((p) => ({ ...p }));
    await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Pycom: reading ${ports.length} board(s)` }, () => Promise.all(chosen.map(async (c) => {
      const note = (l: string) => ctx.log.info(`[${c.path}] ${l}`);
      try {
        c.chip = await withBoard({ port: c.path, reset: mode, baud: s.baudRate, ...remoteSocketOptions(s) }, { info: note, warn: (l) => ctx.log.warn(`[${c.path}] ${l}`) }, async (b) => b.chip);
        run.set(c.path, { mac: c.chip.mac.address, state: 'identified', progress: STATE_PROGRESS.identified, message: securityText(c.chip) });
      } catch (e) {
        run.set(c.path, { state: 'failed', outcome: 'failed', progress: 1, message: e instanceof Error ? e.message : String(e) }, true);
      }
    })));
    const seen = chosen.filter((c): c is Chosen & { chip: ChipInfo } => c.chip !== undefined);
    if (seen.length === 0) {
      run.phase('done', { ok: false, text: 'No chosen board answered; nothing was written. Check the ports (see each row) and run "Pycom: Provision Boards" again.' });
      void vscode.window.showWarningMessage('Pycom: no chosen board answered; nothing was written (see the Production tab).');
      return undefined;
    }

    // 2. The operator approves the boards by MAC; nothing runs on a board that is not ticked.
    run.phase('approving');
    const approvedItems = await vscode.window.showQuickPick(seen.map((c) => ({
      label: c.chip.mac.address,
      description: `${boardTitle(c)} · ${c.path}`,
      detail: securityText(c.chip),
      picked: false,
      board: c,
    })), {
      title: `Pycom: Provision Boards: tick the MAC of each ${moduleName} board to provision (${seen.length} read)`,
      placeHolder: `Ticked boards get their keys, flash encryption and secure boot burned (cannot be undone) and the build written. ${setup}`,
      canPickMany: true, ignoreFocusOut: true, matchOnDescription: true, matchOnDetail: true,
    });
    const approved = approvedItems ?? [];
    const approvedPorts = new Set(approved.map((a) => a.board.path));
    for (const c of seen) {
      if (!approvedPorts.has(c.path)) run.set(c.path, { state: 'unapproved', outcome: 'untouched', progress: 1, message: `${c.chip.mac.address} was not approved; it was left untouched.` });
    }
    if (approved.length === 0) {
      run.phase('done', { ok: false, text: 'No board was approved; nothing was written.' });
      void vscode.window.showInformationMessage('Pycom: no board was approved; nothing was written.');
      return undefined;
    }
    const macs = parseApprovedMacs(approved.map((a) => a.label), 'the approved boards');

    // 3. The core's provisioning run on the approved boards only.
    const inWindow = new Map<Transport, VirtualEsp32>();
    const targets: BoardTarget[] = approved.map(({ board: c }) => {
      const v = ctx.virtuals.find(c.path);
      if (!v) return { port: c.path, reset: mode, baud: s.baudRate, ...remoteSocketOptions(s) };
      const transport = transportFromUrl(c.path);
      inWindow.set(transport, v.dev);
      return { port: c.path, reset: mode, baud: s.baudRate, transport };
    });
    // A virtual board in this window prints what its boot model predicts; any other board is started and listened to (as Flash does).
    const bootLog: ProvisionRequest['bootLog'] = inWindow.size === 0 ? { ms: BOOT_LOG_MS, mode } : async (b) => {
      const dev = inWindow.get(b.transport);
      return dev ? virtualBootLog(dev) : captureBootLog(b.transport, { ms: BOOT_LOG_MS, mode, loader: b.conn.loader, note: (l) => ctx.log.info(l) });
    };
    const virtual = new Set(ports.filter((p) => p.virtual).map((p) => p.path));
    run.phase('running');
    abort.signal.addEventListener('abort', () => run.phase('stopping'), { once: true });
    ctx.log.info(`provisioning ${macs.join(', ')} (${setup})`);
    const outcome = await provision({
      // The module question is asked even when pycom.board names it: a setting is not the operator's word for these boards.
      ports: targets, store, buildDir, board, confirmModule: true, overrideModuleHint: MODULE_OVERRIDE_HINT, perDeviceKeys: s.perDeviceKeys, hardening, approvedMacs: macs, bootLog,
      hints: PROVISION_HINTS, isVirtual: (p) => virtual.has(p), signal: abort.signal, onEvent: (e) => run.onEvent(e),
    }, { info: (l) => ctx.log.info(l), warn: (l) => ctx.log.warn(l), confirm: vscodeUi(ctx.log).confirm! });

    // 4. The rows from the results (fingerprints only), and how the run ended.
    for (const b of outcome.boards) {
      run.set(b.port, {
        state: b.state, message: b.message, progress: 1, outcome: b.state === 'unapproved' ? 'untouched' : b.state,
        ...(b.mac ? { mac: b.mac } : {}), ...(b.flashKeyFingerprint ? { flashKey: b.flashKeyFingerprint } : {}),
      });
    }
    // The CLI's summary wording (the core's provisionSummary), in the editor's terms.
    const text = provisionSummary(outcome, store.auditPath, SUMMARY_TERMS, abort.signal.aborted);
    run.phase('done', { ok: outcome.ok, text });
    ctx.log.info(`provisioning: ${text}`);
    const shown = outcome.ok ? vscode.window.showInformationMessage(`Pycom: ${text}`, 'Export Records') : vscode.window.showWarningMessage(`Pycom: ${text}`, 'Export Records');
    void Promise.resolve(shown).then((a) => a && vscode.commands.executeCommand('pycom.exportRecords'));
    ctx.refreshAll();
    return outcome;
  } catch (e) {
    run.phase('done', { ok: false, text: e instanceof Error ? e.message : String(e) });
    throw e;
  } finally {
    run.dispose();
    ctx.provisionAbort = undefined;
  }
}

/** Stops a running provisioning run: each board stops between steps (never inside an eFuse burn). */
export function stopProvisioning(ctx: FlowContext): void {
  if (!ctx.provisionAbort || ctx.provisionAbort.signal.aborted) return;
  ctx.log.warn('provisioning: stop requested; each board stops before its next step.');
  ctx.provisionAbort.abort();
}

/**
 * Export Board Records: every board record of the key store (provision, flash, ota-image and
 * Burn Keys runs; fingerprints, never keys) as JSON or CSV through a save dialog, with the core's
 * records export (the CLI's `records --format`). Resolves with the file written, or undefined.
 */
export async function exportRecords(ctx: FlowContext, format?: RecordFormat): Promise<string | undefined> {
  const store = keyStore();
  const records = readBoardRecords(store.auditPath);
  if (records.length === 0) {
    void vscode.window.showInformationMessage('Pycom: the key store has no board records yet; they are written when boards are provisioned, flashed or burned.');
    return undefined;
  }
  const fmt = format ?? (await vscode.window.showQuickPick([
    { label: 'JSON', description: 'every field, eFuse states before and after included', format: 'json' as const },
    { label: 'CSV', description: 'one row per record, for a spreadsheet', format: 'csv' as const },
  ], { title: `Pycom: Export Board Records (${records.length}): which format?` }))?.format;
  if (!fmt) return undefined;
  const name = `board-records-${new Date().toISOString().slice(0, 10)}.${fmt}`;
  const target = await vscode.window.showSaveDialog({
    title: `Export ${records.length} board record(s) as ${fmt.toUpperCase()}`,
    defaultUri: vscode.Uri.file(path.join(workspaceRoot() ?? path.dirname(store.dir), name)),
    filters: fmt === 'csv' ? { CSV: ['csv'] } : { JSON: ['json'] },
  });
  if (!target) return undefined;
  const text = fmt === 'csv' ? boardRecordsCsv(records) : `${JSON.stringify(records, null, 2)}\n`;
  writeFileAtomic(target.fsPath, Buffer.from(text, 'utf8'), { what: 'records export' });
  ctx.log.info(`exported ${records.length} board record(s) to ${target.fsPath}`);
  void vscode.window.showInformationMessage(`Pycom: exported ${records.length} board record(s) to ${path.basename(target.fsPath)}.`);
  return target.fsPath;
}
