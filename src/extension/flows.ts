import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AuditLog, boardBootPredictor, bootEfusesFromRaw, captureBootLog, decodeEfuses, describePort, digestPrivateKey, encodeSec1Pem, enterDownloadMode, executeBurnKeys, explainBootLog, findBuildOutputs, findProjectRoot, fingerprint, hex, identify, isThreeFour, keyBits, keyBytes, isUserError, keysForBoard, KeyStore, knownSlots, listPorts, makeOtaImage, normaliseMac, parseBoard, pendingSteps, planBurnKeys, planFromBuild, predictBoot, readAudit, readEfuses, readHardwareKeyFile, readSigningKeyFile, romFlashIo, runFlashSession, transportFromUrl, UserError, writeFileAtomic, writeNewKeyFile, type BoardId, type BuildOutputs } from '../core';
import { readSettings, resolveInWorkspace, workspaceRoot } from './settings';
import { withDevice, chipView, coreResetMode, type DeviceSession } from './device';
import { snapshotFromWords, planSnapshot } from './sources/efuse-snapshot';
import { generateMissingKeys } from './keys-actions';
import { pickHardening } from './burn-options';
import type { UiState, SelectedPort, PortRow } from './state';
import type { PycomPanel } from './panel';
import type { VirtualBoards } from './virtual-boards';
import type { FlashProgressView } from '../../webview/src/protocol';

export interface FlowContext {
  log: vscode.LogOutputChannel;
  state: UiState;
  panel: PycomPanel;
  virtuals: VirtualBoards;
  refreshAll(): void;
  /** Runs the pycom build task and resolves with its exit code. */
  runBuildTask(): Promise<number | undefined>;
  /** Set while a flash runs, so the panel's Cancel reaches it. */
  flashAbort?: AbortController;
}

const cancelled = (what: string): UserError => new UserError('E_CANCELLED', `${what} was cancelled; nothing more was sent to the board.`);

export function keyStore(): KeyStore {
  const dir = resolveInWorkspace(readSettings().keyStorePath);
  if (!dir) throw new UserError('E_NO_WORKSPACE', 'Open a folder first: the key store lives inside the workspace.');
  return new KeyStore(dir);
}

/** The firmware checkout (its esp32/ folder), from pycom.firmwarePath or the workspace. */
export function firmwareEsp32Dir(): string | undefined {
  const start = resolveInWorkspace(readSettings().firmwarePath) ?? workspaceRoot();
  if (!start || !fs.existsSync(start)) return undefined;
  const root = findProjectRoot(start);
  return root ? path.join(root, 'esp32') : undefined;
}

/** The board id the build is for: the pycom.board setting, else the only board built so far. */
export function buildBoard(esp32Dir: string | undefined): BoardId | undefined {
  const fromSetting = parseBoard(readSettings().board);
  if (fromSetting) return fromSetting;
  if (!esp32Dir) return undefined;
  const dir = path.join(esp32Dir, 'build');
  const built = fs.existsSync(dir) ? fs.readdirSync(dir).map(parseBoard).filter((b): b is BoardId => b !== undefined) : [];
  return built.length === 1 ? built[0] : undefined;
}

/** The secure build outputs as the core classifies them (decrypted with the key store's key when it is there). */
export function currentBuild(flashKey?: Uint8Array): BuildOutputs | undefined {
  const esp32 = firmwareEsp32Dir();
  const board = buildBoard(esp32);
  if (!esp32 || !board) return undefined;
  const dir = path.join(esp32, 'build', board, 'release');
  if (!fs.existsSync(dir)) return undefined;
  return findBuildOutputs(dir, { board, ...(flashKey ? { flashKey } : {}) });
}

// ---------------------------------------------------------------- ports

/** "GPy (virtual)", "Virtual board", "Pysense", or the port itself: virtual boards always say so. */
export function boardTitle(p: { path: string; virtual: boolean; board?: string }): string {
  if (!p.board) return p.virtual ? `Virtual board ${p.path}` : p.path;
  return p.virtual && !/virtual/i.test(p.board) ? `${p.board} (virtual)` : p.board;
}

