import { blankKeyBlocks, bootEfusesFromRaw, flashEncryptionOn } from '../boot/boot-efuses';
import { explainBootLog } from '../boot/boot-log';
import { runFirmware } from '../boot/capture';
import { BOOTLOADER_ADDRESS } from '../chip/esp32';
import { identify } from '../chip/identify';
import { connect } from '../connect/connect';
import type { ResetMode } from '../connect/strategy';
import { readEfuses } from '../efuse/access';
import { UserError } from '../errors';
import { readFlash } from '../loader/flash';
import type { Clock } from '../loader/clock';
import { captureOutput } from '../transport/capture';
import type { Transport } from '../transport/transport';
import { queryOtaSlot, queryOtaSlotAndBanner } from './raw-repl';

export interface AskOtaSlotOptions {
  /** How to start the firmware when the board is found in download mode (default 'auto': the board's reset lines, or FLASH_END on a port without them). */
  mode?: ResetMode;
  /** How long the raw REPL may take to answer each step, in ms (default 1500 for the first try, 3000 after starting the firmware). */
  timeoutMs?: number;
  /** How long to let a started firmware boot (and collect what it prints) before asking, in ms (default 1500). */
  bootMs?: number;
  clock?: Clock;
  /** Progress for the user (stderr in the CLI). */
  note?: (line: string) => void;
}

export interface AskedOtaSlot {
  /** The address `pycom.ota_slot()` returned, in bytes. */
  slot: number;
  /** Whether the board was in download mode and its firmware was started to be asked. */
  started: boolean;
  /**
   * What the firmware printed that holds its MicroPython banner (`...; GPy with ESP32`): its boot
   * output when it was started, else what it printed on leaving the raw REPL; undefined when
   * nothing came. The module it names is evidence for ota-image (workflows/module-evidence.ts bannerModule).
   */
  banner?: string;
}

/** How long a running firmware may take to print its banner after the raw REPL is left, in ms. */
const BANNER_MS = 500;

const PASS_SLOT = 'or pass --slot ADDR';

/**
 * Asks the board which slot its next OTA image goes to (Pycom's `pycom.ota_slot()` over the raw
 * REPL), the one way the CLI's `ota-image --port` does it (and the editor's Prepare OTA Image can).
 * A board running its firmware is asked at once. A board that does not answer is checked for the
 * ROM loader: found in download mode (always so on a `sim serve` board, which resets into it at
 * each connection), its firmware is started as `monitor` starts it, then asked.
 *
 * Nothing is burned: a board in download mode whose key blocks are still blank is NOT started,
 * because a secure bootloader's first boot would burn keys of its own that nobody knows
 * (ESP-IDF bootloader_support: esp_secure_boot_permanently_enable,
 * esp_flash_encrypt_check_and_update); telling a plain bootloader from a secure one would take
 * reading and parsing the flash, so the conservative answer is to stop and say so.
 *
 * Errors (UserError, each naming --slot as the way on): E_REPL_ERROR / E_REPL_ANSWER (the firmware
 * answered, but not with an address); E_OTA_SLOT_SILENT (neither REPL nor ROM loader answered);
 * E_OTA_SLOT_NO_FIRMWARE (download mode, nothing at 0x1000); E_OTA_SLOT_BLANK_KEYS (download mode,
 * blank key block: not started); E_OTA_SLOT_DOWNLOAD (started, came back in download mode);
 * E_OTA_SLOT_NO_BOOT (started, the boot failed: the failing line is quoted); E_OTA_SLOT_NO_REPL
 * (started, booted, no raw REPL).
 */
