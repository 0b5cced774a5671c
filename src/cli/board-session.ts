import type { Args } from './args';
import type { CliIo } from './command';
import { resetModeOption } from './common-options';
import { connect, DEFAULT_BAUD, identify, transportFromUrl, type ChipInfo, type Connection, type ConnectOptions, type Transport } from '../core';

/** Opens a port (serial or socket://) for the length of `fn`, and always closes it. */
export async function withPort<T>(port: string, fn: (t: Transport) => Promise<T>): Promise<T> {
  const t = transportFromUrl(port);
  await t.open();
  try {
    return await fn(t);
  } finally {
    await t.close().catch(() => undefined);
  }
}

/**
 * The common shape of every command that talks to a board: open --port, enter download mode the
 * board's way (--reset), switch to --baud, identify the chip, run `fn`, and let go of the loader
 * and the port whatever happens.
 */
export async function withBoard<T>(
  args: Args,
  io: CliIo,
  fn: (conn: Connection, chip: ChipInfo) => Promise<T>,
  extra: Pick<ConnectOptions, 'board' | 'trace'> = {},
): Promise<T> {
  return withPort(args.need('port'), async (t) => {
    const conn = await connect(t, { ...extra, reset: resetModeOption(args), baud: args.int('baud', DEFAULT_BAUD), log: (l) => io.err(l) });
    try {
      return await fn(conn, await identify(conn));
    } finally {
      conn.loader.dispose();
    }
  });
}