export async function refreshPorts(ctx: FlowContext): Promise<PortRow[]> {
  const listing = await listPorts();
  if (listing.warning) ctx.log.warn(listing.warning);
  const rows: PortRow[] = [];
  const configured = readSettings().port;
  // A virtual board started outside the editor (npm start's `pycom-secure sim serve`) is only known by its URL.
  if (configured.startsWith('socket://') && !ctx.virtuals.find(configured)) rows.push({ path: configured, virtual: true, board: 'Virtual board', detail: 'socket:// (pycom-secure sim serve)' });
  for (const v of ctx.virtuals.list()) rows.push({ path: v.url, virtual: true, board: `${v.title}`, detail: 'started by this window' });
  for (const p of listing.ports) rows.push({ path: p.path, virtual: false, ...(p.board ? { board: p.board.name } : {}), detail: describePort(p) });
  ctx.state.update({ ports: rows });
  return rows;
}

function select(ctx: FlowContext, row: PortRow): SelectedPort {
  const port: SelectedPort = { path: row.path, virtual: row.virtual, ...(row.board ? { board: row.board } : {}) };
  ctx.state.update({ port });
  return port;
}

/**
 * Asks which board to use. Virtual boards come first (and one can be started from here), so a
 * first Burn Keys is rehearsed where nothing can be bricked.
 */
export async function pickBoard(ctx: FlowContext, title: string, preferVirtual: boolean): Promise<SelectedPort | undefined> {
  const rows = await refreshPorts(ctx);
  type Item = vscode.QuickPickItem & { row?: PortRow; start?: boolean; manual?: boolean };
  const current = ctx.state.port;
  const ordered = [...rows].sort((a, b) => {
    const rank = (r: PortRow) => (r.path === current?.path ? 0 : 1) + (preferVirtual && !r.virtual ? 2 : 0);
    return rank(a) - rank(b);
  });
  const items: Item[] = ordered.map((r) => ({
    label: `${r.virtual ? '$(beaker)' : '$(plug)'} ${boardTitle(r)}`,
    description: r.path === current?.path ? `${r.path} · selected` : r.path,
    detail: r.virtual ? 'Virtual board: nothing real is burned or flashed' : r.detail,
    row: r,
  }));
  items.push({ label: `$(add) Start a virtual ${readSettings().virtualBoardProfile}`, detail: 'In this window; gone when it closes', start: true });
  items.push({ label: '$(edit) Enter a port or socket:// URL…', manual: true });
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Virtual boards first: rehearse before touching a real board', ignoreFocusOut: true });
  if (!pick) return undefined;
  if (pick.row) return select(ctx, pick.row);
  if (pick.start) {
    const b = await ctx.virtuals.start(readSettings().virtualBoardProfile);
    ctx.log.info(`started a virtual ${b.title} on ${b.url}`);
    await refreshPorts(ctx);
    return select(ctx, { path: b.url, virtual: true, board: b.title });
  }
  const typed = await vscode.window.showInputBox({ title: 'Port', prompt: 'A serial device (/dev/ttyACM0, COM3) or a virtual board (socket://127.0.0.1:PORT)', value: readSettings().port, ignoreFocusOut: true });
  if (!typed) return undefined;
  const virtual = typed.startsWith('socket://');
  return select(ctx, { path: typed.trim(), virtual, ...(virtual ? { board: 'Virtual board' } : {}) });
}

export async function selectPort(ctx: FlowContext): Promise<void> {
  const port = await pickBoard(ctx, 'Pycom: Select Port', false);
  if (!port) return;
  // Only trusted workspaces may store the port: an untrusted one must not choose which board gets flashed.
  const target = vscode.workspace.isTrusted && vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('pycom').update('port', port.path, target);
  ctx.log.info(`selected port ${port.path}${port.virtual ? ' (virtual board)' : ''}`);
}

async function boardForCommand(ctx: FlowContext, title: string): Promise<SelectedPort | undefined> {
  return ctx.state.port ?? (await pickBoard(ctx, title, true));
}

// ---------------------------------------------------------------- eFuses and chip

