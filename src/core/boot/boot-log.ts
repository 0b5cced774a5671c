/**
 * The ESP32 boot log: what a board prints on UART0 after a reset, and what a captured log means.
 *
 * 1. The ROM header (the ESP32 ROM's boot messages, as public boot logs show them), as the virtual ESP32
 *    prints it. The download-mode text is fixed; after the normal-boot header the text depends on
 *    eFuses and flash content and comes from the boot model (predict.ts, via virtual-board.ts).
 * 2. Why a board did not answer the ROM loader after a reset (analyzeBootLog, for connect).
 * 3. What a boot log captured after flashing means (BOOT_LOG_CATALOGUE, explainBootLog).
 */
export const ROM_BANNER_REV01 = 'ets Jun  8 2016 00:22:57';
export const ROM_BANNER_REV3 = 'ets Jul 29 2019 12:21:46';

export const RESET_REASONS: Readonly<Record<number, string>> = {
  0x1: 'POWERON_RESET',
  0x3: 'SW_RESET',
  0x4: 'OWDT_RESET',
  0x5: 'DEEPSLEEP_RESET',
  0x6: 'SDIO_RESET',
  0x7: 'TG0WDT_SYS_RESET',
  0x8: 'TG1WDT_SYS_RESET',
  0x9: 'RTCWDT_SYS_RESET',
  0xa: 'INTRUSION_RESET',
  0xb: 'TGWDT_CPU_RESET',
  0xc: 'SW_CPU_RESET',
  0xd: 'RTCWDT_CPU_RESET',
  0xe: 'EXT_CPU_RESET',
  0xf: 'RTCWDT_BROWN_OUT_RESET',
  0x10: 'RTCWDT_RTC_RESET',
};

export const BOOT_DOWNLOAD = 0x3;
export const BOOT_FLASH = 0x13;
const BOOT_MODE_TEXT: Readonly<Record<number, string>> = {
  [BOOT_DOWNLOAD]: 'DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2)',
  [BOOT_FLASH]: 'SPI_FAST_FLASH_BOOT',
};

/** The ROM's first line, which tells the ROM version apart: revision 0/1 or revision 3. */
export function romBanner(chipRevision: number): string {
  return chipRevision >= 3 ? ROM_BANNER_REV3 : ROM_BANNER_REV01;
}

/**
 * The rst line the ROM prints after the banner, e.g.
 * `rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))`. `reason` is the
 * reset reason code (RESET_REASONS; unknown codes print NO_MEAN), `strap` the GPIO strap byte
 * (BOOT_DOWNLOAD, BOOT_FLASH; others print SPI_FLASH_BOOT).
 */
export function resetLine(reason: number, strap: number): string {
  const r = RESET_REASONS[reason] ?? 'NO_MEAN';
  const m = BOOT_MODE_TEXT[strap] ?? 'SPI_FLASH_BOOT';
  return `rst:0x${reason.toString(16)} (${r}),boot:0x${strap.toString(16)} (${m})`;
}

/** ROM output on entering download mode (lines end with CRLF as the ROM prints them). */
export function downloadBootLog(chipRevision: number, reason = 0x1): string {
  return `${romBanner(chipRevision)}\r\n\r\n${resetLine(reason, BOOT_DOWNLOAD)}\r\nwaiting for download\r\n`;
}

/** Normal (flash) boot header, banner + rst line, CRLF-ended; without a boot model that is all a virtual device prints. */
export function normalBootHeader(chipRevision: number, reason = 0x1): string {
  return `${romBanner(chipRevision)}\r\n\r\n${resetLine(reason, BOOT_FLASH)}\r\n`;
}

/**
 * What a board printed after a reset (ROM boot log, MicroPython banner, panics) says about *why*
 * it did not answer the loader (esptool docs, Troubleshooting; pycom-micropython-sigfox
 * lib/utils/pyexec.c for the banner).
 */
export type LoaderSilenceFinding =
  | { kind: 'download-waiting'; mode: number }
  | { kind: 'wrong-boot-mode'; mode: number }
  | { kind: 'download-disabled' }
  | { kind: 'flash-read-error'; text: string }
  | { kind: 'firmware'; text: string };

