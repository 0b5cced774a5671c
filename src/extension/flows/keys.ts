import * as vscode from 'vscode';
import * as fs from 'node:fs';
import { encodeSec1Pem, fingerprint, generateSecureBootKey, parsePkcs11Uri, readHardwareKeyFile, readSigningKeyFile, signingPublicKey, UserError, withKeyStoreLockSync, writeNewKeyFile } from '../../core';
import { readSettings } from '../settings';
import { vscodeUi } from '../vscode-ui';
import { generateMissingKeys } from '../keys-actions';
import { type FlowContext, keyStore, keyStoreSettingProblem } from './context';

/* Generate Keys and Import Key. */

/**
 * Generate Keys: the keys the store is missing (generateMissingKeys), never overwriting one.
 * A pycom.keyStorePath that is a file is refused (E_NO_DIR). A folder typed in pycom.keyStorePath
 * that does not exist (keyStoreSettingProblem's `missing`: a mistyped path, or a new store) is
 * asked about first (modal, naming the setting and the absolute folder); Cancel makes nothing and
 * returns false. The default folder (`secure`, the store not started yet) is created without asking.
 * Returns true when the store has its keys afterwards.
 */
export async function generateKeys(ctx: FlowContext): Promise<boolean> {
  // A key store path that is a file: refused naming the setting.
  const problem = keyStoreSettingProblem(false);
  if (problem?.kind === 'file') throw new UserError('E_NO_DIR', problem.text.replace(/\.$/, '; no key was generated.'));
  const store = keyStore();
  if (problem?.kind === 'missing') {
    const setting = readSettings().keyStorePath;
    const yes = await vscodeUi(ctx.log).confirm!({
      title: `Create the key store folder ${store.dir}?`,
      detail: `pycom.keyStorePath is ${JSON.stringify(setting)}, and ${store.dir} does not exist. Generate Keys would create it and write new keys there. If the setting is mistyped, cancel and correct pycom.keyStorePath.`,
      yes: 'Create Folder and Generate Keys',
    });
    if (!yes) {
      ctx.log.info(`Generate Keys: cancelled; ${store.dir} was not created and no key was generated.`);
      return false;
    }
  }
  const { created, kept } = generateMissingKeys(store.dir, readSettings().perDeviceKeys, fs.existsSync);
  for (const k of created) ctx.log.info(`generated ${k.what} ${k.path} (fingerprint ${k.fingerprint})`);
  ctx.refreshAll();
  const keptText = kept.length ? ` Kept existing: ${kept.join(', ')}.` : '';
  const text = created.length ? `Pycom: generated ${created.map((k) => `${k.what} ${k.fingerprint}`).join(', ')}.${keptText}` : `Pycom: the key store already has its keys.${keptText}`;
  const warning = store.exposureWarning();
  if (warning) void vscode.window.showWarningMessage(warning);
  void vscode.window.showInformationMessage(text);
  return true;
}

/** Copies an existing key into the store after the core has parsed it; never overwrites a key. */
export async function importKey(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const kind = await vscode.window.showQuickPick([
    { label: 'Secure boot signing key', description: 'ECDSA P-256 private key, PEM', id: 'signing' as const },
    { label: 'Flash encryption key (shared)', description: 'raw 32 bytes (24 for the 3/4 coding scheme)', id: 'flash' as const },
    { label: 'Signing key in a PKCS#11 token', description: 'pkcs11: URI (HSM, smart card, SoftHSM); the key never leaves the token', id: 'token' as const },
  ], { title: 'Pycom: Import Key' });
  if (!kind) return;
  if (kind.id === 'token') return importTokenKey(ctx);
  const files = await vscode.window.showOpenDialog({ title: `Import ${kind.label}`, canSelectMany: false, openLabel: 'Import' });
  const file = files?.[0]?.fsPath;
  if (!file) return;
  store.ensureDir();
  // Written holding the store's lock: a store another run holds refuses with its sentence, nothing written.
  const fp = withKeyStoreLockSync(store.dir, 'Import Key', () => {
    if (kind.id === 'signing') {
      const key = readSigningKeyFile(file);
      writeNewKeyFile(store.signingKeyPath, encodeSec1Pem(key));
      return fingerprint(key.publicKey);
    }
    return writeNewKeyFile(store.sharedFlashKeyPath, readHardwareKeyFile(file, 'flash-encryption'));
  });
  ctx.log.info(`imported ${kind.label} from ${file} (fingerprint ${fp})`);
  ctx.refreshAll();
  void vscode.window.showInformationMessage(`Pycom: imported ${kind.label} ${fp}.`);
}

/**
 * Records a token-held signing key in the store (its pkcs11: URI, no secret) after reading its
 * public key from the token (no PIN needed), and makes the random secure boot key it needs.
 */
async function importTokenKey(ctx: FlowContext): Promise<void> {
  const store = keyStore();
  const uri = await vscode.window.showInputBox({
    title: 'Pycom: Import Key: signing key in a token',
    prompt: 'The key\'s RFC 7512 URI, e.g. pkcs11:token=pycom;object=secure-boot (the module comes from pycom.pkcs11Module; never put the PIN in it)',
    validateInput: (v) => {
      try {
        parsePkcs11Uri(v);
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
  });
  if (!uri) return;
  if (store.signingKeyFile() !== undefined) throw new UserError('E_EXISTS', `The key store ${store.dir} already has a signing key, and keys are never replaced; set pycom.keyStorePath to another folder first.`);
  const pub = signingPublicKey(uri.trim());
  store.ensureDir();
  const made = withKeyStoreLockSync(store.dir, 'Import Key', () => {
    writeNewKeyFile(store.signingKeyRefPath, `${uri.trim()}\n`);
    return fs.existsSync(store.secureBootKeyPath) ? undefined : generateSecureBootKey(store.secureBootKeyPath, 256);
  });
  ctx.log.info(`recorded the token signing key ${uri.trim()} (public key fingerprint ${fingerprint(pub)})${made ? `; generated the random secure boot key ${store.secureBootKeyPath} (fingerprint ${made})` : ''}`);
  ctx.refreshAll();
  void vscode.window.showInformationMessage(`Pycom: the signing key stays in the token (public key ${fingerprint(pub)}); the secure boot key is the random ${store.secureBootKeyPath}.`);
}
