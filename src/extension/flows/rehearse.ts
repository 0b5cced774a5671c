import * as fs from 'node:fs';
import { readHardwareKeyFile, UserError } from '../../core';
import { readSettings } from '../settings';
import { burnKeys } from './burn-keys';
import { type FlowContext, currentBuild, keyStore } from './context';
import { flashFirmware } from './flash';
import { generateKeys } from './keys';
import { refreshPorts, select } from './ports';

/* Rehearse on a virtual board: keys, Burn Keys, build, flash. */

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
  const keyFile = store.flashKeyFileFor();
  const key = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
  if (!currentBuild(key)) {
    const code = await ctx.runBuildTask();
    if (code !== 0) throw new UserError('E_BUILD_FAILED', 'The rehearsal stopped: the secure build failed (see the terminal and the Problems view).');
  }
  await flashFirmware(ctx, port);
}
