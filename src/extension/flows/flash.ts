import * as vscode from 'vscode';
import * as path from 'node:path';
import { BOOT_LOG_CAP_MS, bootEfusesFromRaw, bootLogLines, flash as flashWorkflow, hex, predictBoot, UserError, type VirtualEsp32 } from '../../core';
import { readSettings, workspaceRoot } from '../settings';
import { withDevice, coreResetMode } from '../device';
import type { SelectedPort } from '../state';
import type { FlashProgressView } from '../../../webview/src/protocol';
import { ACKNOWLEDGE_HINT, BOOT_LOG_HINTS, BURN_AGAIN_HINTS, KEY_STORE_HINT, MODULE_OVERRIDE_HINT, type FlowContext, currentBuildPlan, keyStore, keyStoreSettingProblem } from './context';
import { boardForCommand, boardTitle } from './ports';
import { vscodeUi } from '../vscode-ui';

/* Flash Secure Firmware in the editor (the core workflow, progress in the panel and the status bar). */

const cancelled = (what: string): UserError => new UserError('E_CANCELLED', `${what} was cancelled; nothing more was sent to the board.`);

/**
 * The board a flash run is for, as the Flash Progress tab and the notifications name it: its
 * title, its MAC once read, and its port ("GPy (virtual) 24:0a:c4:00:00:01 on socket://…"), so
 * two virtual boards never look alike.
 */
export function flashRunTitle(p: SelectedPort, mac?: string): string {
  const title = boardTitle(p);
  return `${title}${mac ? ` ${mac}` : ''}${title.includes(p.path) ? '' : ` on ${p.path}`}`;
}

/** The boot prediction made before writing, as the log and the result say it. */
function predictionText(predicted: boolean): string {
  return predicted ? 'Boot prediction: the board boots (the digest, the signatures and the encryption match its eFuses).' : 'Boot prediction not passed before writing (skipped, or the board did not boot before this write either: see the notes above).';
}

/**
 * What the editor says when a flash was written and verified: one notification (information
 * when the boot log does not say the board failed to boot; a warning that leads with "The board
 * did not boot" when it does, the prediction quoted as what was expected) and the Flash Progress
 * tab's state and result. `predicted`: the boot was predicted before writing (FlashOutcome.predicted);
 * `boot`: the boot log's explanation (core/boot/boot-log.ts), when one was read.
 */
