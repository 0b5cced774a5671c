import * as vscode from 'vscode';
import { monitor as monitorWorkflow, bootLogLines, explainBootLog, transportFromUrl } from '../../core';
import { readSettings, remoteSocketOptions } from '../settings';
import { coreResetMode } from '../device';
import { BOOT_LOG_HINTS, type FlowContext } from './context';
import { virtualBootLog } from './flash';
import { boardForCommand } from './ports';

/*
 * The Serial Monitor: read-only by design. It resets the board (or only listens), captures what it
 * prints for 5 s, explains the known lines in the editor's words, and closes the port again (so
 * Flash and the other commands can open it); it never sends a keystroke. Its header says so, and
 * when the capture ends at MicroPython's `>>>` prompt a line says where to type instead.
 */
/** How long the Serial Monitor listens (ms). */
const MONITOR_MS = 5000;

let monitorChannel: vscode.OutputChannel | undefined;

export async function serialMonitor(ctx: FlowContext): Promise<void> {
  const p = await boardForCommand(ctx, 'Pycom: Open Serial Monitor');
  if (!p) return;
  monitorChannel ??= vscode.window.createOutputChannel('Pycom Serial Monitor');
  const out = monitorChannel;
  out.show(true);
  out.appendLine(`--- ${p.path} at 115200 baud, ${new Date().toLocaleTimeString()}: read-only, ${MONITOR_MS / 1000} s of what the board prints after a reset; nothing is sent to it ---`);
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
      text = (await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Listening to ${p.path} for ${MONITOR_MS / 1000} s` }, () => monitorWorkflow(t, { ms: MONITOR_MS, mode: coreResetMode(readSettings().resetMode), hints: BOOT_LOG_HINTS }, { info: (l) => out.appendLine(l) }))).text;
    } finally {
      await t.close().catch(() => undefined);
    }
  }
  for (const l of monitorLines(p.path, text)) out.appendLine(l);
}

/**
 * What the Serial Monitor shows under its header for the text captured on `port`: each printed line,
 * each recognised line with its meaning and advice in the editor's words (BOOT_LOG_HINTS), the
 * summary, and, when the capture ends at the REPL's `>>>` prompt, that this monitor cannot type
 * there and where to instead.
 */
export function monitorLines(port: string, text: string): string[] {
  const lines = bootLogLines(text, explainBootLog(text, BOOT_LOG_HINTS), { advice: true });
  const out = [...lines.slice(0, -1).map((l) => `  ${l}`), lines[lines.length - 1]!];
  // The REPL's prompt invites typing, which this monitor cannot take: say where to type instead.
  if (/>>> ?$/m.test(text)) out.push(`This monitor is read-only: it cannot type at the REPL's >>> prompt. For the REPL, open ${port} at 115200 baud in a serial terminal; the monitor has already released the port.`);
  return out;
}
