import type { DecodedEfuses, KeyBlockStatus } from '../efuse/decode';
import { field, readFieldNumber } from '../efuse/fields';

/**
 * The security state as this product needs to talk about it, derived from the eFuse field
 * table (src/core/efuse): no bit positions are repeated here. A read-protected key block
 * reads as zeros on the chip; it is reported as "protected", never "empty".
 */
export interface SecurityState {
  flashEncryption: {
    enabled: boolean;
    /** FLASH_CRYPT_CNT raw value; encryption is on when its popcount is odd. */
    cryptCnt: number;
    plaintextFlashesLeft: number;
    /** FLASH_CRYPT_CONFIG, or 'protected' when RD_DIS hides it (esptool then assumes 0xF). */
    config: number | 'protected';
  };
  secureBoot: { v1Enabled: boolean; v2Enabled: boolean };
  keys: { flashEncryption: KeyBlockStatus; secureBoot: KeyBlockStatus; block3: KeyBlockStatus };
  downloadMode: {
    encryptDisabled: boolean;
    decryptDisabled: boolean;
    cacheDisabled: boolean;
    /** UART_DOWNLOAD_DIS: honoured by rev3 ROMs only. */
    uartDownloadDisabled: boolean;
  };
  jtagDisabled: boolean;
  consoleDebugDisabled: boolean;
  /** CODING_SCHEME (0 None, 1 3/4, 2 Repeat, 3 None-like); absent when RD_DIS bit 3 hides it. */
  codingScheme?: number;
}

export function securityFromEfuses(dec: DecodedEfuses): SecurityState {
  const bit = (name: string): boolean => readFieldNumber(dec.words, field(name)) !== 0;
  return {
    flashEncryption: {
      enabled: dec.flashEncryptionEnabled,
      cryptCnt: dec.flashCryptCnt,
      plaintextFlashesLeft: dec.plaintextFlashesLeft,
      config: dec.flashCryptConfig ?? 'protected',
    },
    secureBoot: { v1Enabled: dec.secureBootV1, v2Enabled: bit('ABS_DONE_1') },
    keys: { flashEncryption: dec.keyBlocks[1].status, secureBoot: dec.keyBlocks[2].status, block3: dec.keyBlocks[3].status },
    downloadMode: {
      encryptDisabled: bit('DISABLE_DL_ENCRYPT'),
      decryptDisabled: bit('DISABLE_DL_DECRYPT'),
      cacheDisabled: bit('DISABLE_DL_CACHE'),
      uartDownloadDisabled: bit('UART_DOWNLOAD_DIS'),
    },
    jtagDisabled: bit('JTAG_DISABLE'),
    consoleDebugDisabled: bit('CONSOLE_DEBUG_DISABLE'),
    ...(dec.codingScheme !== undefined ? { codingScheme: dec.codingScheme } : {}),
  };
}
