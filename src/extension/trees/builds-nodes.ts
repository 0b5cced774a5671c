import type { UiNode } from './node-tree';

export interface BuildOutputRow {
  name: string;
  path: string;
  size: number;
  /** From the core's classification (src/core/firmware/outputs); absent when it could not classify. */
  role?: string;
  address?: number;
  encrypted?: boolean;
  signed?: boolean;
  /** Encrypted files decrypted with the key store's key: does the result look right at its address? */
  decryptsValid?: boolean;
  warning?: string;
}

export interface BuildListing {
  project: string;
  board: string;
  generation?: string;
  outputs: BuildOutputRow[];
  /** Why the outputs could not be classified (e.g. an incomplete build). */
  error?: string;
}

function describe(o: BuildOutputRow): string {
  if (!o.role) return `${o.size} bytes · not a secure build output`;
  const parts = [o.role, `@ 0x${o.address!.toString(16)}`, o.encrypted ? 'encrypted' : 'plaintext'];
  if (o.signed !== undefined) parts.push(o.signed ? 'signed' : 'NOT signed');
  if (o.decryptsValid !== undefined) parts.push(o.decryptsValid ? 'decrypts with your key' : 'does NOT decrypt with your key');
  return parts.join(' · ');
}

/**
 * Builds view rows: the project, its board and generation, each output as the core verified it.
 * `settingProblem`: what is wrong with pycom.firmwarePath (flows/context.ts firmwarePathProblem).
 */
export function buildsNodes(b: BuildListing | undefined, settingProblem?: string): UiNode[] {
  // pycom.firmwarePath set to no Pycom checkout: say so (the welcome text would say "set it").
  if (!b && settingProblem) return [{ id: 'builds/setting', label: 'pycom.firmwarePath: no Pycom firmware there', description: settingProblem, tooltip: settingProblem, icon: 'warning', color: 'list.warningForeground', command: { command: 'workbench.action.openSettings', title: 'Open Settings', arguments: ['pycom.firmwarePath'] } }];
  if (!b) return [];
  const children: UiNode[] = b.outputs.map((o) => ({
    id: `builds/out/${o.path}`,
    label: o.name,
    description: describe(o),
    tooltip: `${o.path}\n${o.size} bytes${o.warning ? `\n${o.warning}` : ''}`,
    icon: o.warning || o.decryptsValid === false || o.signed === false ? 'warning' : o.encrypted ? 'lock' : 'file-binary',
    resourcePath: o.path,
  }));
  if (b.error) children.unshift({ id: 'builds/error', label: 'Build outputs not usable', description: b.error, tooltip: b.error, icon: 'warning', color: 'list.warningForeground' });
  if (!children.length) children.push({ id: 'builds/none', label: 'No build outputs yet', description: 'Build Secure Firmware', icon: 'info', command: { command: 'pycom.buildFirmware', title: 'Build' } });
  return [
    {
      id: 'builds/project',
      label: b.project.split(/[\\/]/).slice(-2).join('/'),
      description: `${b.board}${b.generation ? ` · generation ${b.generation}` : ''}`,
      tooltip: b.project,
      icon: 'folder',
      contextValue: 'pycom.project',
      children,
    },
  ];
}
