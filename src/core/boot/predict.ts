import { decryptFlashData } from '../crypto/flash-encryption';
import { bootloaderDigestInput, computeBootloaderDigest } from '../crypto/bootloader-digest';
import { verifySignatureAt } from '../crypto/signature';
import { bootloaderVerificationKey } from '../image/bootloader-key';
import { readEspImage, checksumOk, hashOk, type EspImage } from '../image/esp-image';
import { parsePartitionTable, TABLE_MAX_LEN } from '../partition/table';
import { BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN, PARTITION_TABLE_ADDRESS } from '../chip/esp32';
import { blankKeyBlocks, flashEncryptionOn, type BootEfuses } from './boot-efuses';
import { hex } from '../util/hex';

/**
 * "Will it boot?": the checks the ESP32 ROM and the 2nd-stage bootloader make at boot (ESP-IDF
 * secure-boot-v1 and
 * flash-encryption docs), in their order, as a pure function
 * of the eFuses and the flash bytes. It says whether the board boots, where it stops, the text a
 * real board prints and why, in words a user can act on.
 */
export type BootOutcome =
  | 'app-running'
  | 'bootloader-started'
  | 'first-boot-provisioning'
  | 'no-bootloader'
  | 'bootloader-checksum'
  | 'secure-boot-check-fail'
  | 'partition-table'
  | 'no-app';

export interface BootInput {
  efuse: BootEfuses;
  /** Raw flash bytes (what esptool would read, ciphertext if encrypted). */
  readFlash(offset: number, length: number): Uint8Array;
  flashSize: number;
  /**
   * The 64-byte X‖Y signing public key the user expects the bootloader to hold (the key store's),
   * used only when the bootloader image holds no key of its own (bootloaderVerificationKey finds
   * the one it was built with, and that is the one it checks with).
   */
  signingPublicKey?: Uint8Array;
  /**
   * With secure boot on and no verification key found in the bootloader nor given: true stops the
   * boot before the partition table (the virtual board's own boot: it must never start an app a
   * real board may refuse); false or absent predicts without the signature checks, as before.
   */
  requireVerificationKey?: boolean;
}

export interface BootVerdict {
  boots: boolean;
  outcome: BootOutcome;
  /** One sentence: what the user sees and why. */
  reason: string;
  /**
   * When the boot fails: the start of `reason` that says what the board shows, without why (e.g.
   * `The board prints "flash read err, 1000" and resets forever`), so a cause found by a test on
   * the board (an interrupted write, flash/partly-written.ts) can take the place of the guessed one.
   */
  symptom?: string;
  /** Lines the board prints after the ROM header (banner + rst line). */
  log: string[];
  /** The ROM resets and tries again forever (watchdog loop). */
  resetLoop: boolean;
  /** Non-fatal risks worth showing. */
  hazards: string[];
  /**
   * Set when this boot is a secure bootloader's first boot on empty key blocks (outcome
   * 'first-boot-provisioning', or 'no-app' when Pycom's bootloader burns its keys although it
   * found no valid app): which keys the bootloader generates on the chip (ESP-IDF secure_boot.c:
   * BLOCK2; flash_encrypt.c: BLOCK1), for the virtual board's model of that first boot
   * (first-boot.ts). `appStarts`: whether this boot goes on to start the app when it does not
   * reset for flash encryption (false when the app failed its checks).
   */
  firstBoot?: { secureBootKey: boolean; flashEncryptionKey: boolean; appStarts: boolean };
}


/**
 * The flash as the ROM, the cache and the running firmware read it: decrypted with the BLOCK1 key
 * when flash encryption is on (FLASH_CRYPT_CNT odd), raw otherwise; reads past the end are cut
 * short. `input.readFlash` gives raw bytes (offsets and lengths in bytes).
 */