/**
 * Reads the text a board printed after a reset (raw bytes are taken as latin1) and says why it did
 * not answer the loader: download mode disabled, still in download mode (`mode` is the strap byte
 * of the last `boot:0x..` seen), booting from flash, a flash read error, or firmware running.
 * Undefined when the text says none of these. Never throws.
 */
export function analyzeBootLog(raw: Buffer | string): LoaderSilenceFinding | undefined {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  // UNCONFIRMED which component prints this (ROM or app); either way it is final.
  if (/Download mode is disabled/i.test(text)) return { kind: 'download-disabled' };
  // The last reset counts: a board may have been reset more than once while we listened.
  const boots = [...text.matchAll(/boot:(0x[0-9a-fA-F]+)/g)];
  const last = boots[boots.length - 1];
  if (last) {
    const mode = parseInt(last[1]!.slice(2), 16);
    const after = text.slice(last.index);
    if (/waiting for download/.test(after)) return { kind: 'download-waiting', mode };
    const readErr = /flash read err,?\s*[0-9a-fA-F]*/.exec(after);
    if (readErr) return { kind: 'flash-read-error', text: readErr[0] };
    return { kind: 'wrong-boot-mode', mode };
  }
  const fw = /(Pycom MicroPython[^\r\n]*|MicroPython[^\r\n]*|Guru Meditation[^\r\n]*|Fatal exception[^\r\n]*|PYB: soft reboot|>>> ?$)/m.exec(text);
  if (fw) return { kind: 'firmware', text: fw[1]!.trim().slice(0, 80) };
  return undefined;
}

/**
 * Known boot-log lines (ESP-IDF bootloader_support and the ROM; pycom-micropython-sigfox
 * lib/utils/pyexec.c and esp32/bootloader/bootloader.c) and what they mean for
 * someone who just flashed a secure board, as data. `explainBootLog` finds every known line in a
 * captured log; the first failure decides the verdict.
 */
export interface BootLogEntry {
  id: string;
  pattern: RegExp;
  /**
   * 'critical': the board did something irreversible nobody asked for (it burned keys of its own);
   * shown as a failure-class line, and it decides the verdict before any failure.
   */
  severity: 'critical' | 'failure' | 'info' | 'success';
  meaning: string;
  /** What to do, in the front end's words when it names a command (BootLogHints; adviceFor). */
  advice?: string | ((h: BootLogHints) => string);
}

/**
 * The commands a boot-log explanation names, in the front end's words (each as it reads inside a
 * sentence): `flashAgain` writes the build again in full (a verb phrase), `burnKeys` and
 * `predictBoot` name the front end's Burn Keys and boot-prediction commands.
 */
export interface BootLogHints {
  flashAgain: string;
  burnKeys: string;
  predictBoot: string;
}

/** The CLI's words: the default of explainBootLog. */
export const CLI_BOOT_LOG_HINTS: BootLogHints = {
  flashAgain: 'run the same `pycom-secure flash` again to write it in full',
  burnKeys: '`pycom-secure efuse burn-keys`',
  predictBoot: '`pycom-secure predict-boot --port PORT`',
};

/** An entry's advice in the front end's words (undefined when it has none). */
export function adviceFor(entry: BootLogEntry, hints: BootLogHints = CLI_BOOT_LOG_HINTS): string | undefined {
  return typeof entry.advice === 'function' ? entry.advice(hints) : entry.advice;
}

/** The advice for an app image a flash may have cut short (interrupted writes end in erased flash). */
const appCutShort = (h: BootLogHints): string => `an interrupted flash leaves the app cut short like this: ${h.flashAgain} (${h.predictBoot} tells whether a region was cut off); if no flash was interrupted, the app was encrypted with another key than the board's`;