export async function readBoard(ctx: FlowContext, port?: SelectedPort): Promise<void> {
  const p = port ?? (await boardForCommand(ctx, 'Pycom: Read eFuses'));
  if (!p) return;
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Reading ${p.path}`, cancellable: false }, async () => {
    await withDevice(p.path, readSettings(), (l) => ctx.log.info(l), async (d) => {
      const snap = await readEfuses(d.conn.loader);
      ctx.state.update({ chip: chipView(d.info, p.virtual), efuses: snapshotFromWords(snap.words, `${boardTitle(p)} ${d.info.mac.address} on ${p.path}`) });
      ctx.log.info(`read ${d.info.description}, MAC ${d.info.mac.address}: flash encryption ${d.info.security.flashEncryption.enabled ? 'on' : 'off'}, secure boot ${d.info.security.secureBoot.v1Enabled ? 'on' : 'off'}`);
    });
  });
}

export async function enterDownload(ctx: FlowContext): Promise<void> {
  const p = await boardForCommand(ctx, 'Pycom: Enter Download Mode');
  if (!p) return;
  const t = transportFromUrl(p.path);
  await t.open();
  try {
    const r = await enterDownloadMode(t, coreResetMode(readSettings().resetMode), undefined);
    ctx.log.info(`download mode (${r.strategy}): ${r.message}`);
    void vscode.window.showInformationMessage(`Pycom: ${r.message}`);
  } finally {
    await t.close().catch(() => undefined);
  }
}

// ---------------------------------------------------------------- Burn Keys

/**
 * Burn Keys, the whole sequence: pick the board (virtual first) → read its eFuses → plan →
 * show the plan with before/after columns → the user types the board's MAC → burn with
 * progress → the core verifies → read again and show the new state. Audit-logged by the core.
 */
export async function burnKeys(ctx: FlowContext, port?: SelectedPort): Promise<boolean> {
  const p = port ?? (await pickBoard(ctx, 'Pycom: Burn Keys: which board?', true));
  if (!p) return false;
  const s = readSettings();
  const store = keyStore();
  if (!fs.existsSync(store.signingKeyPath)) throw new UserError('E_NO_KEY', `There is no signing key at ${store.signingKeyPath}: run "Pycom: Generate Keys" first.`);
  const warning = store.exposureWarning();
  if (warning) ctx.log.warn(warning);
  const audit = new AuditLog(store.auditPath);
  const history = readAudit(audit.file);
  for (const d of history.damaged) ctx.log.warn(`line ${d.line} of ${audit.file} is damaged; the other lines are used.`);
  return withDevice(p.path, s, (l) => ctx.log.info(l), async (d) => {
    const snap = await readEfuses(d.conn.loader);
    const threeFour = isThreeFour(decodeEfuses(snap).codingScheme);
    const flash = store.flashKeyFor(d.info.mac.address, s.perDeviceKeys ? 'per-device' : 'shared', keyBytes(threeFour ? '3/4' : 'none'));
    if (flash.created) ctx.log.info(`generated the per-device flash-encryption key for ${d.info.mac.address} (fingerprint ${flash.fingerprint})`);
    // The reflashable secure boot key is the digest of the signing key (never its public key).
    const secureBootKey = digestPrivateKey(readSigningKeyFile(store.signingKeyPath), keyBits(threeFour ? '3/4' : 'none'));
    // Development or release: asked before the plan, so the plan the user reviews (and the MAC they
    // type) covers exactly the fuses that will be burned.
    const hardening = await pickHardening(vscode.window, d.info.mac.address);
    if (hardening === undefined) {
      ctx.log.info('Burn Keys: no profile chosen, nothing was burned.');
      return false;
    }
    const plan = planBurnKeys(snap, {
      target: { chip: d.info.chip, revision: d.info.revision.major, mac: d.info.mac.address },
      flashKey: flash.key, secureBootKey, hardening, history: history.records,
    });
    const source = `${boardTitle(p)} ${d.info.mac.address} on ${p.path}`;
    ctx.state.update({ chip: chipView(d.info, p.virtual), efuses: planSnapshot(snap.words, source, plan) });
    ctx.panel.show('efuses');
    for (const w of plan.warnings) ctx.log.warn(w);
    if (pendingSteps(plan).length === 0) {
      ctx.state.update({ efuses: snapshotFromWords(snap.words, source) });
      void vscode.window.showInformationMessage(`Pycom: ${d.info.mac.address} already has its keys burned and protected; nothing to do.`);
      return true;
    }
    const typed = await vscode.window.showInputBox({
      title: `Burn Keys on ${p.virtual ? 'the VIRTUAL board' : 'a REAL board'} ${plan.mac}`,
      prompt: `Review the plan in the Pycom panel. Type this board's MAC (${plan.mac}) to burn ${pendingSteps(plan).length} step(s). eFuses cannot be unburned.`,
      placeHolder: plan.mac,
      ignoreFocusOut: true,
      validateInput: (v) => {
        try {
          return normaliseMac(v) === plan.mac ? undefined : `That is not this board's MAC; type ${plan.mac}.`;
        } catch {
          return `Type the MAC as six hex bytes: ${plan.mac}.`;
        }
      },
    });
    if (typed === undefined) {
      ctx.state.update({ efuses: snapshotFromWords(snap.words, source) });
      ctx.log.info('Burn Keys: not confirmed, nothing was burned.');
      return false;
    }
    const apbMhz = d.info.crystalMhz === 26 ? 26 : 40;
    const abort = new AbortController();
    let r: Awaited<ReturnType<typeof executeBurnKeys>>;
    try {
      r = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Burning eFuses on ${plan.mac}`, cancellable: true }, async (progress, token) => {
        // A cancel never stops a step halfway (a half-burned block): the core checks it between steps.
        token.onCancellationRequested(() => {
          ctx.log.warn('Burn Keys: cancel requested; stopping before the next step.');
          abort.abort();
        });
        const steps = pendingSteps(plan).length;
        return executeBurnKeys(d.conn.loader, plan, {
          confirmMac: typed, flashKey: flash.key, secureBootKey, audit, revision: d.info.revision.text, engine: { apbMhz }, signal: abort.signal,
          onProgress: (m) => {
            ctx.log.info(`burn: ${m}`);
            progress.report({ message: m, increment: 100 / (steps * 3) });
          },
        });
      });
    } catch (e) {
      if (isUserError(e) && e.code === 'E_CANCELLED') {
        // Show what the chip holds now; the audit log keeps the run open, the next Burn Keys resumes it.
        const now = await readEfuses(d.conn.loader);
        ctx.state.update({ chip: chipView(await identify(d.conn), p.virtual), efuses: snapshotFromWords(now.words, source) });
        ctx.log.warn(e.message);
        void vscode.window.showWarningMessage(`Pycom: ${e.message}`, 'Burn Keys', 'Show Audit Log').then((a) => {
          if (a === 'Burn Keys') void vscode.commands.executeCommand('pycom.burnKeys');
          if (a === 'Show Audit Log') void vscode.commands.executeCommand('pycom.showAuditLog');
        });
        return false;
      }
      throw e;
    }
    // Read back through the link, not from the burn result, so the views show what the chip reports now.
    const after = await readEfuses(d.conn.loader);
    const info = await identify(d.conn);
    ctx.state.update({ chip: chipView(info, p.virtual), efuses: snapshotFromWords(after.words, source) });
    ctx.panel.show('efuses');
    ctx.log.info(`Burn Keys done on ${plan.mac}: ${r.burned.length} step(s) burned and verified; audit ${r.id} in ${audit.file}`);
    void vscode.window.showInformationMessage(`Pycom: burned and verified ${r.burned.length} step(s) on ${plan.mac}: keys protected, flash encryption on, secure boot on${hardening ? ', download-mode crypto and JTAG closed' : ''}.`, 'Show Audit Log')
      .then((a) => a && vscode.commands.executeCommand('pycom.showAuditLog'));
    return true;
  });
}

// ---------------------------------------------------------------- Flash

function progressView(board: string, regions: { name: string; address: number; size: number }[]): FlashProgressView {
  return { board, state: 'running', regions: regions.map((r) => ({ ...r, written: 0 })), log: [] };
}

/**
 * Flashes the current build: every check of the flash plan (including the boot prediction) runs
 * before the first byte is written; progress goes to the panel and the status bar; the panel's
 * Cancel and the notification's Cancel both abort through one signal.
 */
export async function flashFirmware(ctx: FlowContext, port?: SelectedPort): Promise<boolean> {
  const p = port ?? (await boardForCommand(ctx, 'Pycom: Flash Secure Firmware'));
  if (!p) return false;
  if (ctx.flashAbort) throw new UserError('E_BUSY', 'A flash is already running; wait for it or cancel it in the Flash Progress tab.');
  const s = readSettings();
  const store = keyStore();
  const boardLabel = p.board ?? p.path;
  const view: { v?: FlashProgressView } = {};
  const push = (v: FlashProgressView) => { view.v = v; ctx.state.update({ flash: v }); };
  const addLog = (line: string) => {
    ctx.log.info(`flash: ${line}`);
    if (view.v) push({ ...view.v, log: [...view.v.log, line].slice(-200) });
  };
  const abort = new AbortController();
  ctx.flashAbort = abort;
  ctx.panel.show('flash');
  try {
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Flashing ${boardLabel}`, cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => abort.abort());
      return withDevice(p.path, s, (l) => ctx.log.info(l), async (d) => {
        const keys = keysForBoard(store, d.info);
        const build = currentBuild(keys.flashKey);
        if (!build) throw new UserError('E_NO_BUILD', 'There is no secure build to flash: run "Pycom: Build Secure Firmware" first (or set pycom.firmwarePath and pycom.board).');
        const plan = planFromBuild(build, d.info.flash.sizeBytes !== undefined ? { flashSize: d.info.flash.sizeBytes } : {});
        push(progressView(boardLabel, plan.regions.map((r) => ({ name: `${path.basename(r.file)} (${r.role})`, address: r.address, size: r.data.length }))));
        if (keys.flashKeySource) addLog(`flash key ${keys.flashKey ? fingerprint(keys.flashKey) : ''} from the key store`);
        const { predictor, skipped } = await boardBootPredictor(d.conn.loader, d.info, plan, keys, store);
        if (skipped) addLog(`note: ${skipped}`);
        const starts = plan.regions.map((_, i) => plan.regions.slice(0, i).reduce((n, r) => n + r.data.length, 0));
        let lastPost = 0;
        let lastPct = 0;
        const result = await runFlashSession({
          io: romFlashIo(d.conn.loader), info: d.info, plan, store, keys, signal: abort.signal,
          ...(predictor ? { predictBoot: predictor } : {}),
          log: addLog,
          onProgress: (e) => {
            const now = Date.now();
            // The webview and status bar need a few updates a second, not one per 4 KB block.
            if (e.phase !== 'done' && now - lastPost < 150) return;
            lastPost = now;
            const v = view.v!;
            const regions = v.regions.map((r, i) => ({ ...r, written: Math.max(0, Math.min(r.size, e.bytesDone - starts[i]!)) }));
            push({ ...v, regions, bytesPerSecond: e.throughput, ...(e.etaSeconds !== undefined ? { etaSeconds: e.etaSeconds } : {}) });
            const pct = Math.floor((e.bytesDone * 100) / Math.max(1, e.bytesTotal));
            progress.report({ message: `${path.basename(e.file)} @ ${hex(e.address)}`, increment: pct - lastPct });
            lastPct = pct;
          },
        });
        for (const n of result.report.notes) addLog(`note: ${n}`);
        for (const r of result.results) addLog(`${path.basename(r.file)} @ ${hex(r.address)}: ${r.bytesWritten === 0 ? 'unchanged' : `${r.bytesWritten} of ${r.length} bytes written`}, verified (MD5)`);
        const prediction = predictor ? 'Boot prediction: the board boots (the digest, the signatures and the encryption match its eFuses).' : 'Boot prediction not run (partial plan).';
        addLog(prediction);
        const bootLog = await bootLogAfterFlash(ctx, p, d, addLog);
        const ok = bootLog ? bootLog.verdict !== 'failed' : true;
        const text = bootLog ? `${prediction} ${bootLog.summary}` : prediction;
        push({ ...view.v!, state: 'done', regions: view.v!.regions.map((r) => ({ ...r, written: r.size })), result: { ok, text } });
        void vscode.window.showInformationMessage(`Pycom: flashed ${boardLabel}. ${text}`);
        return ok;
      });
    });
  } catch (e) {
    if (view.v) push({ ...view.v, state: abort.signal.aborted ? 'cancelled' : 'failed', result: { ok: false, text: e instanceof Error ? e.message : String(e) } });
    if (abort.signal.aborted && !(e instanceof UserError)) throw cancelled('The flash');
    throw e;
  } finally {
    ctx.flashAbort = undefined;
  }
}

