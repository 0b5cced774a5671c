import * as vscode from 'vscode';
import * as path from 'node:path';
import { hex, regionVerificationLine, verifyFlash, type VerifyFlashOutcome } from '../../core';
import { vscodeUi } from '../vscode-ui';
import { workspaceRoot } from '../settings';
import type { SelectedPort } from '../state';
import { ACKNOWLEDGE_HINT, BURN_AGAIN_HINTS, KEY_STORE_HINT, type FlowContext, currentBuildPlan, keyStore } from './context';
import { boardTitle, withChosenBoard } from './ports';

/* Verify Board's Flash Against Build: the CLI's verify-flash --build in the editor. */

const TITLE = 'Pycom: Verify Board\'s Flash Against Build';

/**
 * Verify Board's Flash Against Build: compares the flash of the board on the selected port (else
 * the one picked, as Flash Secure Firmware picks) with the current build, region by region, by the
 * core's verifyFlash, the body of the CLI's `verify-flash --build`: the regions are the ones Flash
 * Secure Firmware would write to this board (currentBuildPlan), compared by SPI_FLASH_MD5 per
 * 64 KiB chunk and 4 KiB sector; nothing is written to the board. The key store's keys count for
 * read-protected key blocks only with evidence (else the modal question, the answer recorded).
 *
 * Each region's line and, where it differs, the diagnosis tested on the board go to the "Pycom
 * Secure" log; the verdict to a notification (information when every region matches, a warning
 * naming the regions that differ otherwise). Fingerprints only.
 *
 * Returns the outcome, or undefined when no board was chosen (said in a notification; nothing read).
 * Errors: E_BUSY while a flash runs (before any board is opened); E_NO_BUILD; E_KEY_EVIDENCE and
 * E_KEY_MISMATCH (nothing compared); the link's UserErrors.
 */
export async function verifyBoardFlash(ctx: FlowContext, port?: SelectedPort): Promise<VerifyFlashOutcome | undefined> {
  const store = keyStore();
  const ui = vscodeUi(ctx.log);
  const run = await withChosenBoard(ctx, port, { command: TITLE, busyThen: 'verify the board\'s flash', doing: 'Verifying the flash of' }, (board) =>
    verifyFlash(board, {
      store,
      plan: ({ flashKey, flashSize }) => currentBuildPlan(store, flashKey, flashSize),
      askTrust: true, acknowledgeHint: ACKNOWLEDGE_HINT, keyStoreHint: KEY_STORE_HINT, burnAgainHints: BURN_AGAIN_HINTS, ...(workspaceRoot() ? { pathBase: workspaceRoot()! } : {}),
      onRegion: (v) => {
        ctx.log.info(`verify: ${regionVerificationLine(v)}`);
        if (v.diagnosis) ctx.log.info(`verify:   Diagnosis: ${v.diagnosis}`);
      },
    }, { info: (l) => ctx.log.info(`verify: ${l}`), confirm: (q) => ui.confirm!(q) }));
  if (!run) return undefined;
  const { value: r } = run;
  const title = boardTitle(run.port);
  const bad = r.regions.filter((v) => v.differs.length > 0);
  const names = bad.map((v) => `${path.basename(v.region.file)} at ${hex(v.region.address)}`).join(', ');
  const text = bad.length === 0
    ? `Pycom: the flash of ${title} holds the current build (${r.regions.length} region${r.regions.length === 1 ? '' : 's'}, each matched by MD5).`
    : `Pycom: the flash of ${title} differs from the current build in ${bad.length} of ${r.regions.length} regions (${names}); the log says why.`;
  const shown = bad.length === 0 ? vscode.window.showInformationMessage(text, 'Show Log') : vscode.window.showWarningMessage(text, 'Show Log');
  void Promise.resolve(shown).then((a) => { if (a === 'Show Log') ctx.log.show(); });
  return r;
}
