import type { Transport } from './transport';
import { SerialTransport } from './serial';
import { TcpTransport, parseSocketUrl } from './tcp';
import { fail } from '../connect/messages';
import { isIP } from 'node:net';
import { UserError } from '../errors';

/**
 * What a job carries over its link: `burn-keys` the board's keys, `flash` the firmware,
 * `provision` both for each board, `read` what the board holds (eFuses, flash), `serial` the
 * board's serial line (a monitor, the download-mode lines, the REPL).
 */
export type LinkJob = 'burn-keys' | 'flash' | 'provision' | 'read' | 'serial';

/**
 * Why a socket:// board on another machine is refused, per job: one clause each, said in the
 * refusal (remoteSocketRefusal). The ROM loader's protocol has neither encryption nor
 * authentication: Burn Keys sends the key words as plain WRITE_REG values, flashing sends the
 * firmware, and whoever answers at that address can read them or answer as the board.
 * `any`: a link whose job is not said (the editor's board connection).
 */
export const REMOTE_LINK_RISK: Readonly<Record<LinkJob | 'any', string>> = {
  'burn-keys': "Burn Keys would send the board's keys across the network in clear, to whoever answers there",
  flash: 'flashing would send the firmware across the network in clear, to whoever answers there',
  provision: "provisioning would send each board's keys and firmware across the network in clear, to whoever answers there",
  read: "what the board holds (its eFuses and flash) would be read across the network in clear, from whoever answers there",
  serial: "the board's serial line would cross the network in clear, to whoever answers there",
  any: 'what goes to the board (its keys when burning, the firmware when flashing) would cross the network in clear, to whoever answers there',
};

/**
 * The refusal (E_REMOTE_SOCKET) of the socket:// URL `url` whose host is not this machine: one
 * sentence naming what the job would expose (REMOTE_LINK_RISK) and how to allow it (`allowRemoteHint`,
 * default "pass --allow-remote").
 */
export function remoteSocketRefusal(url: string, opts: Pick<TransportOptions, 'job' | 'allowRemoteHint'> = {}): UserError {
  return new UserError('E_REMOTE_SOCKET', `${url} is not on this machine, and over socket:// ${REMOTE_LINK_RISK[opts.job ?? 'any']}; use a board on this machine (socket://127.0.0.1:PORT), or ${opts.allowRemoteHint ?? 'pass --allow-remote'} if you mean to reach that board over a network you trust.`);
}

export interface TransportOptions {
  /**
   * The user means a board on another machine (the CLI's --allow-remote, the editor's
   * pycom.allowRemoteSocket setting); without it only loopback socket:// hosts are opened.
   */
  allowRemote?: boolean;
  /** How this front end allows it, for the refusal (default: "pass --allow-remote"). */
  allowRemoteHint?: string;
  /** What the link is for, for the refusal (REMOTE_LINK_RISK); absent: `any`. */
  job?: LinkJob;
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
    if (!opts.allowRemote && !isLoopbackHost(sock.host)) throw remoteSocketRefusal(trimmed, opts);
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