/**
 * The boot log after a flash, explained. A real board or a virtual board behind `sim serve` is
 * started into its firmware (reset lines, or FLASH_END when there are none) and listened to, the
 * way the CLI's `flash` does it; a virtual board in this window prints what the boot model predicts.
 */
async function bootLogAfterFlash(ctx: FlowContext, p: SelectedPort, d: DeviceSession, addLog: (line: string) => void): Promise<ReturnType<typeof explainBootLog> | undefined> {
  const inProcess = ctx.virtuals.find(p.path);
  let text: string | undefined;
  if (inProcess) {
    const dev = inProcess.dev;
    text = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size }).log.join('\n');
  } else {
    text = await captureBootLog(d.transport, { ms: 2000, mode: coreResetMode(readSettings().resetMode), loader: d.conn.loader, note: addLog });
  }
  if (text === undefined) return undefined;
  // Into the Flash Progress tab's log (and the output channel), where the user watches the flash.
  for (const line of text.split(/\r?\n/)) if (line.trim()) addLog(`boot | ${line}`);
  const ex = explainBootLog(text);
  for (const f of ex.findings) addLog(`boot: "${f.line}": ${f.entry.meaning}`);
  return ex;
}

// ---------------------------------------------------------------- Serial monitor

let monitorChannel: vscode.OutputChannel | undefined;

