import * as vscode from 'vscode';
import { normaliseMac, type UiPort } from '../core';

/**
 * The core's typed-MAC prompt as the editor's input box means it: a wrong MAC keeps the box open
 * (validateInput says so), so "anything else aborts" (the CLI's prompt) becomes "Escape cancels".
 */
export function macPrompt(corePrompt: string): string {
  const base = corePrompt.replace(/[;,]?\s*anything else aborts\.?\s*$/i, '').replace(/[.;,]?\s*$/, '');
  return `${base}; press Escape to cancel (nothing is burned until the MAC matches).`;
}

/**
 * The workflows' UI port in VS Code: lines to the "Pycom Secure" log, questions as quick picks and
 * input boxes (kept open when focus moves, so the user can read the plan in the panel), long
 * tasks as a cancellable notification with progress.
 */
export function vscodeUi(log: vscode.LogOutputChannel): UiPort {
  return {
    info: (l) => log.info(l),
    warn: (l) => log.warn(l),
    async choose(q) {
      const pick = await vscode.window.showQuickPick(
        q.items.map((it) => ({ label: it.label, ...(it.description ? { description: it.description } : {}), ...(it.detail ? { detail: it.detail } : {}), value: it.value })),
        { title: q.title, ...(q.placeholder ? { placeHolder: q.placeholder } : {}), ignoreFocusOut: true, matchOnDetail: true },
      );
      return pick?.value;
    },
    confirmMac(q) {
      return Promise.resolve(vscode.window.showInputBox({
        title: q.title,
        // The box stays open on a wrong MAC (it says so): the CLI's "anything else aborts" is not
        // true here, Escape is how to cancel.
        prompt: `Review the plan in the Pycom panel. ${macPrompt(q.prompt)}`,
        placeHolder: q.mac,
        ignoreFocusOut: true,
        validateInput: (v) => {
          try {
            return normaliseMac(v) === q.mac ? undefined : `That is not this board's MAC; type ${q.mac}.`;
          } catch {
            return `Type the MAC as six hex bytes: ${q.mac}.`;
          }
        },
      }));
    },
    async confirm(q) {
      // Modal: the question blocks the window until answered; Escape or Cancel is a no.
      const yes = await vscode.window.showWarningMessage(q.title, { modal: true, detail: q.detail }, q.yes);
      return yes === q.yes;
    },
    task(title, fn) {
      return Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
        const abort = new AbortController();
        token.onCancellationRequested(() => {
          log.warn(`${title}: cancel requested; stopping at the next safe point.`);
          abort.abort();
        });
        let shown = 0;
        return fn((message, fraction) => {
          log.info(message);
          const pct = fraction === undefined ? shown : Math.max(shown, Math.round(fraction * 100));
          progress.report({ message, increment: pct - shown });
          shown = pct;
        }, abort.signal);
      }));
    },
  };
}