export function flashOutcome(board: string, predicted: boolean, boot?: { verdict: 'booted' | 'failed' | 'unknown'; summary: string }, keyRefuted?: string): { ok: boolean; state: 'done' | 'not-booted'; notification: { level: 'info' | 'warning'; text: string }; text: string } {
  if (boot?.verdict === 'failed') {
    const lead = /^The board did not boot/.test(boot.summary) ? boot.summary : `The board did not boot normally: ${boot.summary}`;
    const expected = predicted ? 'the boot prediction before writing expected it to boot (the digest, the signatures and the encryption match its eFuses)' : 'no boot prediction passed before writing (see the notes above)';
    // A key taken on the user's word that the boot refuted (core flash workflow): that is the cause, and what to do.
    // Without the boot log's generic advice, which would contradict it.
    const text = keyRefuted ? `The board did not boot. ${keyRefuted}` : `${lead} The flash was written and verified; ${expected}.`;
    return { ok: false, state: 'not-booted', notification: { level: 'warning', text: `Pycom: ${text} Board: ${board}.` }, text };
  }
  const text = boot ? `${predictionText(predicted)} ${boot.summary}` : predictionText(predicted);
  return { ok: true, state: 'done', notification: { level: 'info', text: `Pycom: flashed ${board}. ${text}` }, text };
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
  let boardLabel = flashRunTitle(p);
  // The tab shows this run from its start (checking), never the previous run's result.
  const view: { v: FlashProgressView } = { v: { board: boardLabel, startedAt: new Date().toISOString(), state: 'checking', regions: [], log: [] } };
  const push = (v: FlashProgressView) => { view.v = v; ctx.state.update({ flash: v }); };
  const addLog = (line: string) => {
    ctx.log.info(`flash: ${line}`);
    push({ ...view.v, log: [...view.v.log, line].slice(-200) });
  };
  const abort = new AbortController();
  ctx.flashAbort = abort;
  push(view.v);
  ctx.panel.show('flash');
  try {
    const s = readSettings();
    const storeProblem = keyStoreSettingProblem(true);
    if (storeProblem) throw new UserError('E_KEY_STORE', storeProblem.text.replace(/\.$/, '; nothing was written.'));
    const store = keyStore();
    return await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Flashing ${boardLabel}`, cancellable: true }, async (progress, token) => {
      token.onCancellationRequested(() => abort.abort());
      return withDevice(p.path, s, (l) => ctx.log.info(l), async (d) => {
        boardLabel = flashRunTitle(p, d.info.mac.address);
        push({ ...view.v, board: boardLabel, mac: d.info.mac.address });
        let starts: number[] = [];
        let lastPost = 0;
        let lastPct = 0;
        const inProcess = ctx.virtuals.find(p.path);
        const result = await flashWorkflow({ transport: d.transport, conn: d.conn, chip: d.info }, {
          store,
          plan: ({ flashKey, flashSize }) => {
            const plan = currentBuildPlan(store, flashKey, flashSize);
            push({ ...view.v, state: 'running', regions: plan.regions.map((r) => ({ name: `${path.basename(r.file)} (${r.role})`, address: r.address, size: r.data.length, written: 0 })) });
            starts = plan.regions.map((_, i) => plan.regions.slice(0, i).reduce((n, r) => n + r.data.length, 0));
            return plan;
          },
          signal: abort.signal,
          // Read-protected keys without a burn record or a flash read-back: the user is asked (modal), and the answer recorded.
          askTrust: true,
          acknowledgeHint: ACKNOWLEDGE_HINT, keyStoreHint: KEY_STORE_HINT, burnAgainHints: BURN_AGAIN_HINTS, bootLogHints: BOOT_LOG_HINTS,
          // The key file is named as the workspace sees it (the extension host's working folder is another one).
          ...(workspaceRoot() ? { pathBase: workspaceRoot()! } : {}),
          // The key store's records name another module for this board: the user is asked (modal), and a yes recorded.
          askModule: true, overrideModuleHint: MODULE_OVERRIDE_HINT,
          // A virtual board in this window prints what its boot model predicts; any other board is started and listened to.
          bootLog: inProcess ? async () => virtualBootLog(inProcess.dev) : { ms: BOOT_LOG_CAP_MS, mode: coreResetMode(readSettings().resetMode) },
          onProgress: (e) => {
            const now = Date.now();
            // The webview and status bar need a few updates a second, not one per 4 KB block.
            if (e.phase !== 'done' && now - lastPost < 150) return;
            lastPost = now;
            const v = view.v;
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
        addLog(predictionText(result.predicted));
        // Into the Flash Progress tab's log (and the output channel), where the user watches the flash.
        if (result.boot) for (const l of bootLogLines(result.boot.text, result.boot.explanation).slice(0, -1)) addLog(l.startsWith('|') ? `boot ${l}` : `boot: ${l}`);
        const out = flashOutcome(boardLabel, result.predicted, result.boot?.explanation, result.keyRefuted);
        const { etaSeconds: _eta, etaEstimated: _estimated, ...ended } = view.v;
        push({ ...ended, state: out.state, regions: view.v.regions.map((r) => ({ ...r, written: r.size })), result: { ok: out.ok, text: out.text } });
        if (out.notification.level === 'warning') {
          void vscode.window.showWarningMessage(out.notification.text, 'Show Flash Progress').then((a) => a && ctx.panel.show('flash'));
        } else {
          void vscode.window.showInformationMessage(out.notification.text);
        }
        return out.ok;
      });
    });
  } catch (e) {
    // This run's outcome (refused before writing, cancelled, failed), with no time left.
    const { etaSeconds: _eta, etaEstimated: _estimated, ...ended } = view.v;
    push({ ...ended, state: abort.signal.aborted || (e instanceof UserError && e.code === 'E_CANCELLED') ? 'cancelled' : 'failed', result: { ok: false, text: e instanceof Error ? e.message : String(e) } });
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
