import { wholeNumber, type Args } from './args';
import { BOOT_LOG_CAP_MS, boardChoices, findModule, parseBoard, RESET_MODES, UserError, type BoardId, type ResetMode } from '../core';

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
  if (!b) {
    // A module (virtual profile) name such as WIPY2 is one of a board's modules: say which board.
    const m = findModule(v);
    const hint = m ? `; the ${m.title} is a ${m.boardName} module, built and flashed as --board ${m.makeBoard}` : '';
    throw new UserError('E_USAGE', `${args.command}: --board must be ${boardChoices()}, not "${v}"${hint}.`);
  }
  return b;
}

/**
 * `--boot-log-ms N` (flash, provision): the cap in milliseconds on reading the boot log after
 * writing, 0 to read none (the run then says so); BOOT_LOG_CAP_MS when absent. At most 10 minutes.
 */
export function bootLogMsOption(args: Args): number {
  return args.intIn('boot-log-ms', { min: 0, max: 600_000, what: 'a whole number of milliseconds', note: '0 reads no boot log' }, BOOT_LOG_CAP_MS);
}

/** The flash sizes an ESP32 module has, in bytes (1 to 16 MB: the ESP32 maps at most 16 MB). */
const FLASH_SIZE_MB = [1, 2, 4, 8, 16] as const;

/** `--flash-size BYTES` (flash --dry-run, predict-boot --plan): one of 1, 2, 4, 8 or 16 MB in bytes; undefined when absent. */
export function flashSizeOption(args: Args): number | undefined {
  const v = args.opt('flash-size');
  if (v === undefined) return undefined;
  const n = wholeNumber(v);
  if (!FLASH_SIZE_MB.some((mb) => mb * 0x100000 === n)) {
    throw new UserError('E_USAGE', `${args.command}: --flash-size must be the module's flash size in bytes, ${FLASH_SIZE_MB.slice(0, -1).join(', ')} or ${FLASH_SIZE_MB[FLASH_SIZE_MB.length - 1]} MB (e.g. 4 MB is 4194304 or 0x400000), not "${v}".`);
  }
  return n;
}
