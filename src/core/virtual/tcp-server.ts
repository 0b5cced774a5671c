import * as net from 'node:net';
import type { DeviceEndpoint, Unsubscribe } from '../transport/transport';
import type { VirtualEsp32 } from './device';
import { SIM_BUSY_TEXT } from '../loader/link-error';

/**
 * Serves a virtual board over TCP (`socket://127.0.0.1:PORT`), one client at a time, any number
 * of connections one after another; the board keeps its state between them like a real board
 * between two tool runs. Each new connection resets the board into download mode, so the client
 * first receives the boot log. A second client while one is connected is refused (told
 * SIM_BUSY_TEXT, then closed), as a serial port that is already open would be.
 */
export interface SimServerOptions {
  port?: number;
  host?: string;
  /** Called after each client disconnects (e.g. to save the state file). */
  onDisconnect?: () => void;
}

export interface SimServer {
  readonly port: number;
  readonly host: string;
  /** Stops listening and closes the current client. */
  close(): Promise<void>;
  /** Resolves when the current client (if any) has gone. */
  readonly connected: boolean;
}

function socketEndpoint(sock: net.Socket): DeviceEndpoint {
  const none = (): Unsubscribe => () => undefined;
  return {
    write(data) {
      if (!sock.destroyed) sock.write(Buffer.from(data));
    },
    onData(fn) {
      sock.on('data', fn);
      return () => sock.off('data', fn);
    },
    onClose(fn) {
      const h = (): void => fn();
      sock.on('close', h);
      return () => sock.off('close', h);
    },
    // TCP has no modem lines, no baud and no data-bit setting.
    onSignals: none,
    onBaud: none,
    onDataBits: none,
    close() {
      sock.destroy();
    },
  };
}

export async function startSimServer(dev: VirtualEsp32, opts: SimServerOptions = {}): Promise<SimServer> {
  const host = opts.host ?? '127.0.0.1';
  let current: net.Socket | undefined;
  const server = net.createServer((sock) => {
    if (current) {
      // Said in words before closing, so the client can tell "busy" from "unplugged".
      sock.on('error', () => undefined);
      sock.write(`${SIM_BUSY_TEXT}\r\n`, () => sock.destroy());
      return;
    }
    current = sock;
    sock.setNoDelay(true);
    sock.on('error', () => undefined);
    const ep = socketEndpoint(sock);
    dev.attach(ep);
    sock.on('close', () => {
      dev.detach(ep);
      current = undefined;
      opts.onDisconnect?.();
    });
    dev.reset('download');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as net.AddressInfo;
  return {
    port: addr.port,
    host,
    get connected() {
      return current !== undefined;
    },
    close() {
      return new Promise<void>((resolve) => {
        current?.destroy();
        server.close(() => resolve());
      });
    },
  };
}
