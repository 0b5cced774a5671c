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
  virtualBoardProfile: string;
}

export function readSettings(): PycomSettings {
  const c = vscode.workspace.getConfiguration('pycom');
  return {
    port: c.get<string>('port', ''),
    board: c.get<string>('board', 'auto'),
    baudRate: c.get<number>('baudRate', 921600),
    resetMode: c.get<string>('resetMode', 'auto'),
    firmwarePath: c.get<string>('firmwarePath', ''),
    keyStorePath: c.get<string>('keyStorePath', 'secure'),
    perDeviceKeys: c.get<boolean>('perDeviceKeys', false),
    virtualBoardProfile: c.get<string>('virtualBoardProfile', 'gpy'),
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
