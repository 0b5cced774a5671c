/**
 * Looking up USB identities (the table is USB_BOARDS in the board catalog). The
 * connection code picks a download-mode strategy from `entry`.
 */
import { USB_BOARDS, type UsbBoard } from './catalog';

export type { EntryStrategy, UsbBoard } from './catalog';

/** Pycom's PIC vendor id (Microchip). */
export const PYCOM_PIC_VID = 0x04d8;

/** The catalog entry for a port's USB ids; undefined when either id is unknown or not listed. */
export function findUsbBoard(vendorId: number | undefined, productId: number | undefined): UsbBoard | undefined {
  if (vendorId === undefined || productId === undefined) return undefined;
  return USB_BOARDS.find((b) => b.vendorId === vendorId && b.productId === productId);
}

/** serialport reports ids as hex strings ("04d8"), sometimes with a 0x prefix or upper case. */
export function parseUsbId(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const s = v.trim().replace(/^0x/i, '');
  if (!/^[0-9a-f]{1,4}$/i.test(s)) return undefined;
  return parseInt(s, 16);
}

export function formatUsbId(v: number): string {
  return v.toString(16).toUpperCase().padStart(4, '0');
}
