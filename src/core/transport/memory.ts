import { fail } from '../connect/messages';
import type { DeviceEndpoint, ModemSignals, Transport, TransportCapabilities, Unsubscribe } from './transport';

/**
 * An in-memory link: `host` is a Transport for the loader client, `device` the endpoint a
 * VirtualEsp32 attaches to. Bytes are delivered asynchronously (setImmediate) and in order, so
 * callers see the same interleaving as on a real link (a reply never arrives inside write()).
 * Host baud/DTR/RTS/data-bits changes are delivered to the device as line events.
 */
export interface MemoryPair {
  host: Transport;
  device: DeviceEndpoint;
}

class Listeners<T extends unknown[]> {
  private readonly set = new Set<(...a: T) => void>();
  add(fn: (...a: T) => void): Unsubscribe {
    this.set.add(fn);
    return () => this.set.delete(fn);
  }
  emit(...a: T): void {
    for (const fn of [...this.set]) fn(...a);
  }
}

export function createMemoryPair(url = 'memory:virtual'): MemoryPair {
  const toHost = new Listeners<[Buffer]>();
  const toDevice = new Listeners<[Buffer]>();
  const hostClose = new Listeners<[Error | undefined]>();
  const deviceClose = new Listeners<[]>();
  const signals = new Listeners<[Required<ModemSignals>]>();
  const bauds = new Listeners<[number]>();
  const dataBits = new Listeners<[number]>();
  let open = false;
  let closed = false;
  let baud = 115200;
  let dtr = false;
  let rts = false;
  // Bytes for the host that arrived before a flushInput are dropped by bumping the generation.
  let hostGeneration = 0;

  const finish = (err?: Error): void => {
    if (closed) return;
    closed = true;
    open = false;
    setImmediate(() => {
      hostClose.emit(err);
      deviceClose.emit();
    });
  };

  const capabilities: TransportCapabilities = { modemLines: true, dataBits: true, baud: true };

  const host: Transport = {
    url,
    get isOpen() {
      return open;
    },
    get baud() {
      return baud;
    },
    capabilities,
    open() {
      if (closed) return Promise.reject(new Error(`${url} was closed`));
      open = true;
      return Promise.resolve();
    },
    close() {
      finish();
      return Promise.resolve();
    },
    write(data: Uint8Array) {
      // As the serial and TCP transports do: a write to a closed link is the user's E_LINK_CLOSED.
      if (!open) return Promise.reject(fail('E_LINK_CLOSED', { port: url }));
      const copy = Buffer.from(data);
      setImmediate(() => {
        if (!closed) toDevice.emit(copy);
      });
      return Promise.resolve();
    },
    onData: (fn) => toHost.add(fn),
    onClose: (fn) => hostClose.add(fn),
    flushInput() {
      hostGeneration++;
      return Promise.resolve();
    },
    setBaud(b: number) {
      baud = b;
      setImmediate(() => {
        if (!closed) bauds.emit(b);
      });
      return Promise.resolve();
    },
    setSignals(s: ModemSignals) {
      dtr = s.dtr ?? dtr;
      rts = s.rts ?? rts;
      const snapshot = { dtr, rts };
      setImmediate(() => {
        if (!closed) signals.emit(snapshot);
      });
      return Promise.resolve();
    },
    setDataBits(bits) {
      setImmediate(() => {
        if (!closed) dataBits.emit(bits);
      });
      return Promise.resolve();
    },
  };

  const device: DeviceEndpoint = {
    write(data: Uint8Array) {
      if (closed) return;
      const copy = Buffer.from(data);
      const gen = hostGeneration;
      setImmediate(() => {
        // Data still in flight when the host flushed its input is discarded, as a UART FIFO flush would.
        if (!closed && open && gen === hostGeneration) toHost.emit(copy);
      });
    },
    onData: (fn) => toDevice.add(fn),
    onSignals: (fn) => signals.add(fn),
    onBaud: (fn) => bauds.add(fn),
    onDataBits: (fn) => dataBits.add(fn),
    onClose: (fn) => deviceClose.add(() => fn()),
    close() {
      finish();
    },
  };
  return { host, device };
}
