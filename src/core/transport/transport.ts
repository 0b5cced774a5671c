/**
 * The host's view of a link to a chip: a local serial port, a `socket://HOST:PORT` TCP
 * connection, or one end of an in-memory pair. The ROM loader client only ever sees this.
 */
export interface ModemSignals {
  /** DTR asserted (true) drives the USB-UART's DTR line low, as pyserial's `dtr = True`. */
  dtr?: boolean;
  rts?: boolean;
}

export type Unsubscribe = () => void;

export interface Transport {
  /** How the user named it: `/dev/ttyUSB0`, `COM3`, `socket://127.0.0.1:5555`, `memory:...`. */
  readonly url: string;
  open(): Promise<void>;
  close(): Promise<void>;
  readonly isOpen: boolean;
  write(data: Uint8Array): Promise<void>;
  /** Every chunk received, in order. Returns a function that removes the listener. */
  onData(listener: (chunk: Buffer) => void): Unsubscribe;
  /** Called once when the link goes away (closed by us, by the peer, or by an error). */
  onClose(listener: (error?: Error) => void): Unsubscribe;
  /** Discards anything received but not yet delivered (and, on serial ports, the OS buffer). */
  flushInput(): Promise<void>;
  setBaud(baud: number): Promise<void>;
  readonly baud: number;
  /** DTR/RTS control; a no-op on links that have no modem lines (TCP), which `capabilities` says. */
  setSignals(signals: ModemSignals): Promise<void>;
  /** The Pycom PIC protocol needs 5 data bits (pypic.py opens the port with bytesize=FIVEBITS). */
  setDataBits(bits: 5 | 6 | 7 | 8): Promise<void>;
  readonly capabilities: TransportCapabilities;
}

export interface TransportCapabilities {
  modemLines: boolean;
  dataBits: boolean;
  /**
   * Whether the host side has a rate of its own (serial) or only records it (TCP: the chip behind
   * the bridge still changes its UART on CHANGE_BAUDRATE, so connect sends it either way).
   */
  baud: boolean;
}

/**
 * The device's side of a link, as the virtual ESP32 sees it: bytes from the host, and the
 * line-level events (baud, DTR/RTS, data bits) that a real chip would feel on its pins.
 */
export interface DeviceEndpoint {
  write(data: Uint8Array): void;
  onData(listener: (chunk: Buffer) => void): Unsubscribe;
  onSignals(listener: (signals: Required<ModemSignals>) => void): Unsubscribe;
  onBaud(listener: (baud: number) => void): Unsubscribe;
  onDataBits(listener: (bits: number) => void): Unsubscribe;
  onClose(listener: () => void): Unsubscribe;
  close(): void;
}
