import * as vscode from 'vscode';
import { monitor as monitorWorkflow, bootLogLines, transportFromUrl } from '../../core';
import { readSettings, remoteSocketOptions } from '../settings';
import { coreResetMode } from '../device';
import type { FlowContext } from './context';
import { virtualBootLog } from './flash';
import { boardForCommand } from './ports';

/* The Serial Monitor. */

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
    const t = transportFromUrl(p.path, undefined, remoteSocketOptions());
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
