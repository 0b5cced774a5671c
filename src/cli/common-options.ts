import type { Args } from './args';
import { boardChoices, parseBoard, RESET_MODES, UserError, type BoardId, type ResetMode } from '../core';

/** `--reset auto|pic|classic|none`, shared by every command that connects to a board. */
export function resetModeOption(args: Args): ResetMode {
  const v = args.opt('reset') ?? 'auto';
  if (!(RESET_MODES as readonly string[]).includes(v)) throw new UserError('E_USAGE', `${args.command}: --reset must be one of ${RESET_MODES.join(', ')}, not "${v}".`);
  return v as ResetMode;
}

/** `--board` with a board id of the catalog (WIPY, LOPY, ...; any case); undefined when absent and not required. */
export function boardOption(args: Args, required = false): BoardId | undefined {
  const v = args.opt('board');
  if (v === undefined) {
    if (required) throw new UserError('E_USAGE', `${args.command}: --board is required (${boardChoices()}).`);
    return undefined;
  }
  const b = parseBoard(v);
  if (!b) throw new UserError('E_USAGE', `${args.command}: --board must be ${boardChoices()}, not "${v}".`);
  return b;
}
