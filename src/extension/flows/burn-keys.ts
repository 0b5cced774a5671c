import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { BURN_KEYS_OPERATION, BURN_KEYS_STEP, interruptedOperations, readAudit, keyBits, keyBytes, burnKeys as burnKeysWorkflow, leftOpenWarnings, type EfuseWords, describeSecureBootKey, keysNotInStoreError, readEfuses, storeSecureBootKey, UserError } from '../../core';
import { readSettings } from '../settings';
import { withDevice } from '../device';
import { snapshotFromWords, planSnapshot } from '../sources/efuse-snapshot';
import { vscodeUi } from '../vscode-ui';
import type { SelectedPort } from '../state';
import { BURN_KEYS_HINTS, KEY_STORE_HINT, type FlowContext, keyStore } from './context';
import { boardTitle, chipPatch, pickBoard } from './ports';

/* Burn Keys in the editor (the core workflow with VS Code as its UI). */

/**
 * The Burn Keys run a new run on `mac` resumes: the last interrupted (cancelled, cut off) run of
 * this MAC in the store's audit log, when and with which profile it started (`hardening`: its plan
 * had Release's hardening step; undefined when its plan cannot be read). Undefined when there is none.
 */
export function interruptedBurnRun(auditPath: string, mac: string): { id: string; time: string; hardening?: boolean } | undefined {
  const records = readAudit(auditPath).records.filter((r) => r.operation === BURN_KEYS_OPERATION);
  const last = interruptedOperations(records, mac).at(-1);
  if (!last) return undefined;
  const steps = (last.plan as { steps?: unknown } | undefined)?.steps;
  const hardening = Array.isArray(steps) ? steps.some((st) => (st as { id?: unknown }).id === BURN_KEYS_STEP.hardening) : undefined;
  return { id: last.id, time: last.time, ...(hardening !== undefined ? { hardening } : {}) };
}

/**
 * Burn Keys in the editor: pick the board (virtual first), then the core's Burn Keys workflow
 * (the same one the CLI and the fault campaigns run) with VS Code as its UI: the plan in the
 * panel with before/after columns, the profile as a quick pick, the typed MAC in an input box,
 * progress in a cancellable notification; the new state is shown when it ends. A run that
 * finishes an interrupted one says so first and takes that run's profile (Development/Release is
 * not asked again).
 */
