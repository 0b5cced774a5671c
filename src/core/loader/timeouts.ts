/**
 * Command timeouts (esptool's loader.py). Sizes scale in decimal megabytes, as esptool's
 * `timeout_per_mb` does, with a floor of the default timeout and a cap for any command.
 */
export const DEFAULT_TIMEOUT_MS = 3000;
export const SYNC_TIMEOUT_MS = 100;
export const MAX_TIMEOUT_MS = 240_000;
export const MEM_END_ROM_TIMEOUT_MS = 200;
export const MD5_MS_PER_MB = 8000;
export const ERASE_REGION_MS_PER_MB = 30_000;
export const ERASE_WRITE_MS_PER_MB = 40_000;
/** Attempts for one flash block (esptool's write_block_attempts). */
export const WRITE_BLOCK_ATTEMPTS = 3;

export function timeoutPerMb(msPerMb: number, bytes: number): number {
  return Math.min(MAX_TIMEOUT_MS, Math.max(DEFAULT_TIMEOUT_MS, Math.ceil((msPerMb * bytes) / 1_000_000)));
}
