import * as fs from 'node:fs';
import type { SerialPort } from 'serialport';
import type { ModemSignals, Transport, TransportCapabilities, Unsubscribe } from './transport';
import { Listeners } from './listeners';
import { fail } from '../connect/messages';
import type { UserError } from '../errors';

/**
 * A local serial port through serialport v13. Data bits can only be chosen when a port is
 * opened (serialport's `update()` changes the baud rate only), so `setDataBits` closes and
 * reopens the port — exactly what Pycom's pypic does between the 5-bit PIC talk and 8N1.
 */
export class SerialTransport implements Transport {
  readonly capabilities: TransportCapabilities = { modemLines: true, dataBits: true, baud: true };
  private port: SerialPort | undefined;
  private currentBaud: number;
  private dataBits: 5 | 6 | 7 | 8 = 8;
  private readonly data = new Listeners<[Buffer]>();
  private readonly closed = new Listeners<[Error | undefined]>();
  /** True while we close the port ourselves to reopen it (not a close the user should see). */
  private reopening = false;
  /** The OS asserts both lines when a port opens (hupcl); we track what we set since. */
  private lines: Required<ModemSignals> = { dtr: true, rts: true };

  constructor(
    readonly url: string,
    baud = 115200,
  ) {
    this.currentBaud = baud;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  get baud(): number {
    return this.currentBaud;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    // Loaded when a serial port is first opened: every other command (and socket://) starts without it.
    const { SerialPort: Port } = await import('serialport');
    const port = new Port({ path: this.url, baudRate: this.currentBaud, dataBits: this.dataBits, autoOpen: false, lock: true });
    await new Promise<void>((resolve, reject) => {
      port.open((err) => (err ? reject(mapSerialError(err, this.url, 'open')) : resolve()));
    });
    port.on('data', (chunk: Buffer) => this.data.emit(chunk));
    port.on('close', (err?: Error) => {
      if (this.port === port) this.port = undefined;
      if (!this.reopening) this.closed.emit(err ? mapSerialError(err, this.url) : undefined);
    });
    port.on('error', () => {
      // Errors also surface through the failing call or the close event; this keeps Node from throwing.
    });
    this.port = port;
    this.lines = { dtr: true, rts: true };
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }

  async write(data: Uint8Array): Promise<void> {
    const port = this.need();
    await new Promise<void>((resolve, reject) => {
      port.write(Buffer.from(data), (err) => {
        if (err) reject(mapSerialError(err, this.url));
      });
      port.drain((err) => (err ? reject(mapSerialError(err, this.url)) : resolve()));
    });
  }

  onData(listener: (chunk: Buffer) => void): Unsubscribe {
    return this.data.add(listener);
  }

  onClose(listener: (error?: Error) => void): Unsubscribe {
    return this.closed.add(listener);
  }

  async flushInput(): Promise<void> {
    const port = this.need();
    await new Promise<void>((resolve, reject) => port.flush((err) => (err ? reject(mapSerialError(err, this.url)) : resolve())));
  }

  async setBaud(baud: number): Promise<void> {
    const port = this.need();
    await new Promise<void>((resolve, reject) =>
      port.update({ baudRate: baud }, (err) => (err ? reject(mapSerialError(err, this.url)) : resolve())),
    );
    this.currentBaud = baud;
  }

  async setSignals(signals: ModemSignals): Promise<void> {
    const port = this.need();
    // serialport fills unspecified lines with defaults (DTR and RTS asserted), so always send
    // both, keeping the one not mentioned. One call = one TIOCMSET on Unix (no transient), and
    // on Windows it re-sends DTR with every RTS change, which usbser.sys needs.
    const next = { dtr: signals.dtr ?? this.lines.dtr, rts: signals.rts ?? this.lines.rts };
    await new Promise<void>((resolve, reject) => port.set(next, (err) => (err ? reject(mapSerialError(err, this.url)) : resolve())));
    this.lines = next;
  }

  async setDataBits(bits: 5 | 6 | 7 | 8): Promise<void> {
    if (bits === this.dataBits) return;
    this.dataBits = bits;
    if (!this.isOpen) return;
    this.reopening = true;
    try {
      await this.close();
      await this.open();
    } finally {
      this.reopening = false;
    }
  }

  private need(): SerialPort {
    if (!this.port?.isOpen) throw fail('E_LINK_CLOSED', { port: this.url });
    return this.port;
  }
}

/** What a path that is not a serial port is, for E_NOT_A_PORT: "a folder", "a regular file", "a device that is not a serial port". */
function pathKind(port: string): string {
  try {
    const st = fs.statSync(port);
    return st.isDirectory() ? 'a folder' : st.isFile() ? 'a regular file' : 'a device that is not a serial port';
  } catch {
    return 'not a serial device';
  }
}

/** Turns the OS's wording (which differs per platform and binding) into one of our codes. */
export function mapSerialError(err: Error, port: string, phase: 'open' | 'io' = 'io'): UserError {
  const m = `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`;
  if (/EBUSY|Resource temporarily unavailable|Cannot lock port|Resource busy|Access denied|being used by another/i.test(m)) {
    // On Windows "Access denied" on a COM port almost always means another program holds it.
    return fail('E_PORT_BUSY', { port });
  }
  if (/EACCES|EPERM|Permission denied/i.test(m)) return fail('E_PORT_PERMISSION', { port });
  if (/ENOENT|No such file|File not found|cannot find the file|ENXIO/i.test(m)) return fail('E_PORT_NOT_FOUND', { port });
  // A folder, a regular file or /dev/null given as the port: open fails with EISDIR, the terminal
  // ioctls with ENOTTY. Said as what the path is, not as a board to replug.
  if (/EISDIR|Is a directory|ENOTTY|Inappropriate ioctl/i.test(m)) return fail('E_NOT_A_PORT', { port, detail: pathKind(port) });
  return fail(phase === 'open' ? 'E_PORT_OPEN' : 'E_PORT_IO', { port, detail: err.message });
}