export function cpuFlashView(input: Pick<BootInput, 'efuse' | 'readFlash' | 'flashSize'>): (a: number, n: number) => Uint8Array {
  const fe = flashEncryptionOn(input.efuse);
  return (a, n) => {
    const len = Math.max(0, Math.min(n, input.flashSize - a));
    const raw = input.readFlash(a, len);
    if (!fe) return raw;
    // Whole 32-byte blocks keep the tweak aligned; cut back to the requested range afterwards.
    const start = a & ~31;
    const end = Math.min(input.flashSize, (a + len + 31) & ~31);
    const plain = decryptFlashData(input.readFlash(start, end - start), { key: input.efuse.flashKey, address: start, flashCryptConf: input.efuse.flashCryptConfig });
    return plain.subarray(a - start, a - start + len);
  };
}

function hazards(e: BootEfuses): string[] {
  const out: string[] = [];
  const fe = flashEncryptionOn(e);
  if (fe && !e.disableDlDecrypt) out.push('Flash encryption is on but DISABLE_DL_DECRYPT is not burned: download mode can still read decrypted flash.');
  if (fe && e.flashCryptConfig !== 0xf) out.push(`Flash encryption is on with FLASH_CRYPT_CONFIG ${hex(e.flashCryptConfig, { lower: true })} instead of 0xF: weaker per-address tweak.`);
  if (fe && (!e.blk1.readProtected || !e.blk1.writeProtected)) out.push('The flash-encryption key in BLOCK1 is not both read- and write-protected.');
  if (e.absDone0 && (!e.blk2.readProtected || !e.blk2.writeProtected)) out.push('The secure boot key in BLOCK2 is not both read- and write-protected.');
  if ((fe || e.absDone0) && !e.jtagDisable) out.push('JTAG is still enabled.');
  if (fe) {
    const left = e.cryptCntWriteProtected ? 0 : Math.floor((7 - popcount7(e.flashCryptCnt)) / 2);
    if (left === 0) out.push('No plaintext re-flash cycles are left (FLASH_CRYPT_CNT).');
  }
  return out;
}

function popcount7(v: number): number {
  let n = 0;
  for (let x = v & 0x7f; x; x &= x - 1) n++;
  return n;
}

/** A failed boot: `symptom` is what the board shows, `cause` the rest of the reason (": why."). */
function fail(outcome: BootOutcome, symptom: string, cause: string, log: string[], e: BootEfuses, resetLoop = true): BootVerdict {
  return { boots: false, outcome, reason: `${symptom}${cause}`, symptom, log, resetLoop, hazards: hazards(e) };
}

/** What a first boot burns, for a sentence after "The bootloader will " or "the bootloader ". */
function burnWords(genSb: boolean, genFe: boolean): string {
  const what = [genSb ? 'secure boot key (BLOCK2)' : '', genFe ? 'flash-encryption key (BLOCK1)' : ''].filter(Boolean).join(' and ');
  return `generate its own ${what} on the chip and read-protect ${genSb && genFe ? 'them' : 'it'}${genSb ? ', and burn ABS_DONE_0' : ''}`;
}

function romLoadLines(img: EspImage): string[] {
  return [
    'configsip: 0, SPIWP:0xee',
    'clk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00,wp_drv:0x00',
    'mode:DIO, clock div:2',
    ...img.segments.map((s) => `load:${hex(s.loadAddress, { width: 8, lower: true })},len:${s.length}`),
    `entry ${hex(img.entryPoint, { width: 8, lower: true })}`,
  ];
}

function parseImage(bytes: Uint8Array, what: string): EspImage | undefined {
  try {
    return readEspImage(bytes, what);
  } catch {
    return undefined;
  }
}

/** Bootloader build profile, guessed from the log strings inside the (decrypted) image. */
export function bootloaderProfile(image: Uint8Array): { secureBoot: boolean; flashEncryption: boolean } {
  const text = Buffer.from(image).toString('latin1');
  return { secureBoot: text.includes('Checking secure boot'), flashEncryption: text.includes('Checking flash encryption') };
}

/**
 * Whether the 4 KB sector at 0x0 (as the ROM reads it) holds a reflashable secure boot digest:
 * a 128-byte IV and 64-byte digest (not erased) followed by 0xFF padding to 0x1000
 * (ESP-IDF secure-boot-v1 docs, the reflashable digest). Such a sector is only made for a
 * secure-boot bootloader.
 */
