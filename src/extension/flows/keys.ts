import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { encodeSec1Pem, fingerprint, readHardwareKeyFile, readSigningKeyFile, writeNewKeyFile } from '../../core';
import { readSettings } from '../settings';
import { generateMissingKeys } from '../keys-actions';
import { type FlowContext, keyStore } from './context';

/* Generate Keys and Import Key. */

export function generateKeys(ctx: FlowContext): void {
  const store = keyStore();
  const { created, kept } = generateMissingKeys(store.dir, readSettings().perDeviceKeys, fs.existsSync);
  for (const k of created) ctx.log.info(`generated ${k.what} ${k.path} (fingerprint ${k.fingerprint})`);
  ctx.refreshAll();
  const keptText = kept.length ? ` Kept existing: ${kept.join(', ')}.` : '';
  const text = created.length ? `Pycom: generated ${created.map((k) => `${k.what} ${k.fingerprint}`).join(', ')}.${keptText}` : `Pycom: the key store already has its keys.${keptText}`;
  const warning = store.exposureWarning();
  if (warning) void vscode.window.showWarningMessage(warning);
  void vscode.window.showInformationMessage(text);
}

/** Copies an existing key into the store after the core has parsed it; never overwrites a key. */
export async function importKey(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const kind = await vscode.window.showQuickPick([
    { label: 'Secure boot signing key', description: 'ECDSA P-256 private key, PEM', id: 'signing' as const },
    { label: 'Flash encryption key (shared)', description: 'raw 32 bytes (24 for the 3/4 coding scheme)', id: 'flash' as const },
  ], { title: 'Pycom: Import Key' });
  if (!kind) return;
  const files = await vscode.window.showOpenDialog({ title: `Import ${kind.label}`, canSelectMany: false, openLabel: 'Import' });
  const file = files?.[0]?.fsPath;
  if (!file) return;
  store.ensureDir();
  let fp: string;
  if (kind.id === 'signing') {
    const key = readSigningKeyFile(file);
    writeNewKeyFile(store.signingKeyPath, encodeSec1Pem(key));
    fp = fingerprint(key.publicKey);
  } else {
    fp = writeNewKeyFile(store.sharedFlashKeyPath, readHardwareKeyFile(file, 'flash-encryption'));
  }
  ctx.log.info(`imported ${kind.label} from ${file} (fingerprint ${fp})`);
  ctx.refreshAll();
  void vscode.window.showInformationMessage(`Pycom: imported ${kind.label} ${fp}.`);
}
