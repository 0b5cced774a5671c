import * as vscode from 'vscode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { boardPlanFromBuild, findBuildOutputs, findProjectRoot, KeyStore, parseBoard, storeBuildKey, UserError, type BoardId, type BuildOutputs, type BootLogHints, type BurnAgainHints, type BurnKeysHints, type FlashPlan, type ProvisionHints } from '../../core';
import { readSettings, resolveInWorkspace, workspaceRoot } from '../settings';
import type { UiState } from '../state';
import type { PycomPanel } from '../panel';
import type { VirtualBoards } from '../virtual-boards';

/* What every editor flow shares: its context, the key store and the firmware checkout from the settings. */

export interface FlowContext {
  log: vscode.LogOutputChannel;
  state: UiState;
  panel: PycomPanel;
  virtuals: VirtualBoards;
  refreshAll(): void;
  /** Runs the pycom build task and resolves with its exit code. */
  runBuildTask(): Promise<number | undefined>;
  /** Why the last build task failed before make ran (one sentence), if it did; undefined when make ran or it succeeded. */
  lastBuildError?(): string | undefined;
  /** Set while a flash runs, so the panel's Cancel reaches it. */
  flashAbort?: AbortController;
  /** Set while boards are provisioned, so the Production tab's Stop reaches the run. */
  provisionAbort?: AbortController;
}

/** How the editor's user says a key store is the board's (the modal question), in refusals that need it. */
export const ACKNOWLEDGE_HINT = 'answer Yes to the question about the key store';
/** How the editor's user says the board is the build's module against the records or its banner (the modal question), in the refusal. */
export const MODULE_OVERRIDE_HINT = 'run it again and answer Yes to the question about its module';
/** How the editor's user takes another key store, in refusals that need it. */
export const KEY_STORE_HINT = 'set pycom.keyStorePath';
/**
 * Burn Keys' ways forward on a board whose key block is already protected, in the editor's words:
 * its setting for another key store; the editor has no way to take keys burned elsewhere on the
 * user's word, so that one names the CLI's command.
 */
export const BURN_KEYS_HINTS: BurnKeysHints = {
  keyStore: KEY_STORE_HINT,
  keysBurnedElsewhere: 'run `pycom-secure efuse burn-keys --keys-burned-elsewhere` from a terminal',
};

/** How the editor's user finishes a cut-off Burn Keys run (E_BURN_UNFINISHED): its own commands only. */
export const BURN_AGAIN_HINTS: BurnAgainHints = {
  burnKeys: 'run "Pycom: Burn Keys" again on this board',
  provision: 'run "Pycom: Provision Boards" again with this board ticked',
};

/** The commands a boot-log explanation names (the Serial Monitor, the boot log after Flash), in the editor's words. */
export const BOOT_LOG_HINTS: BootLogHints = {
  flashAgain: 'run "Pycom: Flash Secure Firmware" again to write it in full',
  burnKeys: '"Pycom: Burn Keys"',
  predictBoot: '"Pycom: Check Board\'s Flash (Predict Boot)"',
};

/**
 * Provision Boards' ways on in a board's failure sentence, in the editor's words: its command, its
 * pycom.perDeviceKeys setting, and for keys burned elsewhere the CLI's command (the editor has no
 * way to take them on the user's word, as BURN_KEYS_HINTS says).
 */
export const PROVISION_HINTS: ProvisionHints = {
  rerun: 'run "Pycom: Provision Boards" again',
  withPerDeviceKeys: 'turn on pycom.perDeviceKeys and run "Pycom: Provision Boards" again',
  withoutPerDeviceKeys: 'turn off pycom.perDeviceKeys and run "Pycom: Provision Boards" again',
  keysBurnedElsewhere: 'finish it from a terminal with `pycom-secure efuse burn-keys --keys-burned-elsewhere`',
  burnAgain: BURN_AGAIN_HINTS,
  keyStore: KEY_STORE_HINT,
  bootLog: { ...BOOT_LOG_HINTS, flashAgain: 'run "Pycom: Provision Boards" again to write it in full' },
};

export function keyStore(): KeyStore {
  const dir = resolveInWorkspace(readSettings().keyStorePath);
  if (!dir) throw new UserError('E_NO_WORKSPACE', 'Open a folder first: the key store lives inside the workspace.');
  return new KeyStore(dir);
}

/** The default of pycom.keyStorePath (package.json): a folder that does not exist yet is a store not started. */
const DEFAULT_KEY_STORE = 'secure';

/**
 * What is wrong with pycom.keyStorePath (`kind`), as one sentence (`text`) that names the setting, its value and
 * what to do; undefined when it is a folder (or no workspace is open, which keyStore() refuses).
 * A folder that does not exist is a problem when `needsKeys` (Flash: there is nothing to flash
 * with) or when the setting is not the default (a path typed by hand that points nowhere); the
 * default folder not made yet is an empty store, which Generate Keys creates.
 */