export function hasReflashDigest(sector0: Uint8Array): boolean {
  if (sector0.length < 0x1000) return false;
  const head = sector0.subarray(0, 0xc0);
  const pad = sector0.subarray(0xc0, 0x1000);
  return head.some((b) => b !== 0xff) && pad.every((b) => b === 0xff);
}

/**
 * The bootloader profile that decides first-boot provisioning: the log strings, or a
 * reflashable digest at 0x0. Pycom's bootloader is built with CONFIG_LOG_BOOTLOADER_LEVEL 0, so
 * it holds no such strings, and its SECURE=on build always means secure boot AND flash
 * encryption (pycom-micropython-sigfox esp32/Makefile: SECURE=on adds both
 * CONFIG_SECURE_BOOT_ENABLED and CONFIG_FLASH_ENCRYPTION_ENABLED): a digest at 0x0 is therefore
 * taken to mean both. Which other
 * bootloaders ship a digest without flash encryption is UNCONFIRMED; assuming both is the
 * conservative answer (a plan is refused rather than a key generated).
 */
export function provisioningProfile(bootloader: Uint8Array, sector0: Uint8Array | undefined): { secureBoot: boolean; flashEncryption: boolean } {
  const p = bootloaderProfile(bootloader);
  const digest = sector0 !== undefined && hasReflashDigest(sector0);
  return { secureBoot: p.secureBoot || digest, flashEncryption: p.flashEncryption || digest };
}

/**
 * How many bytes from `offset` an image can occupy (header, segments, checksum pad, SHA-256 and a
 * signature block), walked from the segment headers alone, so a connected board only has to be
 * read that far and not the whole partition. Anything odd falls back to `max`: the parser then
 * sees exactly what it would have seen.
 */
export function imageExtent(view: (a: number, n: number) => Uint8Array, offset: number, max: number): number {
  const h = view(offset, 24);
  if (h.length < 24 || h[0] !== 0xe9 || h[1]! > 16) return max;
  let pos = 24;
  for (let i = 0; i < h[1]!; i++) {
    if (pos + 8 > max) return max;
    const sh = view(offset + pos, 8);
    if (sh.length < 8) return max;
    pos += 8 + Buffer.from(sh).readUInt32LE(4);
    if (pos > max) return max;
  }
  // checksum padding (≤ 16) + appended SHA-256 (32) + signature block (68).
  return Math.min(max, pos + 16 + 32 + 68);
}

