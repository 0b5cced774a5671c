import type { UiNode } from './node-tree';

export interface BuildListing {
  project: string;
  board: string;
  outputs: { name: string; path: string; size: number }[];
}

/**
 * Builds view rows. Role, address and encrypted/signed state must come from the core's image
 * verification (src/core/firmware), which has not landed: outputs are listed as unverified.
 */
export function buildsNodes(b: BuildListing | undefined): UiNode[] {
  if (!b) return [];
  return [
    {
      id: 'builds/project',
      label: b.project.split(/[\\/]/).slice(-2).join('/'),
      description: b.board,
      tooltip: b.project,
      icon: 'folder',
      contextValue: 'pycom.project',
      children: b.outputs.length
        ? b.outputs.map((o) => ({ id: `builds/out/${o.path}`, label: o.name, description: `${o.size} bytes · not verified yet`, icon: 'file-binary', resourcePath: o.path }))
        : [{ id: 'builds/none', label: 'No build outputs yet', icon: 'info' }],
    },
  ];
}