export async function serialMonitor(ctx: FlowContext): Promise<void> {
  const p = await boardForCommand(ctx, 'Pycom: Open Serial Monitor');
  if (!p) return;
  monitorChannel ??= vscode.window.createOutputChannel('Pycom Serial Monitor');
  const out = monitorChannel;
  out.show(true);
  out.appendLine(`--- ${p.path} at 115200 baud, ${new Date().toLocaleTimeString()} ---`);
  let text: string;
  const inProcess = ctx.virtuals.find(p.path);
  if (inProcess) {
    const dev = inProcess.dev;
    text = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size }).log.join('\n');
    out.appendLine('(virtual board: the boot log its flash and eFuses produce)');
  } else {
    // A real board, or a virtual board behind `sim serve` (no reset lines: the ROM loader is told to run the firmware).
    const t = transportFromUrl(p.path);
    await t.open();
    try {
      text = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Listening to ${p.path} for 5 s` }, () => captureBootLog(t, { ms: 5000, mode: coreResetMode(readSettings().resetMode), note: (l) => out.appendLine(l) }));
    } finally {
      await t.close().catch(() => undefined);
    }
  }
  for (const line of text.split(/\r?\n/)) if (line.trim()) out.appendLine(`  | ${line}`);
  const ex = explainBootLog(text);
  for (const f of ex.findings) out.appendLine(`  ${f.entry.severity === 'failure' ? '✗' : f.entry.severity === 'success' ? '✓' : '•'} "${f.line}": ${f.entry.meaning}${f.entry.advice ? ` (${f.entry.advice})` : ''}.`);
  out.appendLine(ex.summary);
}

// ---------------------------------------------------------------- OTA image

export async function prepareOta(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const key = fs.existsSync(store.sharedFlashKeyPath) ? readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption') : undefined;
  const build = currentBuild(key);
  if (!build) throw new UserError('E_NO_BUILD', 'There is no secure build: run "Pycom: Build Secure Firmware" first.');
  const slots = knownSlots(build.board, build.generation);
  const pick = await vscode.window.showQuickPick(slots.map((s) => ({ label: hex(s), description: s === 0x10000 ? 'factory' : 'OTA slot', slot: s })), {
    title: 'Pycom: Prepare OTA Image: which slot will the board write next?',
    placeHolder: 'Ask the running board: pycom.ota_slot() in its REPL',
  });
  if (!pick) return;
  const target = await vscode.window.showSaveDialog({ title: 'Save the OTA image', defaultUri: vscode.Uri.file(path.join(path.dirname(build.dir), `${build.board.toLowerCase()}-ota-${hex(pick.slot)}.bin`)) });
  if (!target) return;
  const img = makeOtaImage({ build, slot: pick.slot, slotSource: 'option', ...(key ? { flashKey: key } : {}) });
  writeFileAtomic(target.fsPath, img.data);
  ctx.log.info(`OTA image ${target.fsPath}: ${img.data.length} bytes for slot ${hex(pick.slot)} from ${img.source}`);
  void vscode.window.showInformationMessage(`Pycom: wrote ${path.basename(target.fsPath)} (${img.data.length} bytes) for slot ${hex(pick.slot)}.`);
}

// ---------------------------------------------------------------- keys

export function generateKeys(ctx: FlowContext): void {
  const store = keyStore();
  const { created, kept } = generateMissingKeys(store.dir, readSettings().perDeviceKeys, fs.existsSync);
  for (const k of created) ctx.log.info(`generated ${k.what} ${k.path} (fingerprint ${k.fingerprint})`);
  ctx.refreshAll();
  const keptText = kept.length ? ` Kept existing: ${kept.join(', ')}.` : '';
  const text = created.length ? `Pycom: generated ${created.map((k) => `${k.what} ${k.fingerprint}`).join(', ')}.${keptText}` : `Pycom: the key store already has its keys.${keptText}`;
  const warning = store.exposureWarning();
  if (warning) void vscode.window.showWarningMessage(warning);
  void vscode.window.showInformationMessage(text);
}

/** Copies an existing key into the store after the core has parsed it; never overwrites a key. */
export async function importKey(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const kind = await vscode.window.showQuickPick([
    { label: 'Secure boot signing key', description: 'ECDSA P-256 private key, PEM', id: 'signing' as const },
    { label: 'Flash encryption key (shared)', description: 'raw 32 bytes (24 for the 3/4 coding scheme)', id: 'flash' as const },
  ], { title: 'Pycom: Import Key' });
  if (!kind) return;
  const files = await vscode.window.showOpenDialog({ title: `Import ${kind.label}`, canSelectMany: false, openLabel: 'Import' });
  const file = files?.[0]?.fsPath;
  if (!file) return;
  store.ensureDir();
  let fp: string;
  if (kind.id === 'signing') {
    const key = readSigningKeyFile(file);
    writeNewKeyFile(store.signingKeyPath, encodeSec1Pem(key));
    fp = fingerprint(key.publicKey);
  } else {
    fp = writeNewKeyFile(store.sharedFlashKeyPath, readHardwareKeyFile(file, 'flash-encryption'));
  }
  ctx.log.info(`imported ${kind.label} from ${file} (fingerprint ${fp})`);
  ctx.refreshAll();
  void vscode.window.showInformationMessage(`Pycom: imported ${kind.label} ${fp}.`);
}

// ---------------------------------------------------------------- Rehearse

/**
 * The whole pipeline on a virtual board in this window: keys, Burn Keys (with the typed MAC, as
 * on a real board), build if there is none, flash, boot prediction.
 */
export async function rehearse(ctx: FlowContext): Promise<void> {
  const b = await ctx.virtuals.start(readSettings().virtualBoardProfile);
  ctx.log.info(`rehearsal: started a virtual ${b.title} on ${b.url}`);
  await refreshPorts(ctx);
  const port = select(ctx, { path: b.url, virtual: true, board: b.title });
  const store = keyStore();
  if (!fs.existsSync(store.signingKeyPath) || (!readSettings().perDeviceKeys && !fs.existsSync(store.sharedFlashKeyPath))) generateKeys(ctx);
  if (!(await burnKeys(ctx, port))) return;
  const key = fs.existsSync(store.sharedFlashKeyPath) ? readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption') : undefined;
  if (!currentBuild(key)) {
    const code = await ctx.runBuildTask();
    if (code !== 0) throw new UserError('E_BUILD_FAILED', 'The rehearsal stopped: the secure build failed (see the terminal and the Problems view).');
  }
  await flashFirmware(ctx, port);
}

