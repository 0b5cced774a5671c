import * as vscode from 'vscode';
import type { FlowContext } from './context';

/* Build Secure Firmware in the editor: the pycom build task, and a notification either way. */

/** Where a failed build's output is, as the notification says it. */
const WHERE = 'its output is in the build task\'s terminal, and compiler errors are in the Problems view';

/**
 * Runs the pycom build task and says how it ended: information on success; on failure an error
 * notification that says it failed, why when the task knows (ctx.lastBuildError: a refusal
 * before make ran, e.g. no board set or no signing key), and where to look (the terminal, the
 * Problems view), with Show Problems. Resolves true when the build succeeded.
 */
export async function buildFirmware(ctx: FlowContext): Promise<boolean> {
  const code = await ctx.runBuildTask();
  ctx.refreshAll();
  if (code === 0) {
    void vscode.window.showInformationMessage('Pycom: the secure build finished; its outputs are in the Builds view.');
    return true;
  }
  const reason = ctx.lastBuildError?.();
  const text = reason
    ? `Pycom: the secure build failed: ${reason.replace(/\.$/, '')} (also in the build task's terminal).`
    : `Pycom: the secure build failed${code === undefined ? '' : ` (make exited with ${code})`}; ${WHERE}.`;
  ctx.log.error(text);
  void vscode.window.showErrorMessage(text, 'Show Problems', 'Show Log').then((a) => {
    if (a === 'Show Problems') void vscode.commands.executeCommand('workbench.actions.view.problems');
    if (a === 'Show Log') ctx.log.show();
  });
  return false;
}
