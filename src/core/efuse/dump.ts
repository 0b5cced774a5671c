import { isThreeFour, SECRET_BLOCKS, type DecodedEfuses } from './decode';

const ALIASES: readonly string[] = ['', 'flash_encryption', 'secure_boot_v1 secure_boot_v2', ''];

/**
 * `efuse dump` in espefuse's console format (`espefuse.py dump`). Readable secret key blocks
 * that hold data print `????????` words: key bytes never reach the terminal.
 */
export function dumpText(dec: DecodedEfuses): string {
  const threeFour = isThreeFour(dec.codingScheme);
  const lines = dec.words.map((blk, b) => {
    const n = b === 0 ? 7 : threeFour ? 6 : 8;
    const masked = SECRET_BLOCKS.includes(b) && dec.keyBlocks[b as 1 | 2]?.status === 'data';
    const words = blk.slice(0, n).map((w) => (masked ? '????????' : (w >>> 0).toString(16).padStart(8, '0')));
    return `${`BLOCK${b}`.padEnd(15)} (${ALIASES[b]!.slice(0, 16).padEnd(16)}) [${String(b).padEnd(2)}] dump: ${words.join(' ')}`;
  });
  if (dec.decStatus !== 0) lines.push(`EFUSE_REG_DEC_STATUS        0x${dec.decStatus.toString(16).padStart(8, '0')}`);
  return lines.join('\n');
}
