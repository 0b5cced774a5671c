import type { Args } from './args';
import { parseBoard, RESET_MODES, UserError, type BoardId, type ResetMode } from '../core';

/** `--reset auto|pic|classic|none`, shared by every command that connects to a board. */
export function resetModeOption(args: Args): ResetMode {
  const v = args.opt('reset') ?? 'auto';
  if (!(RESET_MODES as readonly string[]).includes(v)) throw new UserError('E_USAGE', `${args.command}: --reset must be one of ${RESET_MODES.join(', ')}, not "${v}".`);
  return v as ResetMode;
}

/** `--board WIPY|LOPY|SIPY|GPY|FIPY|LOPY4`; undefined when absent and not required. */
export function boardOption(args: Args, required = false): BoardId | undefined {
  const v = args.opt('board');
  if (v === undefined) {
    if (required) throw new UserError('E_USAGE', `${args.command}: --board is required (WIPY, LOPY, SIPY, GPY, FIPY or LOPY4).`);
    return undefined;
  }
  const b = parseBoard(v);
  if (!b) throw new UserError('E_USAGE', `${args.command}: --board must be WIPY, LOPY, SIPY, GPY, FIPY or LOPY4, not "${v}".`);
  return b;
}