export async function askOtaSlot(t: Transport, o: AskOtaSlotOptions = {}): Promise<AskedOtaSlot> {
  const clock = o.clock ? { clock: o.clock } : {};
  try {
    const r = await queryOtaSlotAndBanner(t, { timeoutMs: o.timeoutMs ?? 1500, bannerMs: BANNER_MS, ...clock });
    return { slot: r.slot, started: false, ...(r.banner !== undefined ? { banner: r.banner } : {}) };
  } catch (e) {
    if (!(e instanceof UserError) || e.code !== 'E_REPL_TIMEOUT') throw e;
  }
  const conn = await connect(t, { reset: 'none', baud: 115200, attempts: 1, ...clock }).catch(() => undefined);
  if (!conn) {
    throw new UserError('E_OTA_SLOT_SILENT', `No OTA slot could be read: the board on ${t.url} answered neither MicroPython's raw REPL nor the ROM loader; check that it is powered, runs its firmware and that no other program holds the port, ${PASS_SLOT}.`);
  }
  let bootLog: string;
  try {
    // identify attaches the SPI flash (READ_FLASH_SLOW needs it) and gives the silicon revision; read-only.
    const chip = await identify(conn);
    const e = bootEfusesFromRaw((await readEfuses(conn.loader)).words, chip.revision.major);
    const blank = blankKeyBlocks(e);
    if (blank.secureBoot || blank.flashEncryption) {
      const head = (await readFlash(conn.loader, BOOTLOADER_ADDRESS, 64)).subarray(0, 4);
      if (!flashEncryptionOn(e) && head.every((b) => b === 0xff)) {
        throw new UserError('E_OTA_SLOT_NO_FIRMWARE', `No OTA slot could be read: the board is in download mode and its flash holds no bootloader at 0x1000, so there is no firmware to answer pycom.ota_slot(); flash the firmware first (pycom-secure flash), ${PASS_SLOT}.`);
      }
      const which = [blank.flashEncryption ? 'flash-encryption key (BLOCK1)' : '', blank.secureBoot ? 'secure boot key (BLOCK2)' : ''].filter(Boolean).join(' and ');
      throw new UserError('E_OTA_SLOT_BLANK_KEYS', `No OTA slot could be read: the board is in download mode with no ${which} burned, and starting its firmware could let a secure bootloader burn a key nobody knows, so it was not started; burn your keys first (pycom-secure efuse burn-keys), start the firmware yourself if it is not secure, ${PASS_SLOT}.`);
    }
    o.note?.('The board is in download mode; starting its firmware to ask it for its OTA slot.');
    bootLog = await captureOutput(t, o.bootMs ?? 1500, () => runFirmware(t, conn.loader, o.mode ?? 'auto', o.note));
  } finally {
    conn.loader.dispose();
  }
  try {
    return { slot: await queryOtaSlot(t, { timeoutMs: o.timeoutMs ?? 3000, ...clock }), started: true, banner: bootLog };
  } catch (err) {
    if (!(err instanceof UserError) || err.code !== 'E_REPL_TIMEOUT') throw err;
  }
  const ex = explainBootLog(bootLog);
  const failure = ex.findings.find((f) => f.entry.severity === 'failure' || f.entry.severity === 'critical');
  if (!failure && ex.findings.some((f) => f.entry.id === 'download-waiting')) {
    throw new UserError('E_OTA_SLOT_DOWNLOAD', `No OTA slot could be read: told to run its firmware, the board came back in download mode ("waiting for download": GPIO0/P2 is held low); remove the P2-GND wire and reset the board, ${PASS_SLOT}.`);
  }
  if (failure) {
    throw new UserError('E_OTA_SLOT_NO_BOOT', `No OTA slot could be read: told to run its firmware, the board printed "${failure.line.trim()}" (${failure.entry.meaning}) and never reached MicroPython; flash a firmware that boots (pycom-secure flash), ${PASS_SLOT}.`);
  }
  throw new UserError('E_OTA_SLOT_NO_REPL', `No OTA slot could be read: the board's firmware was started but did not answer MicroPython's raw REPL (not Pycom MicroPython, or a script holds the console); ${PASS_SLOT}.`);
}
