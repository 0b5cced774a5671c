import type { Args } from './args';
import type { CliIo } from './command';
import { resetModeOption } from './common-options';
import { terminalUi } from './terminal-ui';
import { checkLoaderBaud, DEFAULT_BAUD, transportFromUrl, withBoard as coreWithBoard, type BoardSession, type BoardTarget, type LinkJob, type Transport } from '../core';

/**
 * What each command that takes --allow-remote carries over its link, for the refusal of a remote
 * socket:// board (the core's REMOTE_LINK_RISK says each in words).
 */
export const COMMAND_LINK_JOBS: Readonly<Record<string, LinkJob>> = {
  'efuse burn-keys': 'burn-keys',
  flash: 'flash',
  provision: 'provision',
  'efuse summary': 'read',
  'efuse dump': 'read',
  'device info': 'read',
  'predict-boot': 'read',
  'verify-flash': 'read',
  'ota-image': 'read',
  monitor: 'serial',
  'device enter-download': 'serial',
  'device exit-download': 'serial',
};

/** The link job of the command `args` are for (COMMAND_LINK_JOBS), as a TransportOptions/BoardTarget field. */
export function linkJob(args: Args): { job?: LinkJob } {
  const job = COMMAND_LINK_JOBS[args.command];
  return job ? { job } : {};
}

/** Opens a port (serial or socket://) for the length of `fn`, and always closes it. */
export async function withPort<T>(port: string, fn: (t: Transport) => Promise<T>, args?: Args): Promise<T> {
  const t = transportFromUrl(port, undefined, { allowRemote: args?.flag('allow-remote') ?? false, ...(args ? linkJob(args) : {}) });
  await t.open();
  try {
    return await fn(t);
  } finally {
    await t.close().catch(() => undefined);
  }
}

/** `--allow-remote`: a socket:// board on another machine is meant (every command that takes --port a board answers on). */
export const ALLOW_REMOTE_OPTION = { name: 'allow-remote', flag: true } as const;

/** The board the command line names: --port, --reset, --baud, --allow-remote. */
export function boardTarget(args: Args, extra: Pick<BoardTarget, 'board' | 'trace'> = {}): BoardTarget {
  return { port: args.need('port'), reset: resetModeOption(args), baud: checkLoaderBaud(args.opt('baud') ?? DEFAULT_BAUD), allowRemote: args.flag('allow-remote'), ...linkJob(args), ...extra };
}

/** The core's withBoard for a command: the board from --port/--reset/--baud, progress on stderr. */
export function withBoard<T>(args: Args, io: CliIo, fn: (session: BoardSession) => Promise<T>, extra: Pick<BoardTarget, 'board' | 'trace'> = {}): Promise<T> {
  return coreWithBoard(boardTarget(args, extra), terminalUi(io), fn);
}
