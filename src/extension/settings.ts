import * as vscode from 'vscode';
import * as path from 'node:path';

export interface PycomSettings {
  port: string;
  board: string;
  baudRate: number;
  resetMode: string;
  firmwarePath: string;
  keyStorePath: string;
  perDeviceKeys: boolean;
  /** The signed build Provision Boards puts on every board (its release folder); '' = the firmware project's build. */
  buildPath: string;
  /** Provision Boards' profile: 'ask' each run, 'off' (development) or 'on' (release: the hardening fuses too). */
  hardening: HardeningSetting;
  virtualBoardProfile: string;
  /** Machine-scoped: a socket:// board on another machine may be used (key words cross the network in clear). */
  allowRemoteSocket: boolean;
  /** Machine-scoped: never taken from workspace settings (they choose executables). */
  toolchainPath: string;
  idfPath: string;
  /** Machine-scoped too (a native library gets loaded): the PKCS#11 module of a token-held signing key. */
  pkcs11Module: string;
}

/**
 * Settings that say where keys are written, which project code is built and which board is
 * flashed. In an untrusted workspace only the user's own value (or the default) counts: a
 * cloned repository must not redirect them. VS Code already ignores restricted settings there;
 * reading them this way keeps it true whatever the host does.
 */
const RESTRICTED = new Set(['port', 'firmwarePath', 'keyStorePath', 'perDeviceKeys', 'buildPath', 'hardening']);

export const HARDENING_SETTINGS = ['ask', 'off', 'on'] as const;
export type HardeningSetting = (typeof HARDENING_SETTINGS)[number];

function get<T>(c: vscode.WorkspaceConfiguration, key: string, fallback: T): T {
  if (vscode.workspace.isTrusted || !RESTRICTED.has(key)) return c.get<T>(key, fallback);
  const i = c.inspect<T>(key);
  return i?.globalValue ?? i?.defaultValue ?? fallback;
}

/** Only the user's (or remote machine's) value: a workspace must not pick what gets executed. */
function machine(c: vscode.WorkspaceConfiguration, key: string): string {
  const i = c.inspect<string>(key);
  return i?.globalValue ?? i?.defaultValue ?? '';
}

export function readSettings(): PycomSettings {
  const c = vscode.workspace.getConfiguration('pycom');
  return {
    port: get(c, 'port', ''),
    board: get(c, 'board', 'auto'),
    baudRate: get(c, 'baudRate', 921600),
    resetMode: get(c, 'resetMode', 'auto'),
    firmwarePath: get(c, 'firmwarePath', ''),
    keyStorePath: get(c, 'keyStorePath', 'secure'),
    perDeviceKeys: get(c, 'perDeviceKeys', false),
    buildPath: get(c, 'buildPath', ''),
    // A value outside the enum (a hand-edited settings file) asks, the conservative choice.
    hardening: HARDENING_SETTINGS.find((h) => h === get<unknown>(c, 'hardening', 'ask')) ?? 'ask',
    virtualBoardProfile: get(c, 'virtualBoardProfile', 'GPY'),
    allowRemoteSocket: c.inspect<boolean>('allowRemoteSocket')?.globalValue ?? false,
    toolchainPath: machine(c, 'toolchainPath'),
    idfPath: machine(c, 'idfPath'),
    pkcs11Module: machine(c, 'pkcs11Module'),
  };
}

export function workspaceRoot(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

/** Settings hold workspace-relative paths; absolute ones pass through. */
export function resolveInWorkspace(p: string): string | undefined {
  if (path.isAbsolute(p)) return p;
  const root = workspaceRoot();
  return root ? path.join(root, p) : undefined;
}

const ENV_MODULE_AT_START = process.env.PYCOM_PKCS11_MODULE;

/**
 * Makes pycom.pkcs11Module the module every core read of a token key uses (the core falls back to
 * PYCOM_PKCS11_MODULE), unless the editor was started with that variable set. Called at
 * activation and when settings change.
 */
export function applyPkcs11Module(): void {
  if (ENV_MODULE_AT_START !== undefined) return;
  const m = readSettings().pkcs11Module;
  if (m) process.env.PYCOM_PKCS11_MODULE = m;
  else delete process.env.PYCOM_PKCS11_MODULE;
}

/** What the core's transportFromUrl / withBoard need to allow (or refuse, naming this setting) a remote socket:// board. */
export function remoteSocketOptions(s: Pick<PycomSettings, 'allowRemoteSocket'> = readSettings()): { allowRemote: boolean; allowRemoteHint: string } {
  return { allowRemote: s.allowRemoteSocket, allowRemoteHint: 'turn on the setting pycom.allowRemoteSocket (user settings)' };
}