export async function burnKeys(ctx: FlowContext, port?: SelectedPort, hardening?: boolean): Promise<boolean> {
  const p = port ?? (await pickBoard(ctx, 'Pycom: Burn Keys: which board?', true));
  if (!p) return false;
  const s = readSettings();
  const store = keyStore();
  const ui = vscodeUi(ctx.log);
  return withDevice(p.path, s, (l) => ctx.log.info(l), async (d) => {
    const source = `${boardTitle(p)} ${d.info.mac.address} on ${p.path}`;
    // A run cancelled (or cut off) earlier on this board: this run finishes it, with its profile
    // (the choice was made then: asking again could only contradict it), and says so first.
    const resume = interruptedBurnRun(store.auditPath, d.info.mac.address);
    const profile = hardening ?? resume?.hardening;
    if (resume) {
      const text = `Pycom: resuming Burn Keys run ${resume.id} on ${d.info.mac.address} (started ${resume.time}${resume.hardening === undefined ? '' : `, ${resume.hardening ? 'Release' : 'Development'}`}): the steps it burned are verified, not burned again; the plan and the typed MAC follow.`;
      ctx.log.info(text.replace(/^Pycom: /, ''));
      void vscode.window.showInformationMessage(text);
    }
    const r = await burnKeysWorkflow({ transport: d.transport, conn: d.conn, chip: d.info }, {
      store,
      virtual: p.virtual,
      ...(profile !== undefined ? { hardening: profile } : {}),
      hints: BURN_KEYS_HINTS,
      keys: ({ mac, threeFour, burned }) => {
        // The board is read first: on a board with keys burned, a store without keys is the wrong store, not one to fill.
        const missing = [
          ...(store.signingKeyFile() === undefined ? [`signing key at ${store.signingKeyPath}`] : []),
          ...(s.perDeviceKeys
            ? (burned.includes('BLOCK1') && !fs.existsSync(store.deviceFlashKeyPath(mac)) ? [`flash-encryption key for ${mac} at ${store.deviceFlashKeyPath(mac)}`] : [])
            : (fs.existsSync(store.sharedFlashKeyPath) ? [] : [`flash-encryption key at ${store.sharedFlashKeyPath}`])),
        ];
        if (missing.length && burned.length) throw keysNotInStoreError({ mac, burned, storeDir: store.dir, missing, keyStoreHint: KEY_STORE_HINT });
        if (store.signingKeyFile() === undefined) throw new UserError('E_NO_KEY', `There is no signing key at ${store.signingKeyPath}: run "Pycom: Generate Keys" first.`);
        const flash = store.flashKeyFor(mac, s.perDeviceKeys ? 'per-device' : 'shared', keyBytes(threeFour ? '3/4' : 'none'));
        if (flash.created) ctx.log.info(`generated the per-device flash-encryption key for ${mac} (fingerprint ${flash.fingerprint})`);
        // The store's random secure_boot_key.bin, else the digest of its PEM signing key (never its public key).
        const sbk = storeSecureBootKey(store, keyBits(threeFour ? '3/4' : 'none'))!;
        return { flashKey: flash.key, secureBootKey: sbk.key, secureBootKeySource: describeSecureBootKey(sbk) };
      },
      showPlan: (plan, snap) => {
        ctx.state.update({ ...chipPatch(ctx, p, d.info), efuses: planSnapshot(snap.words, source, plan) });
        ctx.panel.show('efuses');
        for (const w of plan.warnings) ctx.log.warn(w);
      },
    }, ui);
    const showWords = (words: EfuseWords) => ctx.state.update({ efuses: snapshotFromWords(words, source) });
    switch (r.kind) {
      case 'not-chosen':
        ctx.log.info('Burn Keys: no profile chosen, nothing was burned.');
        void vscode.window.showInformationMessage('Pycom: Burn Keys was cancelled; nothing was burned.');
        return false;
      case 'dry-run':
        return false;
      case 'not-confirmed':
        showWords((await readEfuses(d.conn.loader)).words);
        ctx.log.info('Burn Keys: not confirmed, nothing was burned.');
        void vscode.window.showInformationMessage('Pycom: Burn Keys was cancelled; nothing was burned.');
        return false;
      case 'nothing-to-do':
      case 'closed': {
        showWords((await readEfuses(d.conn.loader)).words);
        if (r.kind === 'closed') {
          if (r.result.closed.length) ctx.log.info(`Burn Keys: interrupted run(s) ${r.result.closed.join(', ')} had burned every step; verified and recorded as done in ${store.auditPath}.`);
          for (const w of leftOpenWarnings(r.result.leftOpen)) ctx.log.warn(w);
        }
        const closedNote = r.kind === 'closed' && r.result.closed.length ? ' The interrupted run in the audit log was verified and closed.' : '';
        if (r.kind === 'nothing-to-do' && r.releaseOpen) {
          // Development is complete; Release is a separate, permanent choice, offered, never assumed.
          void vscode.window.showInformationMessage(`Pycom: ${d.info.mac.address} already has its keys burned and protected; nothing to do. UART download-mode crypto and JTAG are still open (development).`, 'Release: Close Them…')
            .then((a) => a && burnKeys(ctx, p, true).catch((e: unknown) => ctx.log.error(`Burn Keys (release): ${e instanceof Error ? e.message : String(e)}`)));
        } else {
          void vscode.window.showInformationMessage(`Pycom: ${d.info.mac.address} already has its keys burned and protected; nothing to do.${closedNote}`);
        }
        return true;
      }
      case 'cancelled':
        ctx.state.update({ ...chipPatch(ctx, p, r.chip), efuses: snapshotFromWords(r.after.words, source) });
        ctx.log.warn(r.message);
        void vscode.window.showWarningMessage(`Pycom: ${r.message}`, 'Burn Keys', 'Show Audit Log').then((a) => {
          if (a === 'Burn Keys') void vscode.commands.executeCommand('pycom.burnKeys');
          if (a === 'Show Audit Log') void vscode.commands.executeCommand('pycom.showAuditLog');
        });
        return false;
      case 'burned': {
        ctx.state.update({ ...chipPatch(ctx, p, r.chip), efuses: snapshotFromWords(r.after.words, source) });
        ctx.panel.show('efuses');
        ctx.log.info(`Burn Keys done on ${r.plan.mac}: ${r.result.burned.length} step(s) burned and verified; audit ${r.result.id} in ${store.auditPath}`);
        if (r.result.closed.length) ctx.log.info(`Earlier interrupted run(s) ${r.result.closed.join(', ')} verified and recorded as done.`);
        for (const w of leftOpenWarnings(r.result.leftOpen)) ctx.log.warn(w);
        const hardened = r.plan.steps.some((st) => st.id === 'hardening');
        void vscode.window.showInformationMessage(`Pycom: burned and verified ${r.result.burned.length} step(s) on ${r.plan.mac}: keys protected, flash encryption on, secure boot on${hardened ? ', download-mode crypto and JTAG closed' : ''}.`, 'Show Audit Log')
          .then((a) => a && vscode.commands.executeCommand('pycom.showAuditLog'));
        return true;
      }
    }
  });
}
