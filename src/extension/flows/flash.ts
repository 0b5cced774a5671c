import * as vscode from 'vscode';
import * as path from 'node:path';
import { BOOT_LOG_CAP_MS, bootEfusesFromRaw, bootLogLines, flash as flashWorkflow, hex, predictBoot, UserError, type VirtualEsp32 } from '../../core';
import { readSettings } from '../settings';
import { withDevice, coreResetMode } from '../device';
import type { SelectedPort } from '../state';
import type { FlashProgressView } from '../../../webview/src/protocol';
import { ACKNOWLEDGE_HINT, KEY_STORE_HINT, type FlowContext, currentBuildPlan, keyStore } from './context';
import { boardForCommand } from './ports';
import { vscodeUi } from '../vscode-ui';

/* Flash Secure Firmware in the editor (the core workflow, progress in the panel and the status bar). */

const cancelled = (what: string): UserError => new UserError('E_CANCELLED', `${what} was cancelled; nothing more was sent to the board.`);
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
            const plan = currentBuildPlan(store, flashKey, flashSize);
            push(progressView(boardLabel, plan.regions.map((r) => ({ name: `${path.basename(r.file)} (${r.role})`, address: r.address, size: r.data.length }))));
            starts = plan.regions.map((_, i) => plan.regions.slice(0, i).reduce((n, r) => n + r.data.length, 0));
            return plan;
          },
          signal: abort.signal,
          // Read-protected keys without a burn record or a flash read-back: the user is asked (modal), and the answer recorded.
          askTrust: true,
          acknowledgeHint: ACKNOWLEDGE_HINT, keyStoreHint: KEY_STORE_HINT,
          // A virtual board in this window prints what its boot model predicts; any other board is started and listened to.
          bootLog: inProcess ? async () => virtualBootLog(inProcess.dev) : { ms: BOOT_LOG_CAP_MS, mode: coreResetMode(readSettings().resetMode) },
          onProgress: (e) => {
            const now = Date.now();
            // The webview and status bar need a few updates a second, not one per 4 KB block.
            if (e.phase !== 'done' && now - lastPost < 150) return;
            lastPost = now;
            const v = view.v!;
            const regions = v.regions.map((r, i) => ({ ...r, written: Math.max(0, Math.min(r.size, e.bytesDone - starts[i]!)) }));
            // A measured time left replaces an estimated one (and keeps the last one until there is one).
            const eta = e.etaSeconds !== undefined ? { etaSeconds: e.etaSeconds, etaEstimated: e.etaEstimated === true } : {};
            push({ ...v, regions, bytesPerSecond: e.throughput, ...eta });
            const pct = Math.floor((e.bytesDone * 100) / Math.max(1, e.bytesTotal));
            progress.report({ message: `${path.basename(e.file)} @ ${hex(e.address)}`, increment: pct - lastPct });
            lastPct = pct;
          },
        }, { info: addLog, confirm: (q) => vscodeUi(ctx.log).confirm!(q) });
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
export function virtualBootLog(dev: VirtualEsp32): string {
  return predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size }).log.join('\n');
}
