/**
 * USB identities of the boards this product recognises (pycom.md §3.1). Data only: the
 * connection code picks a download-mode strategy from `entry`.
 */
export type EntryStrategy = 'pic' | 'classic' | 'none';

export interface UsbBoard {
  vendorId: number;
  productId: number;
  name: string;
  /** True for Pycom boards (PIC-based shields and the FTDI Expansion Board 2). */
  pycom: boolean;
  /** How this board gets the ESP32 into download mode. */
  entry: EntryStrategy;
  /** Short hint shown when the board is in a state we cannot use (e.g. PIC DFU mode). */
  note?: string;
}

export const PYCOM_PIC_VID = 0x04d8;

export const USB_BOARDS: readonly UsbBoard[] = [
  { vendorId: 0x04d8, productId: 0xf013, name: 'Pytrack', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xf012, name: 'Pysense', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xef38, name: 'Pyscan', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xef98, name: 'Expansion Board 3', pycom: true, entry: 'pic' },
  { vendorId: 0x04d8, productId: 0xed14, name: 'Pygate', pycom: true, entry: 'pic' },
  // DFU (PIC bootloader) PIDs: no serial port exists in this mode, but a listing may show them.
  { vendorId: 0x04d8, productId: 0xf014, name: 'Pytrack (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xf011, name: 'Pysense (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xef37, name: 'Pyscan (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xef99, name: 'Expansion Board 3 (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  { vendorId: 0x04d8, productId: 0xed15, name: 'Pygate (PIC update mode)', pycom: true, entry: 'none', note: 'the board is in PIC firmware-update (DFU) mode; unplug and replug it without holding S1' },
  // Expansion Board 2.0: FTDI FT234XD without DTR/RTS wiring to EN/GPIO0, so the user jumpers P2.
  { vendorId: 0x0403, productId: 0x6015, name: 'Expansion Board 2 (FTDI)', pycom: true, entry: 'none' },
  // Generic USB-UARTs on third-party adapters: most wire DTR/RTS the Espressif way.
  { vendorId: 0x10c4, productId: 0xea60, name: 'CP210x USB-UART', pycom: false, entry: 'classic' },
  { vendorId: 0x1a86, productId: 0x7523, name: 'CH340 USB-UART', pycom: false, entry: 'classic' },
  { vendorId: 0x0403, productId: 0x6001, name: 'FTDI FT232R USB-UART', pycom: false, entry: 'classic' },
  { vendorId: 0x0403, productId: 0x6010, name: 'FTDI FT2232 USB-UART', pycom: false, entry: 'classic' },
];

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
