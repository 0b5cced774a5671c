import type { SelectedPort } from '../state';
import type { UiNode } from './node-tree';

/**
 * Device view rows. Chip details (revision, MAC, flash size, security state) need the device
 * link from src/core/loader, which has not landed in this build: the rows say so instead of
 * guessing.
 */
export function deviceNodes(port: SelectedPort | undefined, chipAvailable: boolean): UiNode[] {
  if (!port) return [];
  const kind = port.virtual ? 'virtual board' : 'serial port';
  const details: UiNode[] = chipAvailable
    ? []
    : [{ id: 'device/chip', label: 'Chip', description: 'not read (device link not available yet)', icon: 'circle-slash' }];
  return [
    {
      id: `device/port/${port.path}`,
      label: port.board ? `${port.board}${port.virtual ? ' (virtual)' : ''}` : port.path,
      description: port.board ? port.path : kind,
      tooltip: `Selected ${kind}: ${port.path}`,
      icon: port.virtual ? 'beaker' : 'plug',
      contextValue: port.virtual ? 'pycom.port.virtual' : 'pycom.port',
      children: details,
    },
  ];
}
