import type { ChipView, PortRow, SelectedPort } from '../state';
import type { UiNode } from './node-tree';

/** Virtual boards always say so (a GPy served by `sim serve` is known only as "Virtual board"). */
const title = (p: { path: string; virtual: boolean; board?: string }): string =>
  !p.board ? p.path : p.virtual && !/virtual/i.test(p.board) ? `${p.board} (virtual)` : p.board;

const keyText = (s: string): string => (s === 'protected' ? 'present, read/write-protected' : s === 'empty' ? 'empty' : 'present, NOT protected (readable)');

/** The security rows: what a user needs to know before burning or flashing. */
function chipRows(c: ChipView): UiNode[] {
  const fe = c.security.flashEncryption;
  const sb = c.security.secureBoot;
  const keysOk = c.security.keys.flashEncryption === 'protected' && c.security.keys.secureBoot === 'protected';
  return [
    { id: 'device/chip', label: 'Chip', description: c.description, icon: 'circuit-board' },
    { id: 'device/revision', label: 'Revision', description: c.revision, icon: 'versions' },
    { id: 'device/mac', label: 'MAC', description: c.mac, icon: 'symbol-key' },
    { id: 'device/flash', label: 'Flash size', description: `${c.flashSize} (crystal ${c.crystalMhz} MHz)`, icon: 'database' },
    {
      id: 'device/encryption', label: 'Flash encryption',
      description: `${fe.enabled ? 'on' : 'off'} · ${fe.plaintextFlashesLeft} plaintext reflash${fe.plaintextFlashesLeft === 1 ? '' : 'es'} left`,
      tooltip: `FLASH_CRYPT_CNT = ${fe.cryptCnt}; FLASH_CRYPT_CONFIG = ${fe.config}`,
      icon: fe.enabled ? 'lock' : 'unlock', ...(fe.enabled ? { color: 'testing.iconPassed' } : {}),
    },
    { id: 'device/secureboot', label: 'Secure boot v1', description: sb.v1Enabled ? 'on' : 'off', icon: sb.v1Enabled ? 'shield' : 'circle-large-outline', ...(sb.v1Enabled ? { color: 'testing.iconPassed' } : {}) },
    {
      id: 'device/keys', label: 'Keys', description: keysOk ? 'present & protected' : 'see details',
      tooltip: `flash-encryption key (BLOCK1): ${keyText(c.security.keys.flashEncryption)}\nsecure boot key (BLOCK2): ${keyText(c.security.keys.secureBoot)}`,
      icon: keysOk ? 'key' : 'warning',
      collapsed: true,
      children: [
        { id: 'device/keys/blk1', label: 'Flash-encryption key (BLOCK1)', description: keyText(c.security.keys.flashEncryption), icon: c.security.keys.flashEncryption === 'protected' ? 'lock' : 'unlock' },
        { id: 'device/keys/blk2', label: 'Secure boot key (BLOCK2)', description: keyText(c.security.keys.secureBoot), icon: c.security.keys.secureBoot === 'protected' ? 'lock' : 'unlock' },
      ],
    },
  ];
}

/**
 * Device view rows: the selected board with what was last read from its chip, then every other
 * port (virtual boards marked as such). Empty (welcome content) when nothing is selected.
 */
export function deviceNodes(port: SelectedPort | undefined, chip: ChipView | undefined, ports: readonly PortRow[] = []): UiNode[] {
  if (!port) return [];
  const kind = port.virtual ? 'virtual board' : 'serial port';
  const details: UiNode[] = chip
    ? chipRows(chip)
    : [{ id: 'device/unread', label: 'Chip not read yet', description: 'Read eFuses to see it', icon: 'info', command: { command: 'pycom.readEfuses', title: 'Read eFuses' } }];
  const nodes: UiNode[] = [
    {
      id: `device/port/${port.path}`,
      label: title(port),
      description: port.board ? port.path : kind,
      tooltip: `Selected ${kind}: ${port.path}`,
      icon: port.virtual ? 'beaker' : 'plug',
      contextValue: port.virtual ? 'pycom.port.virtual' : 'pycom.port',
      children: details,
    },
  ];
  const others = ports.filter((p) => p.path !== port.path);
  if (others.length) {
    nodes.push({
      id: 'device/others', label: 'Other ports', description: String(others.length), icon: 'list-unordered', collapsed: true,
      children: others.map((p) => ({ id: `device/other/${p.path}`, label: title(p), description: p.path, ...(p.detail ? { tooltip: p.detail } : {}), icon: p.virtual ? 'beaker' : 'plug' })),
    });
  }
  return nodes;
}