export const BOOT_LOG_CATALOGUE: readonly BootLogEntry[] = [
  // First-boot self-provisioning (ESP-IDF secure_boot.c, flash_encrypt.c): the board just burned
  // keys nobody has.
  { id: 'sb-key-generated', pattern: /Generating new secure boot key\.\.\./, severity: 'critical', meaning: 'the bootloader generated its own secure boot key and burned it into BLOCK2, read-protected: nobody has this key, so this bootloader can never be replaced', advice: (h) => `this cannot be undone; keep this board off production, and on the next board burn your keys first with ${h.burnKeys}` },
  { id: 'fe-key-generated', pattern: /Generating new flash encryption key\.\.\./, severity: 'critical', meaning: 'the bootloader generated its own flash-encryption key and burned it into BLOCK1, read-protected: nobody has this key, so pre-encrypted images cannot be made for this board and only 3 plaintext re-flashes remain', advice: (h) => `this cannot be undone; keep this board off production, and on the next board burn your keys first with ${h.burnKeys}` },
  { id: 'flash-read-err', pattern: /flash read err,\s*1000/, severity: 'failure', meaning: 'the ROM cannot read a bootloader at 0x1000: nothing flashed there yet as on a blank board, a plaintext bootloader on a chip with flash encryption on, an encrypted one with encryption off, or the wrong key', advice: (h) => `on a blank board, flash the build (after Burn Keys for a secure one); on a board with flash encryption on, flash the bootloader digest image encrypted with its flash key at 0x0 (${h.predictBoot} tells which)` },
  { id: 'invalid-header', pattern: /invalid header: 0x[0-9a-f]+/i, severity: 'failure', meaning: 'the ROM (rev3) finds no image header at 0x1000: same causes as "flash read err, 1000"', advice: (h) => `on a blank board, flash the build (after Burn Keys for a secure one); on a board with flash encryption on, flash the bootloader digest image encrypted with its flash key at 0x0 (${h.predictBoot} tells which)` },
  { id: 'csum-err', pattern: /csum err:0x[0-9a-f]+!=0x[0-9a-f]+/i, severity: 'failure', meaning: 'the bootloader at 0x1000 is corrupt (checksum wrong), or decrypts with the wrong key', advice: 'rebuild and reflash the bootloader' },
  { id: 'secure-boot-check-fail', pattern: /secure boot check fail/, severity: 'failure', meaning: 'the bootloader digest at 0x0 was not made with the secure boot key in BLOCK2', advice: 'rebuild the bootloader digest with the signing key whose digest_private_key is burned in BLOCK2' },
  { id: 'rom-basic', pattern: /Falling back to built-in command interpreter/, severity: 'failure', meaning: 'the ROM could not start a bootloader and dropped to its BASIC interpreter' },
  { id: 'partition-magic', pattern: /partition \d+ invalid magic number 0x[0-9a-f]+/i, severity: 'failure', meaning: 'the partition table at 0x8000 is unreadable: plaintext on an encrypted chip, or encrypted with another key/address', advice: 'flash the partition table encrypted for 0x8000 with this board\'s flash key' },
  { id: 'partition-signature', pattern: /Failed to verify partition table signature/, severity: 'failure', meaning: 'the partition table is not signed with the key the bootloader was built with', advice: 'sign the partition table with the same signing key as the bootloader' },
  { id: 'partition-load', pattern: /load partition table error/, severity: 'failure', meaning: 'the bootloader could not load the partition table' },
  { id: 'app-magic', pattern: /image at 0x[0-9a-f]+ has invalid magic byte/i, severity: 'failure', meaning: 'no readable app at that address: nothing flashed, plaintext on an encrypted chip, or encrypted for another address (e.g. an OTA copy at 0x10000)', advice: 'flash the app encrypted for that address' },
  { id: 'app-checksum', pattern: /Checksum failed\. Calculated 0x[0-9a-f]+ read 0x[0-9a-f]+/i, severity: 'failure', meaning: 'the app image is corrupt or was decrypted with the wrong key', advice: appCutShort },
  { id: 'app-hash', pattern: /Image hash failed - image is corrupt/, severity: 'failure', meaning: 'the app image is corrupt (its SHA-256 does not match)', advice: appCutShort },
  // The boot model's (and so the virtual board's) own summary of a checksum or hash failure, or of an
  // image that stops short (predict.ts): the real bootloader prints one of the two lines above.
  { id: 'app-corrupt', pattern: /esp_image: the image is (?:corrupt|truncated)[^\r\n]*/, severity: 'failure', meaning: 'the app image does not check out: its checksum or hash does not match, or it stops short', advice: appCutShort },
  { id: 'app-unsigned', pattern: /image has invalid signature version field/, severity: 'failure', meaning: 'the app is not signed, and the bootloader requires signed apps', advice: 'sign the app with the secure boot signing key' },
  { id: 'app-signature', pattern: /Secure boot signature verification failed/, severity: 'failure', meaning: 'the app is signed with a key other than the one built into the bootloader', advice: 'sign the app with the same key as the bootloader' },
  { id: 'no-app', pattern: /No bootable app partitions in the partition table/, severity: 'failure', meaning: 'no app partition holds a valid image', advice: (h) => `after an interrupted flash this is the app left partly written: ${h.flashAgain} (${h.predictBoot} tells whether a region was cut off)` },
  { id: 'secure-boot-not-enabled', pattern: /SECURE BOOT IS NOT ENABLED/, severity: 'failure', meaning: 'Pycom\'s bootloader could not enable secure boot on first boot' },
  { id: 'ota-fallback', pattern: /Cannot load Firmware img in the active partition/, severity: 'info', meaning: 'the OTA image did not verify and the board went back to the previous image (an OTA image encrypted for the wrong slot does this)' },
  { id: 'download-disabled', pattern: /Download mode is disabled/, severity: 'failure', meaning: 'UART download mode is disabled on this chip' },
  { id: 'download-waiting', pattern: /waiting for download/, severity: 'info', meaning: 'the chip is still in download mode (GPIO0 held low), not running the firmware', advice: 'release GPIO0 (P2) and reset' },
  { id: 'fe-enabled', pattern: /flash encryption is enabled \(\d+ plaintext flashes left\)/, severity: 'info', meaning: 'flash encryption is on' },
  { id: 'guru', pattern: /Guru Meditation Error[^\r\n]*/, severity: 'failure', meaning: 'the firmware crashed after booting' },
  { id: 'micropython', pattern: /Pycom MicroPython [^\r\n]*/, severity: 'success', meaning: 'the firmware booted to MicroPython' },
  { id: 'app-loaded', pattern: /Loaded app from partition at offset 0x[0-9a-f]+/i, severity: 'success', meaning: 'the bootloader verified and loaded the app' },
];

