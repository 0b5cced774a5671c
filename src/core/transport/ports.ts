import * as fs from 'node:fs';
import * as path from 'node:path';
import { findUsbBoard, formatUsbId, parseUsbId, type UsbBoard } from '../boards/usb-ids';

export interface PortEntry {
  path: string;
  vendorId?: number;
  productId?: number;
  serialNumber?: string;
  manufacturer?: string;
  /** The board recognised from the USB ids, if any. */
  board?: UsbBoard;
}

export interface PortListing {
  ports: PortEntry[];
  /** Set when the OS listing failed and we fell back to scanning device nodes (no USB ids then). */
  warning?: string;
}

type RawPort = { path: string; vendorId?: string; productId?: string; serialNumber?: string; manufacturer?: string };

export interface ListPortsDeps {
  list?: () => Promise<RawPort[]>;
  scanDev?: () => string[];
}

/**
 * Lists local serial ports. On Linux serialport shells out to `udevadm`; when that is missing
 * (minimal containers) we scan /dev instead so the command still works, and say what is lost.
 */
export async function listPorts(deps: ListPortsDeps = {}): Promise<PortListing> {
  const list = deps.list ?? (async () => (await import('serialport')).SerialPort.list());
  try {
    const raw = await list();
    return { ports: raw.map(toEntry).sort(byPycomFirst) };
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    const paths = (deps.scanDev ?? scanDevNodes)();
    return {
      ports: paths.map((p) => toEntry({ path: p, ...idsFromById(p) })),
      warning: `could not ask the OS for USB details (${why}${/udevadm|ENOENT/.test(why) ? '; install the Debian package "udev"' : ''}), so ports were found by scanning /dev and boards may not be recognised`,
    };
  }
}

function toEntry(r: RawPort): PortEntry {
  const vendorId = parseUsbId(r.vendorId);
  const productId = parseUsbId(r.productId);
  const entry: PortEntry = { path: r.path };
  if (vendorId !== undefined) entry.vendorId = vendorId;
  if (productId !== undefined) entry.productId = productId;
  if (r.serialNumber) entry.serialNumber = r.serialNumber;
  if (r.manufacturer) entry.manufacturer = r.manufacturer;
  const board = findUsbBoard(vendorId, productId);
  if (board) entry.board = board;
  return entry;
}

function byPycomFirst(a: PortEntry, b: PortEntry): number {
  const pa = a.board?.pycom ? 0 : 1;
  const pb = b.board?.pycom ? 0 : 1;
  return pa - pb || a.path.localeCompare(b.path);
}

/** /dev/serial/by-id symlinks first (they carry a name), then bare ttyUSB/ttyACM nodes. */
export function scanDevNodes(): string[] {
  const found = new Set<string>();
  try {
    for (const name of fs.readdirSync('/dev')) if (/^tty(USB|ACM)\d+$/.test(name)) found.add(path.join('/dev', name));
  } catch {
    // No /dev (Windows): nothing to scan.
  }
  return [...found].sort();
}

/** Recovers a serial number/vendor from /dev/serial/by-id names (`usb-Pycom_Pysense_Py343434-if00`). */
function idsFromById(devPath: string): Partial<RawPort> {
  const dir = '/dev/serial/by-id';
  try {
    for (const name of fs.readdirSync(dir)) {
      if (path.resolve(dir, fs.readlinkSync(path.join(dir, name))) !== devPath) continue;
      const m = /^usb-(.+?)_(.+)_([^_]+)-if\d+/.exec(name);
      if (m) return { manufacturer: m[1]!.replace(/_/g, ' '), serialNumber: m[3]! };
    }
  } catch {
    // by-id absent: no extra details.
  }
  return {};
}

export function describePort(p: PortEntry): string {
  const ids = p.vendorId !== undefined && p.productId !== undefined ? `${formatUsbId(p.vendorId)}:${formatUsbId(p.productId)}` : 'no USB ids (not a USB serial adapter)';
  const parts = [p.path, ids];
  if (p.board) parts.push(p.board.name);
  if (p.serialNumber) parts.push(`serial ${p.serialNumber}`);
  if (p.manufacturer) parts.push(p.manufacturer);
  return parts.join('  ');
}
