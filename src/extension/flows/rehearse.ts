import * as fs from 'node:fs';
import { readHardwareKeyFile, UserError } from '../../core';
import { readSettings } from '../settings';
import { burnKeys } from './burn-keys';
import { type FlowContext, currentBuild, keyStore } from './context';
import { flashFirmware } from './flash';
import { generateKeys } from './keys';
import { refreshPorts } from './ports';
import type { SelectedPort } from '../state';

/* Rehearse on a virtual board: keys, Burn Keys, build, flash. */

/**
 * The whole pipeline on a virtual board in this window: keys, Burn Keys (with the typed MAC, as
 * on a real board), build if there is none, flash, boot prediction. The board is started for the
 * rehearsal and used for it only: the selected port (status bar, Flash button, pycom.port) is not
 * changed; the board stays in the port lists until the window closes.
 */
export async function rehearse(ctx: FlowContext): Promise<void> {
  const b = await ctx.virtuals.start(readSettings().virtualBoardProfile);
  ctx.log.info(`rehearsal: started a virtual ${b.title} on ${b.url}`);
  await refreshPorts(ctx);
  // The rehearsal board is temporary: used for this rehearsal only, never made the selected port
  // (the status bar, the Flash button and pycom.port keep pointing where they did).
  const port: SelectedPort = { path: b.url, virtual: true, board: b.title };
  if (ctx.state.port) ctx.log.info(`rehearsal: on ${b.url}; the selected port stays ${ctx.state.port.path} (Select Port can select the rehearsal board)`);
  const store = keyStore();
  // A pycom.keyStorePath folder that does not exist is asked about first; Cancel ends the rehearsal, nothing made.
  if (!fs.existsSync(store.signingKeyPath) || (!readSettings().perDeviceKeys && !fs.existsSync(store.sharedFlashKeyPath))) {
    if (!(await generateKeys(ctx))) return;
  }
  if (!(await burnKeys(ctx, port))) return;
  const keyFile = store.flashKeyFileFor();
  const key = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  if (!currentBuild(key)) {
    const code = await ctx.runBuildTask();
    if (code !== 0) throw new UserError('E_BUILD_FAILED', 'The rehearsal stopped: the secure build failed (see the terminal and the Problems view).');
  }
  await flashFirmware(ctx, port);
}
