import { checkLoaderBaud, connect, type Connection, type ConnectOptions } from '../connect/connect';
import type { ResetMode } from '../connect/strategy';
import { identify, type ChipInfo } from '../chip/identify';
import { transportFromUrl, type LinkJob } from '../transport/open';
import type { Transport } from '../transport/transport';
import type { UiPort } from './ui-port';

/** Which board to talk to and how. */
export interface BoardTarget {
  /** A serial device (/dev/ttyACM0, COM3) or socket://HOST:PORT (a `sim serve` board). */
  port: string;
  /** How to enter download mode (auto: from the port's USB ids). */
  reset: ResetMode;
  /** Baud for everything after the ROM loader answers at 115200 (CHANGE_BAUDRATE). */
  baud: number;
  /** A transport already made for `port` (in-memory boards, fault campaigns); opened here unless `opened`. */
  transport?: Transport;
  opened?: boolean;
  board?: ConnectOptions['board'];
  trace?: ConnectOptions['trace'];
  /** Test seams (the fault campaigns' scaled clock and sync timeout); the front ends leave them out. */
  clock?: ConnectOptions['clock'];
  syncTimeoutMs?: ConnectOptions['syncTimeoutMs'];
  /** A socket:// board on another machine is meant (key words cross the network in clear); see transportFromUrl. */
  allowRemote?: boolean;
  /** How the front end allows a remote board, for the refusal. */
  allowRemoteHint?: string;
  /** What the link is for, named in that refusal (transport/open.ts REMOTE_LINK_RISK). */
  job?: LinkJob;
}

/** A board in download mode with its ROM loader answering, identified. */
export interface BoardSession {
  transport: Transport;
  conn: Connection;
  chip: ChipInfo;
}

/**
 * The common shape of every job that talks to a board: open the port, enter download mode the
 * board's way, connect (with the baud fallback of `connect`), identify the chip, run `fn`, and
 * let go of the loader and the port whatever happens (a board left open would block the next
 * command, a REPL or another tool). Progress and connection warnings (a baud fallback) go to `ui.info`.
 *
 * Errors: E_BAUD for a rate not in LOADER_BAUD_RATES (before the port is opened); whatever
 * `connect` and `identify` throw (UserError with the port named and what to do).
 */
export async function withBoard<T>(target: BoardTarget, ui: Pick<UiPort, 'info' | 'warn'>, fn: (session: BoardSession) => Promise<T>): Promise<T> {
  checkLoaderBaud(target.baud);
  const transport = target.transport ?? transportFromUrl(target.port, undefined, {
    ...(target.allowRemote ? { allowRemote: true } : {}), ...(target.allowRemoteHint ? { allowRemoteHint: target.allowRemoteHint } : {}), ...(target.job ? { job: target.job } : {}),
  });
  if (!target.opened) await transport.open();
  try {
    const conn = await connect(transport, {
      reset: target.reset, baud: target.baud, log: (l) => ui.info(l),
      ...(target.board ? { board: target.board } : {}), ...(target.trace ? { trace: target.trace } : {}),
      ...(target.clock ? { clock: target.clock } : {}), ...(target.syncTimeoutMs !== undefined ? { syncTimeoutMs: target.syncTimeoutMs } : {}),
    });
    try {
      return await fn({ transport, conn, chip: await identify(conn) });
    } finally {
      conn.loader.dispose();
    }
  } finally {
    if (!target.opened) await transport.close().catch(() => undefined);
  }
}