/** The ROM's banner line, which starts every boot (ESP32 ROM): `ets Jun  8 2016 00:22:57`. */
const ROM_BANNER = /ets [A-Z][a-z]{2} +\d+ \d{4} \d{2}:\d{2}:\d{2}/g;

/** What the ROM prints once it runs the second-stage bootloader (its SPI settings, segment loads, entry point), and the bootloader's own lines. */
const LEFT_DOWNLOAD_MODE = /configsip:|^load:0x|^entry 0x|\bboot: /m;

/** The text of the last boot in a log that may hold several (a reset into download mode, then the real boot). */
function lastBoot(text: string): { text: string; boots: number } {
  const starts = [...text.matchAll(ROM_BANNER)].map((m) => m.index ?? 0);
  return starts.length ? { text: text.slice(starts[starts.length - 1]!), boots: starts.length } : { text, boots: 1 };
}

export interface BootLogFinding {
  entry: BootLogEntry;
  line: string;
  /** The entry's advice in the words of the front end that asked (explainBootLog's hints). */
  advice?: string;
}

export interface BootLogExplanation {
  verdict: 'booted' | 'failed' | 'unknown';
  findings: BootLogFinding[];
  /** One sentence for the user. */
  summary: string;
}

/**
 * The catalogue entries where the ROM cannot read a bootloader image at 0x1000 ("flash read err,
 * 1000"; "invalid header" on revision 3): with flash encryption on and a bootloader just written
 * and verified, the chip decrypts with another key than the one it was encrypted with.
 */
