import { createHash } from 'node:crypto';
import { bootloaderDigestInput, computeBootloaderDigest } from '../crypto/bootloader-digest';
import { keyFileToBlockWords } from '../crypto/efuse-key-layout';
import { decryptFlashData, encryptFlashData } from '../crypto/flash-encryption';
import { cloneWords, field, isFieldWritable, readFieldRaw, withField, type EfuseWords } from '../efuse/fields';
import { checksumOk, hashOk, readEspImage } from '../image/esp-image';
import { bootloaderVerificationKey } from '../image/bootloader-key';
import { verifySignatureAt } from '../crypto/signature';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN, keyBytes, PARTITION_TABLE_ADDRESS, SECTOR_SIZE } from '../chip/esp32';
import { bootEfusesFromRaw, flashEncryptionOn } from './boot-efuses';
import { imageExtent } from './predict';

/**
 * The first boot of a secure bootloader on a board whose key blocks are empty, as the virtual
 * ESP32 lives it (ESP-IDF v3.x/v4.0 bootloader_support secure_boot.c and flash_encrypt.c, and their
 * log lines): the bootloader generates its own keys,
 * burns and read/write-protects them, writes the secure boot digest, burns ABS_DONE_0, encrypts
 * the flash in place and burns FLASH_CRYPT_CNT, then resets. The result is what a rehearsal must
 * show: keys burned that nobody has, and read-protected (they read as zeros afterwards).
 */
export interface FirstBootInput {
  /** Physical eFuse words before the boot. */
  efuse: EfuseWords;
  chipRevision: number;
  /** Raw flash reader (ciphertext where encrypted). */
  readFlash(offset: number, length: number): Uint8Array;
  flashSize: number;
  /** What predictBoot said the bootloader generates (BootVerdict.firstBoot). */
  generate: { secureBootKey: boolean; flashEncryptionKey: boolean };
  /** Seed for the "hardware RNG": the same board and seed give the same keys (rehearsals are repeatable). */
  seed: string;
}

export interface FirstBootResult {
  /** Physical eFuse words after the boot. */
  efuseAfter: EfuseWords;
  /** Sector writes (erase, then program), in order. */
  flashWrites: Array<{ offset: number; data: Uint8Array; erase: true }>;
  /** Lines the bootloader prints while it provisions (after "Loaded app ..."). */
  log: string[];
  /** Flash encryption went on in this boot: the bootloader resets (SW_RESET) and the ROM boots again. */
  resets: boolean;
}

/** Deterministic stand-in for the chip's RNG: SHA-256 of seed, MAC words and purpose, counter mode. */
function rng(seed: string, efuse: EfuseWords, purpose: string, n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0, c = 0; i < n; c++) {
    const h = createHash('sha256').update(`virtual-esp32-first-boot|${seed}|${efuse[0]!.join(',')}|${purpose}|${c}`).digest();
    const take = Math.min(h.length, n - i);
    out.set(h.subarray(0, take), i);
    i += take;
  }
  return out;
}

/**
 * Runs the provisioning steps of a secure bootloader's first boot (IDF v3 order, as Pycom's:
 * secure boot first, then flash encryption) and returns the eFuse and flash state afterwards.
 * Keys are in key-file order and burned reversed, as espefuse would (efuse-key-layout.ts).
 * The bootloader's configuration is not known (Pycom's sdkconfig does not say which "allow"
 * options it sets, UNCONFIRMED): the IDF v3 defaults are modelled, i.e. JTAG_DISABLE,
 * CONSOLE_DEBUG_DISABLE and DISABLE_DL_ENCRYPT/DECRYPT/CACHE are burned and FLASH_CRYPT_CNT is
 * left writable (Pycom's "3 more plaintext re-flashes"). Never throws for a bootloader
 * predictBoot accepted.
 */
