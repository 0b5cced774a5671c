import * as net from 'node:net';
import type { ModemSignals, Transport, TransportCapabilities, Unsubscribe } from './transport';
import { Listeners } from './listeners';
import { fail } from '../connect/messages';

/**
 * `socket://HOST:PORT`, the URL form pyserial and esptool use for a raw TCP serial bridge
 * (and which the virtual device server speaks). TCP has no modem lines, no data-bit framing
 * and no baud rate of its own: those calls are recorded no-ops and `capabilities` says so,
 * so reset strategies know they cannot reset the chip over this link. A baud change is still
 * asked of the chip (CHANGE_BAUDRATE): its UART, behind the bridge, runs at the rate it is told.
 */
export class TcpTransport implements Transport {
  readonly capabilities: TransportCapabilities = { modemLines: false, dataBits: false, baud: false };
  private socket: net.Socket | undefined;
  private currentBaud = 115200;
  private readonly data = new Listeners<[Buffer]>();
  private readonly closed = new Listeners<[Error | undefined]>();

  constructor(
    readonly url: string,
    readonly host: string,
    readonly port: number,
  ) {}

  get isOpen(): boolean {
    return this.socket !== undefined && !this.socket.destroyed;
  }

  get baud(): number {
    return this.currentBaud;
  }

  async open(): Promise<void> {
    if (this.isOpen) return;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = net.connect({ host: this.host, port: this.port });
      s.once('connect', () => resolve(s));
      s.once('error', (err) => reject(fail('E_TCP_CONNECT', { port: this.url, detail: err.message })));
    });
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.data.emit(chunk));
    let error: Error | undefined;
    socket.on('error', (err) => {
      error = fail('E_PORT_IO', { port: this.url, detail: err.message });
    });
    socket.on('close', () => {
      if (this.socket === socket) this.socket = undefined;
      this.closed.emit(error);
    });
    this.socket = socket;
  }

  async close(): Promise<void> {
    const s = this.socket;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      // A peer that never acknowledges the FIN must not hang us.
      setTimeout(() => s.destroy(), 500).unref();
    });
  }

  async write(data: Uint8Array): Promise<void> {
    const s = this.socket;
    if (!s || s.destroyed) throw fail('E_LINK_CLOSED', { port: this.url });
    await new Promise<void>((resolve, reject) =>
      s.write(Buffer.isBuffer(data) ? data : Buffer.from(data), (err) => (err ? reject(fail('E_PORT_IO', { port: this.url, detail: err.message })) : resolve())),
    );
  }

  onData(listener: (chunk: Buffer) => void): Unsubscribe {
    return this.data.add(listener);
  }

  onClose(listener: (error?: Error) => void): Unsubscribe {
    return this.closed.add(listener);
  }

  async flushInput(): Promise<void> {
    // Nothing is buffered below us: every received chunk is delivered as it arrives.
  }

  async setBaud(baud: number): Promise<void> {
    this.currentBaud = baud;
  }

  async setSignals(_signals: ModemSignals): Promise<void> {}

  async setDataBits(_bits: 5 | 6 | 7 | 8): Promise<void> {}
}

/** True for a `socket://` URL: a board served over TCP (pycom-secure sim serve), with no reset lines. */
export function isSocketUrl(url: string): boolean {
  return /^socket:\/\//i.test(url.trim());
}

/** Parses `socket://HOST:PORT` (IPv6 hosts in brackets); undefined when it is not that form. */
export function parseSocketUrl(url: string): { host: string; port: number } | undefined {
  const m = /^socket:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})\/?$/i.exec(url.trim());
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
