import type { Transport } from './transport';
import { SerialTransport } from './serial';
import { TcpTransport, parseSocketUrl } from './tcp';
import { fail } from '../connect/messages';

/**
 * Turns what the user typed after --port into a transport (not yet opened): `socket://H:P`
 * for TCP, anything else is a local serial port name (`/dev/ttyACM0`, `COM3`).
 */
export function transportFromUrl(url: string, baud = 115200): Transport {
  const trimmed = url.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const sock = parseSocketUrl(trimmed);
    if (!sock) throw fail('E_BAD_URL', { port: url });
    return new TcpTransport(trimmed, sock.host, sock.port);
  }
  if (trimmed === '') throw fail('E_BAD_URL', { port: url });
  return new SerialTransport(trimmed, baud);
}

export async function openTransport(url: string, baud = 115200): Promise<Transport> {
  const t = transportFromUrl(url, baud);
  await t.open();
  return t;
}