export function simulateFirstBoot(o: FirstBootInput): FirstBootResult {
  let words = cloneWords(o.efuse);
  const before = bootEfusesFromRaw(words, o.chipRevision);
  const feBefore = flashEncryptionOn(before);
  const coding = before.codingScheme === 1 ? '3/4' : 'none';
  const keyLen = keyBytes(coding);
  const log: string[] = [];
  const pending = new Map<number, Uint8Array>();
  const flashWrites: FirstBootResult['flashWrites'] = [];

  const orBits = (name: string, bits: bigint): void => {
    const f = field(name);
    if (!isFieldWritable(words, f)) return;
    words = withField(words, f, readFieldRaw(words, f) | bits);
  };
  const rawSector = (s: number): Uint8Array => pending.get(s) ?? o.readFlash(s, SECTOR_SIZE);
  const raw = (a: number, n: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let p = a; p < a + n;) {
      const s = p - (p % SECTOR_SIZE);
      const take = Math.min(s + SECTOR_SIZE, a + n) - p;
      out.set(rawSector(s).subarray(p - s, p - s + take), p - a);
      p += take;
    }
    return out;
  };
  // What the bootloader reads through the cache before this boot changes the encryption state.
  const plainBefore = (a: number, n: number): Uint8Array => {
    if (!feBefore) return raw(a, n);
    const s = a & ~31;
    const e = (a + n + 31) & ~31;
    return decryptFlashData(raw(s, e - s), { key: before.flashKey, address: s, flashCryptConf: before.flashCryptConfig }).subarray(a - s, a - s + n);
  };
  const writeSector = (s: number, data: Uint8Array): void => {
    pending.set(s, data);
    flashWrites.push({ offset: s, data, erase: true });
  };

  const bl = readEspImage(plainBefore(BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN), 'The bootloader');
  const blLen = bl.imageEnd + (bl.hashAppended ? 32 : 0);

  // esp_secure_boot_permanently_enable: secure boot (the key, the digest at 0x0, ABS_DONE_0).
  if (o.generate.secureBootKey) {
    const key = rng(o.seed, o.efuse, 'secure boot key', keyLen);
    log.push('I (0) secure_boot: Generating new secure boot key...');
    words[2] = keyFileToBlockWords(key, { reverse: true, coding });
    log.push('I (0) secure_boot: Read & write protecting new key...');
    orBits('WR_DIS', 1n << 8n);
    orBits('RD_DIS', 1n << 1n);
    log.push('I (0) secure_boot: Generating secure boot digest...');
    const iv = rng(o.seed, o.efuse, 'secure boot digest IV', 128);
    const digest = computeBootloaderDigest(key, iv, bootloaderDigestInput(plainBefore(BOOTLOADER_ADDRESS, bl.imageEnd), bl.hashAppended));
    const sector0 = new Uint8Array(SECTOR_SIZE).fill(0xff);
    sector0.set(iv, 0);
    sector0.set(digest, 0x80);
    // With flash encryption already on, the digest is an encrypted write.
    writeSector(0, feBefore ? encryptFlashData(sector0, { key: before.flashKey, address: 0, flashCryptConf: before.flashCryptConfig }) : sector0);
    log.push('I (0) secure_boot: Digest generation complete.', 'I (0) secure_boot: blowing secure boot efuse...');
    orBits('ABS_DONE_0', 1n);
    log.push('I (0) secure_boot: Disable JTAG...');
    orBits('JTAG_DISABLE', 1n);
    log.push('I (0) secure_boot: Disable ROM BASIC interpreter fallback...');
    orBits('CONSOLE_DEBUG_DISABLE', 1n);
    log.push('I (0) secure_boot: secure boot is now enabled for bootloader image');
  }

  // esp_flash_encrypt_check_and_update: flash encryption (only when the count is 0 and BLOCK1
  // empty: predictBoot's condition).
  if (!o.generate.flashEncryptionKey) return { efuseAfter: words, flashWrites, log, resets: false };
  const key = rng(o.seed, o.efuse, 'flash encryption key', keyLen);
  log.push('I (0) flash_encrypt: Generating new flash encryption key...');
  words[1] = keyFileToBlockWords(key, { reverse: true, coding });
  log.push('I (0) flash_encrypt: Read & write protecting new key...');
  orBits('WR_DIS', 1n << 7n);
  orBits('RD_DIS', 1n << 0n);
  log.push('I (0) flash_encrypt: Setting CRYPT_CONFIG efuse to 0xF');
  orBits('FLASH_CRYPT_CONFIG', 0xfn);
  const conf = Number(readFieldRaw(words, field('FLASH_CRYPT_CONFIG')));
  for (const [name, line] of [
    ['DISABLE_DL_ENCRYPT', 'Disable UART bootloader encryption...'],
    ['DISABLE_DL_DECRYPT', 'Disable UART bootloader decryption...'],
    ['DISABLE_DL_CACHE', 'Disable UART bootloader MMU cache...'],
    ['JTAG_DISABLE', 'Disable JTAG...'],
    ['CONSOLE_DEBUG_DISABLE', 'Disable ROM BASIC interpreter fallback...'],
  ] as const) {
    log.push(`I (0) flash_encrypt: ${line}`);
    orBits(name, 1n);
  }
  // Encrypt in place, whole sectors (read, erase, encrypted write), the plaintext as it is now.
  const sectors = new Set<number>();
  const cover = (a: number, n: number): void => {
    for (let s = a - (a % SECTOR_SIZE); s < Math.min(a + n, o.flashSize); s += SECTOR_SIZE) sectors.add(s);
  };
  cover(BOOTLOADER_ADDRESS, blLen);
  if (readFieldRaw(words, field('ABS_DONE_0')) === 1n) cover(0, SECTOR_SIZE);
  cover(PARTITION_TABLE_ADDRESS, SECTOR_SIZE);
  const table = parsePartitionTable(raw(PARTITION_TABLE_ADDRESS, TABLE_MAX_LEN));
  // flash_encrypt.c encrypt_partition encrypts an app only if esp_image_verify accepts it as a
  // plaintext image, and that check includes the signature once ABS_DONE_0 reads 1 (Pycom's
  // esp_image_format.c), which the secure boot step above has just burned: an app not signed with
  // the bootloader's key stays plaintext. Without a key found in the bootloader (not a real
  // secure bootloader) the signature is not asked for.
  const sbOn = readFieldRaw(words, field('ABS_DONE_0')) === 1n;
  const sigKey = sbOn ? bootloaderVerificationKey(plainBefore(BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN)) : undefined;
  table.entries.forEach((p, i) => {
    if (p.type !== 0) return;
    const len = imageExtent(raw, p.offset, p.size);
    try {
      const bytes = raw(p.offset, len);
      const img = readEspImage(bytes);
      if (!checksumOk(img) || hashOk(img) === false) return;
      if (sigKey && !verifySignatureAt(bytes, img.signature.at, sigKey)) return;
    } catch {
      return; // not a plaintext image: left alone
    }
    log.push(`I (0) flash_encrypt: Encrypting partition ${i} at offset 0x${p.offset.toString(16)}...`);
    cover(p.offset, len);
  });
  for (const s of [...sectors].sort((a, b) => a - b)) writeSector(s, encryptFlashData(rawSector(s), { key, address: s, flashCryptConf: conf }));
  orBits('FLASH_CRYPT_CNT', 1n);
  log.push('I (0) flash_encrypt: Flash encryption completed', 'I (0) boot: Resetting with flash encryption enabled...');
  return { efuseAfter: words, flashWrites, log, resets: true };
}
