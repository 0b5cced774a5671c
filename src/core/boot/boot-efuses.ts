import { field, popcount, readFieldRaw, isRdDisSet, isWrDisSet, type EfuseWords } from '../efuse/fields';
import { wordsToBytes } from '../efuse/coding';

/**
 * The eFuse facts the ROM and bootloader act on, taken from the *physical* bits (the hardware
 * ignores read protection). Keys are in key-file order (the block reversed), 24 bytes on 3/4 chips.
 */
export interface BootEfuses {
  revision: number;
  flashCryptCnt: number;
  flashCryptConfig: number;
  absDone0: boolean;
  codingScheme: number;
  consoleDebugDisable: boolean;
  jtagDisable: boolean;
  disableDlDecrypt: boolean;
  cryptCntWriteProtected: boolean;
  flashKey: Uint8Array;
  secureBootKey: Uint8Array;
  blk1: KeyBlockFacts;
  blk2: KeyBlockFacts;
}

export interface KeyBlockFacts {
  empty: boolean;
  readProtected: boolean;
  writeProtected: boolean;
}

function keyFromBlock(words: readonly number[], threeFour: boolean): Uint8Array {
  // 3/4 raw blocks hold 8-byte groups (6 data + 2 check bytes): keep the data bytes.
  const raw = wordsToBytes(words);
  const data = threeFour ? Buffer.concat([0, 1, 2, 3].map((g) => raw.subarray(8 * g, 8 * g + 6))) : raw;
  return new Uint8Array(Buffer.from(data).reverse());
}

/** From the physical eFuse words (e.g. the virtual device's raw array). */
export function bootEfusesFromRaw(raw: EfuseWords, revision: number): BootEfuses {
  const get = (n: string): number => Number(readFieldRaw(raw, field(n)));
  const coding = get('CODING_SCHEME');
  const threeFour = coding === 1;
  const facts = (b: 1 | 2): KeyBlockFacts => ({
    empty: raw[b]!.every((w) => w === 0),
    readProtected: isRdDisSet(raw, b - 1),
    writeProtected: isWrDisSet(raw, 6 + b),
  });
  return {
    revision,
    flashCryptCnt: get('FLASH_CRYPT_CNT'),
    flashCryptConfig: get('FLASH_CRYPT_CONFIG'),
    absDone0: get('ABS_DONE_0') === 1,
    codingScheme: coding,
    consoleDebugDisable: get('CONSOLE_DEBUG_DISABLE') === 1,
    jtagDisable: get('JTAG_DISABLE') === 1,
    disableDlDecrypt: get('DISABLE_DL_DECRYPT') === 1,
    cryptCntWriteProtected: isWrDisSet(raw, 2),
    flashKey: keyFromBlock(raw[1]!, threeFour),
    secureBootKey: keyFromBlock(raw[2]!, threeFour),
    blk1: facts(1),
    blk2: facts(2),
  };
}

export function flashEncryptionOn(e: BootEfuses): boolean {
  return popcount(e.flashCryptCnt) % 2 === 1;
}

/**
 * The key blocks a secure bootloader fills with keys of its own at its first boot
 * (ESP-IDF secure_boot.c: BLOCK2 while ABS_DONE_0 is off; flash_encrypt.c: BLOCK1 while flash
 * encryption is off and FLASH_CRYPT_CNT is 0): empty and neither read- nor write-protected. Works
 * on words read over the ROM loader too (a read-protected block reads as zeros, but its RD_DIS
 * bit is visible, so it never counts as blank).
 */
export function blankKeyBlocks(e: BootEfuses): { secureBoot: boolean; flashEncryption: boolean } {
  return {
    secureBoot: !e.absDone0 && e.blk2.empty && !e.blk2.readProtected && !e.blk2.writeProtected,
    flashEncryption: !flashEncryptionOn(e) && e.flashCryptCnt === 0 && e.blk1.empty && !e.blk1.readProtected && !e.blk1.writeProtected,
  };
}