export const BOOTLOADER_UNREADABLE: readonly string[] = ['flash-read-err', 'invalid-header'];

/**
 * Explains a boot log captured after a reset (any text, e.g. captureBootLog's): every catalogue
 * entry found in the last boot of the log (first match each, in catalogue order; critical lines
 * anywhere), and a verdict: `failed` when a critical
 * line is there (the board burned keys of its own: the summary says so even when it booted) or a
 * failure line (the first failure in catalogue order gives the summary), else `booted` on a
 * success line, else `unknown`. Advice that names a command is in the front end's words (`hints`,
 * the CLI's by default). Never throws.
 */
export function explainBootLog(text: string, hints: BootLogHints = CLI_BOOT_LOG_HINTS): BootLogExplanation {
  // A critical line counts wherever it is (the bootloader burns keys, then resets and boots again);
  // everything else is read from the last boot only, so an earlier reset into download mode does
  // not contradict the boot that followed it.
  const last = lastBoot(text);
  const findings: BootLogFinding[] = [];
  for (const entry of BOOT_LOG_CATALOGUE) {
    const m = entry.pattern.exec(entry.severity === 'critical' ? text : last.text);
    // "waiting for download" followed by the ROM loading the bootloader: the chip left download
    // mode without a reset (the ROM loader was told to run the firmware), so it is not "still" there.
    if (m && entry.id === 'download-waiting' && LEFT_DOWNLOAD_MODE.test(last.text.slice((m.index ?? 0) + m[0].length))) continue;
    const advice = m ? adviceFor(entry, hints) : undefined;
    if (m) findings.push({ entry, line: m[0], ...(advice ? { advice } : {}) });
  }
  const critical = findings.filter((f) => f.entry.severity === 'critical');
  const failure = findings.find((f) => f.entry.severity === 'failure');
  const success = findings.find((f) => f.entry.severity === 'success');
  if (critical.length) {
    // It may well have booted: saying so would hide that it burned keys nobody has.
    const what = critical.map((f) => `"${f.line}" means ${f.entry.meaning}`).join('; ');
    return { verdict: 'failed', findings, summary: `The board burned keys of its own on this boot: ${what}; ${adviceFor(critical[0]!.entry, hints) ?? ''}.` };
  }
  if (failure) {
    const advice = adviceFor(failure.entry, hints);
    return { verdict: 'failed', findings, summary: `The board did not boot: "${failure.line}" means ${failure.entry.meaning}${advice ? `; ${advice}` : ''}.` };
  }
  if (success) return { verdict: 'booted', findings, summary: `The board booted: ${success.line.trim()} (${success.entry.meaning}).` };
  const waiting = findings.find((f) => f.entry.id === 'download-waiting');
  if (waiting) return { verdict: 'unknown', findings, summary: `The board is still in download mode ("${waiting.line}"), so the firmware did not start; ${adviceFor(waiting.entry, hints)}.` };
  return { verdict: 'unknown', findings, summary: last.text.trim() ? 'The boot log holds no line this tool recognises (Pycom\'s secure bootloader prints nothing); listen longer with the serial monitor to see the firmware start.' : 'The board printed nothing after the reset.' };
}

/**
 * Whether a boot log (complete lines) already settles the outcome of the boot, so listening longer
 * cannot change what `explainBootLog` says about it: the last boot reached the MicroPython banner
 * (the firmware started), or printed a failure line from BOOT_LOG_CATALOGUE (the ROM or bootloader
 * stops or the firmware crashed). A critical line (the bootloader burning keys of its own) does not
 * settle it: the board goes on to encrypt and reboot, and what follows belongs in the log. "waiting
 * for download" does not either (an earlier reset into download mode may precede the real boot);
 * silence ends those captures. Never throws.
 */
export function bootLogSettled(text: string): boolean {
  const last = lastBoot(text).text;
  for (const entry of BOOT_LOG_CATALOGUE) {
    const settles = entry.severity === 'failure' || entry.id === 'micropython';
    if (settles && entry.id !== 'download-disabled' && entry.pattern.test(last)) return true;
  }
  return false;
}