export function predictBoot(input: BootInput): BootVerdict {
  const e = input.efuse;
  const fe = flashEncryptionOn(e);
  const view = cpuFlashView(input);
  const log: string[] = [];

  // B. ROM: the 2nd-stage bootloader at 0x1000.
  const blBytes = view(BOOTLOADER_ADDRESS, BOOTLOADER_MAX_LEN);
  if (blBytes[0] !== 0xe9) {
    const word = Buffer.from(blBytes.subarray(0, 4)).readUInt32LE(0);
    const lines = e.revision >= 3 ? new Array<string>(8).fill(`invalid header: ${hex(word, { width: 8, lower: true })}`) : ['flash read err, 1000', 'ets_main.c 371 '];
    // Erased is judged on the raw flash: with encryption on, erased bytes decrypt to garbage too.
    const erased = fe ? input.readFlash(BOOTLOADER_ADDRESS, 32).every((b) => b === 0xff) : word === 0xffffffff;
    const why = erased
      ? 'the flash at 0x1000 is erased: no bootloader was written'
      : fe
        ? 'flash encryption is on, so the ROM decrypts 0x1000 with the BLOCK1 key and finds no image there: the bootloader was written in plaintext, encrypted with another key, or encrypted for another address'
        : 'there is no ESP32 image at 0x1000 (wrong offset, or an encrypted image while flash encryption is off)';
    return fail('no-bootloader', `The board prints "${lines[0]}" and resets forever`, `: ${why}.`, [...log, ...lines], e);
  }
  const bl = parseImage(blBytes, 'The bootloader');
  if (!bl) {
    return fail('no-bootloader', 'The board prints "flash read err, 1000" and resets forever', ': the bootloader image at 0x1000 is truncated or corrupt.', ['flash read err, 1000', 'ets_main.c 371 '], e);
  }
  if (!checksumOk(bl)) {
    const line = `csum err:0x${bl.computedChecksum.toString(16).padStart(2, '0')}!=0x${bl.storedChecksum.toString(16).padStart(2, '0')}`;
    const tail = e.consoleDebugDisable ? [] : ['ets_main.c 371 ', 'Falling back to built-in command interpreter.', 'OK', '>'];
    return fail('bootloader-checksum', `The board prints "${line}"`, ': the bootloader image at 0x1000 is corrupt (checksum mismatch).', [line, ...tail], e, e.consoleDebugDisable);
  }
  if (e.absDone0) {
    const iv = view(0, 128);
    const stored = Buffer.from(view(0x80, 64));
    const digest = Buffer.from(computeBootloaderDigest(e.secureBootKey, iv, bootloaderDigestInput(blBytes.subarray(0, bl.imageEnd), bl.hashAppended)));
    if (!digest.equals(stored)) {
      // UNCONFIRMED: exact position of this line relative to the load lines; printed first here.
      return fail('secure-boot-check-fail', 'The board prints "secure boot check fail" and resets forever', ': secure boot is on and the digest at 0x0 does not match the bootloader for the key in BLOCK2 (digest made with another key, another bootloader, or not written).', ['secure boot check fail'], e);
    }
  }
  log.push(...romLoadLines(bl));
  const profile = bootloaderProfile(blBytes.subarray(0, bl.imageEnd));
  // Whether the bootloader verifies the partition table's and the app's signatures: with secure
  // boot on (ABS_DONE_0) the ROM has just accepted the digest at 0x0, which only a secure boot
  // build makes, and a secure boot v1 bootloader checks both signatures (ESP-IDF v3 secure boot
  // docs). Pycom's bootloader holds none of the log strings bootloaderProfile looks for, so they
  // cannot decide it; assuming the checks is the conservative answer (UNCONFIRMED only for
  // bootloaders digested by hand: "boots" is never said of an image the bootloader may refuse).
  // Without ABS_DONE_0 Pycom's bootloader checks neither signature (a secure bootloader's first
  // boot: the checks that follow it are predicted in the provisioning branch below).
  const checksSignatures = e.absDone0;
  // The key it checks with: the one linked into it (signature_verification_key.bin, found in its
  // data), else the one the caller expects it to hold.
  const verificationKey = checksSignatures ? (bootloaderVerificationKey(blBytes) ?? input.signingPublicKey) : undefined;

  // C. 2nd stage: partition table and app.
  // A secure bootloader's first boot on empty key blocks (provisioning): secure_boot.c fills
  // BLOCK2 and flash_encrypt.c BLOCK1 when they are empty and unprotected. Decided before the app
  // is checked, because Pycom's bootloader provisions whatever that check says (below).
  const { secureBoot: blankSb, flashEncryption: blankFe } = blankKeyBlocks(e);
  // Sector 0 is only read when it can matter (a connected board's flash crosses the serial line).
  const first = blankSb || blankFe ? provisioningProfile(blBytes.subarray(0, bl.imageEnd), view(0, 0x1000)) : profile;
  const genSb = blankSb && first.secureBoot;
  const genFe = blankFe && first.flashEncryption;
  const generating = (): string[] => [
    ...(genSb ? ['I (0) secure_boot: Generating new secure boot key...'] : []),
    ...(genFe ? ['I (0) flash_encrypt: Generating new flash encryption key...'] : []),
  ];
  /**
   * Pycom's bootloader_main (pycom-micropython-sigfox esp32/bootloader/bootloader.c) ignores what
   * get_image_from_partition returns: after a valid partition table it goes on to
   * esp_secure_boot_permanently_enable and esp_flash_encrypt_check_and_update even when the app
   * did not load. So a first boot with a bad app (or none) still burns the keys; the failure is
   * only what the board shows after them.
   */
  const appFailed = (v: BootVerdict): BootVerdict => {
    if (!genSb && !genFe) return v;
    return {
      ...v,
      reason: `${v.reason} Before it stops, the bootloader goes on to ${burnWords(genSb, genFe)} (Pycom's bootloader provisions the chip even when the app did not load), so the board is then locked to keys nobody has.`,
      log: [...v.log, ...generating()],
      firstBoot: { secureBootKey: genSb, flashEncryptionKey: genFe, appStarts: false },
    };
  };

  const tableBytes = view(PARTITION_TABLE_ADDRESS, TABLE_MAX_LEN + 68);
  if (checksSignatures && !verificationKey && input.requireVerificationKey) {
    // Not a line a real board prints: a secure boot bootloader always embeds its key (ESP-IDF links
    // signature_verification_key.bin into it), so a bootloader without one is a hand-made test
    // image. The virtual board then refuses rather than start an app a real board might refuse.
    log.push('[virtual board] no secure boot verification key (a P-256 point) found in the bootloader: signatures cannot be checked, the app is not started');
    return fail('partition-table', 'The virtual board does not start the app', ': secure boot is on and its bootloader holds no verification key to check the partition table and the app with (a secure boot build links signature_verification_key.bin into the bootloader; build it with secure boot enabled).', log, e, false);
  }
  if (verificationKey) {
    log.push('I (0) boot: Verifying partition table signature...');
    // The block at +0xC00, as the bootloader reads it (image/signature-block.ts).
    if (!verifySignatureAt(tableBytes, TABLE_MAX_LEN, verificationKey)) {
      log.push('E (0) boot: Failed to verify partition table signature.', 'E (0) boot: load partition table error!');
      return fail('partition-table', 'The bootloader stops with "Failed to verify partition table signature."', ': the partition table is not signed with the key the bootloader trusts.', log, e, false);
    }
  }
  let app: { offset: number; size: number } | undefined;
  try {
    const table = parsePartitionTable(tableBytes.subarray(0, TABLE_MAX_LEN));
    const apps = table.entries.filter((p) => p.type === 0);
    app = apps.find((p) => p.subtype === 0) ?? apps[0];
  } catch {
    const magic = Buffer.from(tableBytes.subarray(0, 2)).readUInt16LE(0);
    log.push(`E (0) flash_parts: partition 0 invalid magic number 0x${magic.toString(16)}`, 'E (0) boot: Failed to verify partition table', 'E (0) boot: load partition table error!');
    return fail('partition-table', `The bootloader stops with "partition 0 invalid magic number 0x${magic.toString(16)}"`, `: ${fe ? 'the partition table at 0x8000 is not encrypted for this key and address' : 'there is no valid partition table at 0x8000'}.`, log, e, false);
  }
  if (!app) {
    log.push('E (0) boot: No bootable app partitions in the partition table');
    return appFailed(fail('no-app', 'The bootloader finds no app partition in the partition table', '.', log, e, false));
  }
  const appBytes = view(app.offset, imageExtent(view, app.offset, app.size));
  const img = parseImage(appBytes, 'The app');
  if (!img || !checksumOk(img) || hashOk(img) === false) {
    const why = !img ? (appBytes[0] === 0xe9 ? 'the image is truncated' : `image at ${hex(app.offset, { width: 8, lower: true })} has invalid magic byte`) : 'the image is corrupt (checksum or hash)';
    log.push(`E (0) esp_image: ${why}`, 'E (0) boot: No bootable app partitions in the partition table');
    // The address hint only where the start does not decrypt to an image at all; a parsed image that fails its checksum or hash has other bytes inside it.
    const hint = !img && appBytes[0] !== 0xe9 ? (fe ? ' (with flash encryption on the app must be encrypted for exactly this address)' : '') : img ? ' (some of its bytes are not the ones the image was built with: a damaged or partly overwritten region)' : '';
    return appFailed(fail('no-app', 'The bootloader finds no bootable app', `: at ${hex(app.offset, { width: 8, lower: true })} ${why}${hint}.`, log, e, false));
  }
  if (verificationKey) {
    log.push('I (0) esp_image: Verifying image signature...');
    // The block where the image reader found it: right after the image (image/signature-block.ts).
    if (!verifySignatureAt(appBytes, img.signature.at, verificationKey)) {
      log.push('E (0) secure_boot: Secure boot signature verification failed');
      return appFailed(fail('no-app', 'The bootloader refuses the app: "Secure boot signature verification failed"', ' (not signed with the signing key whose digest is in BLOCK2).', log, e, false));
    }
  }
  log.push(`I (0) boot: Loaded app from partition at offset ${hex(app.offset, { lower: true })}`);
  // First-boot provisioning: keys generated on the chip, known to nobody (the warning in Pycom's
  // "SecureBoot and Encryption" docs).
  if (genSb || genFe) {
    log.push(...generating());
    const firstBoot = { secureBootKey: genSb, flashEncryptionKey: genFe, appStarts: true };
    const burns = `The bootloader will ${burnWords(genSb, genFe)}`;
    // Pycom's IDF checks the table's and the app's signatures only while ABS_DONE_0 reads 1
    // (pycom-esp-idf bootloader_support esp_image_format.c, changed by Pycom from the compile-time
    // SECURE_BOOT_CHECK_SIGNATURE to the run-time esp_secure_boot_enabled(); and Pycom's
    // bootloader.c load_partition_table): this first boot checks neither, and burns ABS_DONE_0
    // after loading the app. Every boot after it checks both, with the key linked into the
    // bootloader, which is what is checked here.
    const laterKey = genSb ? (bootloaderVerificationKey(blBytes) ?? input.signingPublicKey) : undefined;
    const refusedLater = !laterKey
      ? undefined
      : !verifySignatureAt(tableBytes, TABLE_MAX_LEN, laterKey)
        ? { line: 'Failed to verify partition table signature.', what: 'the partition table is' }
        : !verifySignatureAt(appBytes, img.signature.at, laterKey)
          ? { line: 'Secure boot signature verification failed', what: 'the app is' }
          : undefined;
    if (refusedLater) {
      // With flash encryption going on in this boot the bootloader resets at once, so the app
      // never runs; else it starts this once (loaded before ABS_DONE_0 was burned). "Does not
      // boot" either way: the conservative answer for a board that is lost after one boot.
      const symptom = `On this first boot, which checks no signature yet, the bootloader will ${burnWords(genSb, genFe)}, and ${genFe ? 'reset at once' : 'start the app this once'}; then every boot stops with "${refusedLater.line}"`;
      const cause = `: ${refusedLater.what} not signed with the key linked into the bootloader, which checks it once ABS_DONE_0 is burned (a wrongly signed app is not encrypted by the bootloader either). Sign the build with the signing key the bootloader was built with.`;
      return { boots: false, outcome: 'first-boot-provisioning', reason: `${symptom}${cause}`, symptom, log, resetLoop: false, hazards: hazards(e), firstBoot };
    }
    return {
      boots: true,
      outcome: 'first-boot-provisioning',
      reason: `${burns}: nobody will ever know ${genSb && genFe ? 'them' : 'it'}${genSb ? ', the bootloader can never be replaced' : ''}${genFe ? ' and only 3 plaintext re-flashes remain' : ''}; burn your keys first with \`pycom-secure efuse burn-keys\` ("Pycom: Burn Keys" in the editor).`,
      log,
      resetLoop: false,
      hazards: hazards(e),
      firstBoot,
    };
  }
  if (fe && profile.flashEncryption) {
    const left = e.cryptCntWriteProtected ? 0 : Math.floor((7 - popcount7(e.flashCryptCnt)) / 2);
    log.push(`I (0) flash_encrypt: flash encryption is enabled (${left} plaintext flashes left)`);
  }
  return { boots: true, outcome: 'app-running', reason: `The app at ${hex(app.offset, { lower: true })} starts.`, log, resetLoop: false, hazards: hazards(e) };
}
