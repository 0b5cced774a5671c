/**
 * Just enough of the Web Serial `SerialPort` for esptool-js's Transport (lib/webserial.js):
 * open/close, readable/writable streams, setSignals and getInfo, on top of one of our host
 * Transports (an in-memory pair's host end, or a TCP link to a sim server). Test-only: esptool-js
 * is written for a browser, and this stands in for `navigator.serial.requestPort()`.
 */
import { ReadableStream, WritableStream } from 'node:stream/web';
import type { Transport, Unsubscribe } from '../../../src/core/transport/transport';

export interface WebSerialSignals {
  dataTerminalReady?: boolean;
  requestToSend?: boolean;
  break?: boolean;
}

export class WebSerialAdapter {
  readable: ReadableStream<Uint8Array> | null = null;
  writable: WritableStream<Uint8Array> | null = null;
  /** Every setSignals call, as esptool-js made it (for assertions on the reset sequence). */
  readonly signalLog: WebSerialSignals[] = [];
  /** Baud rates esptool-js opened the port at. */
  readonly openBauds: number[] = [];
  private unsubscribe: Unsubscribe | undefined;

  constructor(private readonly link: Transport) {}

  getInfo(): { usbVendorId?: number; usbProductId?: number } {
    // A bare UART bridge as esptool-js sees it without USB ids: not USB-JTAG-Serial, not USB-OTG.
    return {};
  }

  async open(options: { baudRate: number }): Promise<void> {
    if (this.readable) throw new Error('InvalidStateError: the port is already open');
    if (!this.link.isOpen) await this.link.open();
    await this.link.setBaud(options.baudRate);
    this.openBauds.push(options.baudRate);
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.unsubscribe = this.link.onData((chunk) => {
          try {
            controller.enqueue(new Uint8Array(chunk));
          } catch {
            // stream already cancelled or closed: drop, as a closed port would
          }
        });
      },
      cancel: () => {
        this.unsubscribe?.();
        this.unsubscribe = undefined;
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.link.write(chunk),
    });
  }

  async setSignals(s: WebSerialSignals): Promise<void> {
    this.signalLog.push({ ...s });
    const next: { dtr?: boolean; rts?: boolean } = {};
    if (s.dataTerminalReady !== undefined) next.dtr = s.dataTerminalReady;
    if (s.requestToSend !== undefined) next.rts = s.requestToSend;
    await this.link.setSignals(next);
  }

  /** Web Serial close(): the streams go away; the underlying link stays up so the port can reopen. */
  async close(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.readable = null;
    this.writable = null;
  }
}
