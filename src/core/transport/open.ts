import type { Transport } from './transport';
import { SerialTransport } from './serial';
import { TcpTransport, parseSocketUrl } from './tcp';
import { fail } from '../connect/messages';
import { isIP } from 'node:net';
import { UserError } from '../errors';

export interface TransportOptions {
  /**
   * The user means a board on another machine (the CLI's --allow-remote, the editor's
   * pycom.allowRemoteSocket setting); without it only loopback socket:// hosts are opened.
   */
  allowRemote?: boolean;
  /** How this front end allows it, for the refusal (default: "pass --allow-remote"). */
  allowRemoteHint?: string;
}

/**
 * Whether `host` (of a socket:// URL) is this machine: "localhost", 127.0.0.0/8, ::1 or an
 * IPv4-mapped 127.x address. Any other name counts as remote: a name could resolve anywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) {
    if (h === '::1' || /^(0{1,4}:){7}0{0,3}1$/.test(h) || h === '0:0:0:0:0:0:0:1') return true;
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    return mapped ? mapped[1]!.startsWith('127.') : false;
  }
  return false;
}

/**
 * Turns what the user typed after --port into a transport (not yet opened): `socket://H:P`
 * for TCP, anything else is a local serial port name (`/dev/ttyACM0`, `COM3`).
 */
export function transportFromUrl(url: string, baud = 115200, opts: TransportOptions = {}): Transport {
  const trimmed = url.trim();
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    const sock = parseSocketUrl(trimmed);
    if (!sock) throw fail('E_BAD_URL', { port: url });
    // The ROM protocol has no encryption or authentication: Burn Keys sends the key words as
    // plain WRITE_REG values, flashing sends firmware, to whoever listens on that address.
    if (!opts.allowRemote && !isLoopbackHost(sock.host)) {
      throw new UserError('E_REMOTE_SOCKET', `${trimmed} is not on this machine, and over socket:// Burn Keys would send the key words (and flashing the firmware) across the network in clear, to whoever answers there; use a board on this machine (socket://127.0.0.1:PORT), or ${opts.allowRemoteHint ?? 'pass --allow-remote'} if you mean to reach that board over a network you trust.`);
    }
    return new TcpTransport(trimmed, sock.host, sock.port);
  }
  if (trimmed === '') throw fail('E_BAD_URL', { port: url });
  return new SerialTransport(trimmed, baud);
}

export async function openTransport(url: string, baud = 115200, opts: TransportOptions = {}): Promise<Transport> {
  const t = transportFromUrl(url, baud, opts);
  await t.open();
  return t;
}
