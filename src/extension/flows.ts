import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { otaImage, monitor as monitorWorkflow, bootLogLines, keyBits, keyBytes, flash as flashWorkflow, type VirtualEsp32, burnKeys as burnKeysWorkflow, leftOpenWarnings, type EfuseWords, bootEfusesFromRaw, describePort, digestPrivateKey, encodeSec1Pem, enterDownloadMode, findBuildOutputs, findProjectRoot, fingerprint, hex, KeyStore, knownSlots, listPorts, parseBoard, planFromBuild, predictBoot, readEfuses, readHardwareKeyFile, readSigningKeyFile, transportFromUrl, UserError, writeNewKeyFile, type BoardId, type BuildOutputs } from '../core';
import { readSettings, resolveInWorkspace, workspaceRoot } from './settings';
import { withDevice, chipView, coreResetMode } from './device';
import { snapshotFromWords, planSnapshot } from './sources/efuse-snapshot';
import { generateMissingKeys } from './keys-actions';
import { vscodeUi } from './vscode-ui';
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
 * Burn Keys in the editor: pick the board (virtual first), then the core's Burn Keys workflow
 * (the same one the CLI and the fault campaigns run) with VS Code as its UI: the plan in the
 * panel with before/after columns, the profile as a quick pick, the typed MAC in an input box,
 * progress in a cancellable notification; the new state is shown when it ends.
 */
