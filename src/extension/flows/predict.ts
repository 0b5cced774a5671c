import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { predictBootOnBoard, predictionKeys, predictionReport, type KeyStore, type PredictBootHints, type PredictionReport } from '../../core';
import { vscodeUi } from '../vscode-ui';
import type { SelectedPort } from '../state';
import { ACKNOWLEDGE_HINT, BURN_AGAIN_HINTS, KEY_STORE_HINT, type FlowContext, keyStore } from './context';
import { withChosenBoard } from './ports';

/* Check Board's Flash: will the connected board boot, and if not, why (predict-boot in the editor). */

const TITLE = 'Pycom: Check Board\'s Flash (Predict Boot)';

/**
 * The editor's ways forward in the prediction's sentences (the core's defaults name the CLI's
 * options): the key store setting and Import Key for a missing key, the modal question for a
 * key store without evidence, Flash Secure Firmware / Provision Boards to finish an interrupted write.
 */
export function predictHints(store: KeyStore): PredictBootHints {
  const where = fs.existsSync(store.dir) ? `the key store ${store.dir} does not hold it` : `there is no key store at ${store.dir}`;
  const fix = 'set pycom.keyStorePath to the key store that burned this board';
  return {
    missingKey: {
      flashKey: `${where}; ${fix}, or import the key with "Pycom: Import Key"`,
      secureBootKey: `${where}; ${fix}, or import its signing key with "Pycom: Import Key"`,
    },
    acknowledge: ACKNOWLEDGE_HINT,
    keyStore: KEY_STORE_HINT,
    burnAgain: BURN_AGAIN_HINTS,
    rerun: {
      flash: 'run "Pycom: Flash Secure Firmware" again to finish it (the interrupted region is written again in full)',
      provision: 'run "Pycom: Provision Boards" again to finish it',
      firstFlash: 'run "Pycom: Flash Secure Firmware"',
    },
  };
}

/**
 * Check Board's Flash: whether the board on the selected port (else the one picked, as Flash
 * Secure Firmware picks) boots, by the core's predictBootOnBoard, the body of the CLI's
 * `predict-boot --port`: its eFuses and flash are read in download mode (digest, bootloader,
 * partition table, app) and nothing is written to the board. Keys come from the key store
 * (pycom.keyStorePath, by the core's predictionKeys) and count as the board's only with evidence;
 * without it the user is asked (modal) and the answer recorded in the store's audit log.
 *
 * The answer (the core's predictionReport: the verdict, the boot log the chip would print, and,
 * when it does not boot, the diagnosis, such as a region an interrupted flash left partly
 * written) goes to the "Pycom Secure" log, and its one-line verdict to a notification
 * (information when it boots into the app, a warning otherwise). Fingerprints only.
 *
 * Returns the answer, or undefined when no board was chosen (said in a notification; nothing read).
 * Errors: E_BUSY while a flash runs (before any board is opened); the link's UserErrors (a board
 * not in download mode: E_NO_DATA, E_RUNNING_FIRMWARE, ...); E_FLASH_SIZE; key file errors.
 */
export async function checkBoardFlash(ctx: FlowContext, port?: SelectedPort): Promise<PredictionReport | undefined> {
  const store = keyStore();
  const ui = vscodeUi(ctx.log);
  const run = await withChosenBoard(ctx, port, { command: TITLE, busyThen: 'check the board\'s flash', doing: 'Checking the flash of' }, (board) =>
    predictBootOnBoard(board, {
      store, ask: true, hints: predictHints(store),
      keys: ({ mac, threeFour }) => predictionKeys(store, { mac, threeFour }),
    }, { info: (l) => ctx.log.info(`predict: ${l}`), confirm: (q) => ui.confirm!(q) }));
  if (!run) return undefined;
  const { value: r, port: p } = run;
  const said = predictionReport(`The board on ${p.path}`, r);
  for (const l of said.lines) ctx.log.info(l);
  for (const a of r.resolved.assumptions) ctx.log.info(`assumption: ${a}`);
  const text = `Pycom: ${said.headline}`;
  const shown = said.status === 'boots' ? vscode.window.showInformationMessage(text, 'Show Log') : vscode.window.showWarningMessage(text, 'Show Log');
  void Promise.resolve(shown).then((a) => { if (a === 'Show Log') ctx.log.show(); });
  return said;
}
