import type { ChipView, PortRow, SelectedPort } from '../state';
import type { UiNode } from './node-tree';

/** Virtual boards always say so (a GPy served by `sim serve` is known only as "Virtual board"). */
const title = (p: { path: string; virtual: boolean; board?: string }): string =>
  !p.board ? p.path : p.virtual && !/virtual/i.test(p.board) ? `${p.board} (virtual)` : p.board;

const keyText = (s: string): string => (s === 'protected' ? 'present, read/write-protected' : s === 'empty' ? 'empty' : 'present, NOT protected (readable)');

/** "14:02" for a reading made today, "2024-01-02 14:02" otherwise (local time). */
export function readTime(iso: string, now = new Date()): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return 'at an unknown time';
  const two = (n: number): string => String(n).padStart(2, '0');
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`;
  return d.toDateString() === now.toDateString() ? hm : `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`;
}

/**
 * The Keys row: no warning before any burn (both blocks empty), "present & protected" when both
 * are, and a warning naming the block only when a key is present but not protected (readable),
 * or one block holds its key and the other is still empty (an unfinished Burn Keys).
 */
function keysRow(c: ChipView): Pick<UiNode, 'description' | 'icon' | 'color'> {
  const k = c.security.keys;
  const blocks = [['BLOCK1', k.flashEncryption], ['BLOCK2', k.secureBoot]] as const;
  const readable = blocks.filter(([, st]) => st !== 'empty' && st !== 'protected').map(([b]) => b);
  if (readable.length) return { description: readable.length > 1 ? 'neither protected' : `${readable[0]} not protected`, icon: 'warning', color: 'list.warningForeground' };
  if (blocks.every(([, st]) => st === 'empty')) return { description: 'not burned yet', icon: 'key' };
  if (blocks.every(([, st]) => st === 'protected')) return { description: 'present & protected', icon: 'key' };
  const empty = blocks.filter(([, st]) => st === 'empty').map(([b]) => b);
  return { description: `${empty.join(', ')} still empty`, icon: 'warning', color: 'list.warningForeground' };
}

/** The security rows: what a user needs to know before burning or flashing; short descriptions, the whole text in tooltips. */
function chipRows(c: ChipView): UiNode[] {
  const fe = c.security.flashEncryption;
  const sb = c.security.secureBoot;
  const when = readTime(c.readAt);
  const left = `${fe.plaintextFlashesLeft} plaintext reflash${fe.plaintextFlashesLeft === 1 ? '' : 'es'} left`;
  const keys = keysRow(c);
  // Security first (what a user needs before burning or flashing), then identity; the time of the
  // reading last, or first when it is a saved reading from before a reload (the board may have changed).
  const rows: UiNode[] = [
    {
      id: 'device/encryption', label: 'Flash encryption', description: fe.enabled ? 'on' : 'off',
      tooltip: `Flash encryption ${fe.enabled ? 'on' : 'off'}; ${left}\nFLASH_CRYPT_CNT = ${fe.cryptCnt}; FLASH_CRYPT_CONFIG = ${fe.config}`,
      icon: fe.enabled ? 'lock' : 'unlock', ...(fe.enabled ? { color: 'testing.iconPassed' } : {}),
    },
    { id: 'device/secureboot', label: 'Secure boot v1', description: sb.v1Enabled ? 'on' : 'off', icon: sb.v1Enabled ? 'shield' : 'circle-large-outline', ...(sb.v1Enabled ? { color: 'testing.iconPassed' } : {}) },
    {
      id: 'device/keys', label: 'Keys', ...keys,
      tooltip: `flash-encryption key (BLOCK1): ${keyText(c.security.keys.flashEncryption)}\nsecure boot key (BLOCK2): ${keyText(c.security.keys.secureBoot)}`,
      collapsed: true,
      children: [
        { id: 'device/keys/blk1', label: 'Flash-encryption key (BLOCK1)', description: keyText(c.security.keys.flashEncryption), icon: c.security.keys.flashEncryption === 'protected' ? 'lock' : 'unlock' },
        { id: 'device/keys/blk2', label: 'Secure boot key (BLOCK2)', description: keyText(c.security.keys.secureBoot), icon: c.security.keys.secureBoot === 'protected' ? 'lock' : 'unlock' },
      ],
    },
    { id: 'device/mac', label: 'MAC', description: c.mac, icon: 'symbol-key' },
    // The revision has a row of its own: the chip row keeps the part name short.
    { id: 'device/chip', label: 'Chip', description: c.description.replace(/\s*\(revision [^)]*\)$/, ''), tooltip: c.description, icon: 'circuit-board' },
    { id: 'device/revision', label: 'Revision', description: c.revision, icon: 'versions' },
    { id: 'device/flash', label: 'Flash size', description: c.flashSize, tooltip: `${c.flashSize} flash, ${c.crystalMhz} MHz crystal`, icon: 'database' },
    {
      id: 'device/reflashes', label: 'Plaintext reflashes', description: `${fe.plaintextFlashesLeft} left`,
      tooltip: `${left}: each time flash encryption is turned off and on again uses one (FLASH_CRYPT_CNT = ${fe.cryptCnt})`,
      icon: fe.plaintextFlashesLeft === 0 ? 'warning' : 'sync',
    },
    {
      id: 'device/read', label: `Read ${when}`, ...(c.restored ? { description: 'saved reading' } : {}),
      tooltip: c.restored
        ? `The last reading of this port, made ${new Date(c.readAt).toLocaleString()} and kept across a window reload; the board may have changed since. Click to read it again.`
        : `Read from the board ${new Date(c.readAt).toLocaleString()}. Click to read it again.`,
      icon: c.restored ? 'history' : 'clock', command: { command: 'pycom.readEfuses', title: 'Read eFuses' },
    },
  ];
  return c.restored ? [rows[rows.length - 1]!, ...rows.slice(0, -1)] : rows;
}

/** A port as short as it can be said in a description: a served board's host:port, a serial device's name. */
export function shortPort(path: string): string {
  if (path.startsWith('socket://')) return path.slice('socket://'.length);
  return path.length > 20 ? path.split(/[\\/]/).pop() ?? path : path;
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
      description: port.board ? shortPort(port.path) : kind,
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
      children: others.map((p) => ({ id: `device/other/${p.path}`, label: title(p), description: shortPort(p.path), tooltip: p.detail ? `${p.path}\n${p.detail}` : p.path, icon: p.virtual ? 'beaker' : 'plug' })),
    });
  }
  return nodes;
}