export async function burnKeys(ctx: FlowContext, port?: SelectedPort): Promise<boolean> {
  const p = port ?? (await pickBoard(ctx, 'Pycom: Burn Keys: which board?', true));
  if (!p) return false;
  const s = readSettings();
  const store = keyStore();
  if (!fs.existsSync(store.signingKeyPath)) throw new UserError('E_NO_KEY', `There is no signing key at ${store.signingKeyPath}: run "Pycom: Generate Keys" first.`);
  const ui = vscodeUi(ctx.log);
  return withDevice(p.path, s, (l) => ctx.log.info(l), async (d) => {
    const source = `${boardTitle(p)} ${d.info.mac.address} on ${p.path}`;
    const r = await burnKeysWorkflow({ transport: d.transport, conn: d.conn, chip: d.info }, {
      store,
      virtual: p.virtual,
      keys: ({ mac, threeFour }) => {
        const flash = store.flashKeyFor(mac, s.perDeviceKeys ? 'per-device' : 'shared', keyBytes(threeFour ? '3/4' : 'none'));
        if (flash.created) ctx.log.info(`generated the per-device flash-encryption key for ${mac} (fingerprint ${flash.fingerprint})`);
        // The reflashable secure boot key is the digest of the signing key (never its public key).
        return { flashKey: flash.key, secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), keyBits(threeFour ? '3/4' : 'none')) };
      },
      showPlan: (plan, snap) => {
        ctx.state.update({ chip: chipView(d.info, p.virtual), efuses: planSnapshot(snap.words, source, plan) });
        ctx.panel.show('efuses');
        for (const w of plan.warnings) ctx.log.warn(w);
      },
    }, ui);
    const showWords = (words: EfuseWords) => ctx.state.update({ efuses: snapshotFromWords(words, source) });
    switch (r.kind) {
      case 'not-chosen':
        ctx.log.info('Burn Keys: no profile chosen, nothing was burned.');
        void vscode.window.showInformationMessage('Pycom: Burn Keys was cancelled; nothing was burned.');
        return false;
      case 'dry-run':
        return false;
      case 'not-confirmed':
        showWords((await readEfuses(d.conn.loader)).words);
        ctx.log.info('Burn Keys: not confirmed, nothing was burned.');
        void vscode.window.showInformationMessage('Pycom: Burn Keys was cancelled; nothing was burned.');
        return false;
      case 'nothing-to-do':
      case 'closed': {
        showWords((await readEfuses(d.conn.loader)).words);
        if (r.kind === 'closed') {
          if (r.result.closed.length) ctx.log.info(`Burn Keys: interrupted run(s) ${r.result.closed.join(', ')} had burned every step; verified and recorded as done in ${store.auditPath}.`);
          for (const w of leftOpenWarnings(r.result.leftOpen)) ctx.log.warn(w);
        }
        void vscode.window.showInformationMessage(`Pycom: ${d.info.mac.address} already has its keys burned and protected; nothing to do.${r.kind === 'closed' && r.result.closed.length ? ' The interrupted run in the audit log was verified and closed.' : ''}`);
        return true;
      }
      case 'cancelled':
        ctx.state.update({ chip: chipView(r.chip, p.virtual), efuses: snapshotFromWords(r.after.words, source) });
        ctx.log.warn(r.message);
        void vscode.window.showWarningMessage(`Pycom: ${r.message}`, 'Burn Keys', 'Show Audit Log').then((a) => {
          if (a === 'Burn Keys') void vscode.commands.executeCommand('pycom.burnKeys');
          if (a === 'Show Audit Log') void vscode.commands.executeCommand('pycom.showAuditLog');
        });
        return false;
      case 'burned': {
        ctx.state.update({ chip: chipView(r.chip, p.virtual), efuses: snapshotFromWords(r.after.words, source) });
        ctx.panel.show('efuses');
        ctx.log.info(`Burn Keys done on ${r.plan.mac}: ${r.result.burned.length} step(s) burned and verified; audit ${r.result.id} in ${store.auditPath}`);
        if (r.result.closed.length) ctx.log.info(`Earlier interrupted run(s) ${r.result.closed.join(', ')} verified and recorded as done.`);
        for (const w of leftOpenWarnings(r.result.leftOpen)) ctx.log.warn(w);
        const hardened = r.plan.steps.some((st) => st.id === 'hardening');
        void vscode.window.showInformationMessage(`Pycom: burned and verified ${r.result.burned.length} step(s) on ${r.plan.mac}: keys protected, flash encryption on, secure boot on${hardened ? ', download-mode crypto and JTAG closed' : ''}.`, 'Show Audit Log')
          .then((a) => a && vscode.commands.executeCommand('pycom.showAuditLog'));
        return true;
      }
    }
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
        let starts: number[] = [];
        let lastPost = 0;
        let lastPct = 0;
        const inProcess = ctx.virtuals.find(p.path);
        const result = await flashWorkflow({ transport: d.transport, conn: d.conn, chip: d.info }, {
          store,
          plan: ({ flashKey, flashSize }) => {
            const build = currentBuild(flashKey);
            if (!build) throw new UserError('E_NO_BUILD', 'There is no secure build to flash: run "Pycom: Build Secure Firmware" first (or set pycom.firmwarePath and pycom.board).');
            const plan = planFromBuild(build, flashSize !== undefined ? { flashSize } : {});
            push(progressView(boardLabel, plan.regions.map((r) => ({ name: `${path.basename(r.file)} (${r.role})`, address: r.address, size: r.data.length }))));
            starts = plan.regions.map((_, i) => plan.regions.slice(0, i).reduce((n, r) => n + r.data.length, 0));
            return plan;
          },
          signal: abort.signal,
          // A virtual board in this window prints what its boot model predicts; any other board is started and listened to.
          bootLog: inProcess ? async () => virtualBootLog(inProcess.dev) : { ms: 2000, mode: coreResetMode(readSettings().resetMode) },
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
        }, { info: addLog });
        for (const n of result.report.notes) addLog(`note: ${n}`);
        for (const r of result.results) addLog(`${path.basename(r.file)} @ ${hex(r.address)}: ${r.bytesWritten === 0 ? 'unchanged' : `${r.bytesWritten} of ${r.length} bytes written`}, verified (MD5)`);
        const prediction = result.predicted ? 'Boot prediction: the board boots (the digest, the signatures and the encryption match its eFuses).' : 'Boot prediction not run (partial plan).';
        addLog(prediction);
        // Into the Flash Progress tab's log (and the output channel), where the user watches the flash.
        if (result.boot) for (const l of bootLogLines(result.boot.text, result.boot.explanation).slice(0, -1)) addLog(l.startsWith('|') ? `boot ${l}` : `boot: ${l}`);
        const ok = result.boot ? result.boot.explanation.verdict !== 'failed' : true;
        const text = result.boot ? `${prediction} ${result.boot.explanation.summary}` : prediction;
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

/** What a virtual board in this window prints when it boots: its boot model over its flash and eFuses. */
function virtualBootLog(dev: VirtualEsp32): string {
  return predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size }).log.join('\n');
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
    text = virtualBootLog(inProcess.dev);
    out.appendLine('(virtual board: the boot log its flash and eFuses produce)');
  } else {
    // A real board, or a virtual board behind `sim serve` (no reset lines: the ROM loader is told to run the firmware).
    const t = transportFromUrl(p.path);
    await t.open();
    try {
      text = (await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Listening to ${p.path} for 5 s` }, () => monitorWorkflow(t, { ms: 5000, mode: coreResetMode(readSettings().resetMode) }, { info: (l) => out.appendLine(l) }))).text;
    } finally {
      await t.close().catch(() => undefined);
    }
  }
  const lines = bootLogLines(text, undefined, { advice: true });
  for (const l of lines.slice(0, -1)) out.appendLine(`  ${l}`);
  out.appendLine(lines[lines.length - 1]!);
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
  const img = await otaImage({ store, buildDir: build.dir, board: build.board, slot: pick.slot, output: target.fsPath });
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