export function keyStoreSettingProblem(needsKeys: boolean): { kind: 'file' | 'missing'; text: string } | undefined {
  const setting = readSettings().keyStorePath;
  const dir = resolveInWorkspace(setting);
  if (!dir) return undefined;
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(dir);
  } catch {
    st = undefined;
  }
  if (st && !st.isDirectory()) return { kind: 'file', text: `The setting pycom.keyStorePath is ${JSON.stringify(setting)} (${dir}), which is a file, not a folder: set pycom.keyStorePath to the folder that holds your keys (or to a new folder for Generate Keys).` };
  if (!st && (needsKeys || setting !== DEFAULT_KEY_STORE)) return { kind: 'missing', text: `The setting pycom.keyStorePath is ${JSON.stringify(setting)}, but ${dir} does not exist: set pycom.keyStorePath to the folder that holds your keys, or run "Pycom: Generate Keys" to start a key store there.` };
  return undefined;
}

/**
 * What is wrong with pycom.firmwarePath, as one sentence that names the setting, its value and
 * what to do; undefined when it is empty (the workspace is searched) or leads to a Pycom firmware
 * checkout (core findProjectRoot).
 */
export function firmwarePathProblem(): string | undefined {
  const setting = readSettings().firmwarePath;
  if (!setting) return undefined;
  const start = resolveInWorkspace(setting);
  if (!start) return undefined;
  if (!fs.existsSync(start)) return `The setting pycom.firmwarePath is ${JSON.stringify(setting)}, but ${start} does not exist: set pycom.firmwarePath to your pycom-micropython-sigfox checkout (the folder that holds esp32/).`;
  if (!findProjectRoot(start)) return `The setting pycom.firmwarePath is ${JSON.stringify(setting)}, but ${start} is not a Pycom firmware checkout (no esp32/Makefile in it or in a folder above it): set pycom.firmwarePath to your pycom-micropython-sigfox checkout.`;
  return undefined;
}

/** The firmware checkout (its esp32/ folder), from pycom.firmwarePath or the workspace. */
export function firmwareEsp32Dir(): string | undefined {
  const start = resolveInWorkspace(readSettings().firmwarePath) ?? workspaceRoot();
  if (!start || !fs.existsSync(start)) return undefined;
  const root = findProjectRoot(start);
  return root ? path.join(root, 'esp32') : undefined;
}

/** The board id the build is for: the pycom.board setting, else the only board built so far. */
export function buildBoard(esp32Dir: string | undefined): BoardId | undefined {
  const fromSetting = parseBoard(readSettings().board);
  if (fromSetting) return fromSetting;
  if (!esp32Dir) return undefined;
  const dir = path.join(esp32Dir, 'build');
  const built = fs.existsSync(dir) ? fs.readdirSync(dir).map(parseBoard).filter((b): b is BoardId => b !== undefined) : [];
  return built.length === 1 ? built[0] : undefined;
}

/** The secure build's release folder (esp32/build/<BOARD>/release) and its board, when it exists. */
export function currentBuildDir(): { dir: string; board: BoardId } | undefined {
  const esp32 = firmwareEsp32Dir();
  const board = buildBoard(esp32);
  if (!esp32 || !board) return undefined;
  const dir = path.join(esp32, 'build', board, 'release');
  return fs.existsSync(dir) ? { dir, board } : undefined;
}

/** The secure build outputs as the core classifies them (decrypted with the key store's key when it is there). */
export function currentBuild(flashKey?: Uint8Array): BuildOutputs | undefined {
  const b = currentBuildDir();
  return b ? findBuildOutputs(b.dir, { board: b.board, ...(flashKey ? { flashKey } : {}) }) : undefined;
}

/**
 * The flash plan of the current build for a board: `flashKey` is the key store's key for the board
 * (a board with its own key gets the build re-encrypted for it from the store's build key), and
 * `flashSize` its flash in bytes. Used by Flash Secure Firmware and Verify Board's Flash, so both
 * mean the same regions. Errors: E_NO_BUILD (no build in the firmware checkout), the plan's own.
 */
export function currentBuildPlan(store: KeyStore, flashKey: Uint8Array | undefined, flashSize: number | undefined): FlashPlan {
  const build = currentBuild(flashKey);
  if (!build) throw new UserError('E_NO_BUILD', firmwarePathProblem()?.replace(/\.$/, '; nothing was written.') ?? 'There is no secure build in the firmware checkout: run "Pycom: Build Secure Firmware" first (or set pycom.firmwarePath and pycom.board); nothing was written.');
  const buildKey = storeBuildKey(store);
  return boardPlanFromBuild(build.dir, { board: build.board, ...(flashSize !== undefined ? { flashSize } : {}), ...(flashKey ? { flashKey } : {}), ...(buildKey ? { buildKey } : {}) }).plan;
}
