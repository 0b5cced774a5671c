import type { UiNode } from './node-tree';

/** What the Keys view needs from the key store; fingerprints only, never key bytes. */
export interface KeyStoreListing {
  dir: string;
  /** Fingerprint of the signing key's public key (what verifies signatures on the board). */
  signingKey?: { path: string; fingerprint: string };
  /** Fingerprint of the secure boot key derived from the signing key (what BLOCK2 holds). */
  secureBootKey?: string;
  flashKey?: { path: string; fingerprint: string };
  deviceKeys: { mac: string; path: string; fingerprint: string }[];
  gitWarning?: string;
}

/**
 * The Keys view's rows. `settingProblem`: what is wrong with pycom.keyStorePath (one sentence,
 * flows/context.ts keyStoreSettingProblem), shown first so an empty view never hides it.
 */
export function keysNodes(k: KeyStoreListing | undefined, settingProblem?: { kind: 'file' | 'missing'; text: string }): UiNode[] {
  const nodes: UiNode[] = [];
  if (settingProblem) nodes.push({ id: 'keys/setting', label: settingProblem.kind === 'file' ? 'pycom.keyStorePath is a file' : 'pycom.keyStorePath: no such folder', description: settingProblem.text, tooltip: settingProblem.text, icon: 'warning', color: 'list.warningForeground', command: { command: 'workbench.action.openSettings', title: 'Open Settings', arguments: ['pycom.keyStorePath'] } });
  if (!k) return nodes;
  if (k.gitWarning) nodes.push({ id: 'keys/git', label: 'Key store is not ignored by git', tooltip: k.gitWarning, icon: 'warning', color: 'list.warningForeground', contextValue: 'pycom.keys.gitWarning' });
  if (k.signingKey) {
    nodes.push({
      id: 'keys/signing', label: 'Secure boot signing key', description: k.signingKey.fingerprint,
      tooltip: `${k.signingKey.path}\npublic key fingerprint ${k.signingKey.fingerprint}`, icon: 'key', contextValue: 'pycom.key', resourcePath: k.signingKey.path,
      children: [
        { id: 'keys/signing/public', label: 'Public key (verifies signatures)', description: k.signingKey.fingerprint, icon: 'unlock' },
        ...(k.secureBootKey ? [{ id: 'keys/signing/sbk', label: 'Derived secure boot key (BLOCK2)', description: k.secureBootKey, tooltip: 'SHA-256 digest of the signing key, burned into BLOCK2 by Burn Keys', icon: 'shield' }] : []),
      ],
    });
  }
  if (k.flashKey) nodes.push({ id: 'keys/flash', label: 'Flash encryption key (shared)', description: k.flashKey.fingerprint, tooltip: `${k.flashKey.path}\nfingerprint ${k.flashKey.fingerprint}`, icon: 'lock', contextValue: 'pycom.key', resourcePath: k.flashKey.path });
  if (k.deviceKeys.length) {
    nodes.push({
      id: 'keys/devices',
      label: 'Per-device flash keys',
      description: String(k.deviceKeys.length),
      icon: 'circuit-board',
      children: k.deviceKeys.map((d) => ({ id: `keys/device/${d.mac}`, label: d.mac, description: d.fingerprint, tooltip: `${d.path}\nfingerprint ${d.fingerprint}`, icon: 'lock', contextValue: 'pycom.key', resourcePath: d.path })),
    });
  }
  // Only a warning and no keys: still show it, the welcome content would hide it.
  return nodes;
}
