/**
 * Known boot-log lines (esp32-boot-security.md §6, pycom.md §3.2, §1.11) and what they mean for
 * someone who just flashed a secure board, as data. `explainBootLog` finds every known line in a
 * captured log; the first failure decides the verdict.
 */
export interface BootLogEntry {
  id: string;
  pattern: RegExp;
  severity: 'failure' | 'info' | 'success';
  meaning: string;
  advice?: string;
}

export const BOOT_LOG_CATALOGUE: readonly BootLogEntry[] = [
  { id: 'flash-read-err', pattern: /flash read err,\s*1000/, severity: 'failure', meaning: 'the ROM cannot read a bootloader at 0x1000: a plaintext bootloader on a chip with flash encryption on, an encrypted one with encryption off, the wrong key, or nothing flashed there', advice: 'flash the bootloader digest image encrypted with this board\'s flash key at 0x0' },
  { id: 'invalid-header', pattern: /invalid header: 0x[0-9a-f]+/i, severity: 'failure', meaning: 'the ROM (rev3) finds no image header at 0x1000: same causes as "flash read err, 1000"', advice: 'flash the bootloader digest image encrypted with this board\'s flash key at 0x0' },
  { id: 'csum-err', pattern: /csum err:0x[0-9a-f]+!=0x[0-9a-f]+/i, severity: 'failure', meaning: 'the bootloader at 0x1000 is corrupt (checksum wrong), or decrypts with the wrong key', advice: 'rebuild and reflash the bootloader' },
  { id: 'secure-boot-check-fail', pattern: /secure boot check fail/, severity: 'failure', meaning: 'the bootloader digest at 0x0 was not made with the secure boot key in BLOCK2', advice: 'rebuild the bootloader digest with the signing key whose digest_private_key is burned in BLOCK2' },
  { id: 'rom-basic', pattern: /Falling back to built-in command interpreter/, severity: 'failure', meaning: 'the ROM could not start a bootloader and dropped to its BASIC interpreter' },
  { id: 'partition-magic', pattern: /partition \d+ invalid magic number 0x[0-9a-f]+/i, severity: 'failure', meaning: 'the partition table at 0x8000 is unreadable: plaintext on an encrypted chip, or encrypted with another key/address', advice: 'flash the partition table encrypted for 0x8000 with this board\'s flash key' },
  { id: 'partition-signature', pattern: /Failed to verify partition table signature/, severity: 'failure', meaning: 'the partition table is not signed with the key the bootloader was built with', advice: 'sign the partition table with the same signing key as the bootloader' },
  { id: 'partition-load', pattern: /load partition table error/, severity: 'failure', meaning: 'the bootloader could not load the partition table' },
  { id: 'app-magic', pattern: /image at 0x[0-9a-f]+ has invalid magic byte/i, severity: 'failure', meaning: 'no readable app at that address: nothing flashed, plaintext on an encrypted chip, or encrypted for another address (e.g. an OTA copy at 0x10000)', advice: 'flash the app encrypted for that address' },
  { id: 'app-checksum', pattern: /Checksum failed\. Calculated 0x[0-9a-f]+ read 0x[0-9a-f]+/i, severity: 'failure', meaning: 'the app image is corrupt or was decrypted with the wrong key' },
  { id: 'app-hash', pattern: /Image hash failed - image is corrupt/, severity: 'failure', meaning: 'the app image is corrupt (its SHA-256 does not match)' },
  { id: 'app-unsigned', pattern: /image has invalid signature version field/, severity: 'failure', meaning: 'the app is not signed, and the bootloader requires signed apps', advice: 'sign the app with the secure boot signing key' },
  { id: 'app-signature', pattern: /Secure boot signature verification failed/, severity: 'failure', meaning: 'the app is signed with a key other than the one built into the bootloader', advice: 'sign the app with the same key as the bootloader' },
  { id: 'no-app', pattern: /No bootable app partitions in the partition table/, severity: 'failure', meaning: 'no app partition holds a valid image' },
  { id: 'secure-boot-not-enabled', pattern: /SECURE BOOT IS NOT ENABLED/, severity: 'failure', meaning: 'Pycom\'s bootloader could not enable secure boot on first boot' },
  { id: 'ota-fallback', pattern: /Cannot load Firmware img in the active partition/, severity: 'info', meaning: 'the OTA image did not verify and the board went back to the previous image (an OTA image encrypted for the wrong slot does this)' },
  { id: 'download-disabled', pattern: /Download mode is disabled/, severity: 'failure', meaning: 'UART download mode is disabled on this chip' },
  { id: 'download-waiting', pattern: /waiting for download/, severity: 'info', meaning: 'the chip is still in download mode (GPIO0 held low), not running the firmware', advice: 'release GPIO0 (P2) and reset' },
  { id: 'fe-enabled', pattern: /flash encryption is enabled \(\d+ plaintext flashes left\)/, severity: 'info', meaning: 'flash encryption is on' },
  { id: 'guru', pattern: /Guru Meditation Error[^\r\n]*/, severity: 'failure', meaning: 'the firmware crashed after booting' },
  { id: 'micropython', pattern: /Pycom MicroPython [^\r\n]*/, severity: 'success', meaning: 'the firmware booted to MicroPython' },
];

export interface BootLogFinding {
  entry: BootLogEntry;
  line: string;
}

export interface BootLogExplanation {
  verdict: 'booted' | 'failed' | 'unknown';
  findings: BootLogFinding[];
  /** One sentence for the user. */
  summary: string;
}

export function explainBootLog(text: string): BootLogExplanation {
  const findings: BootLogFinding[] = [];
  for (const entry of BOOT_LOG_CATALOGUE) {
    const m = entry.pattern.exec(text);
    if (m) findings.push({ entry, line: m[0] });
  }
  const failure = findings.find((f) => f.entry.severity === 'failure');
  const success = findings.find((f) => f.entry.severity === 'success');
  if (failure) {
    return { verdict: 'failed', findings, summary: `The board did not boot: "${failure.line}" means ${failure.entry.meaning}${failure.entry.advice ? `; ${failure.entry.advice}` : ''}.` };
  }
  if (success) return { verdict: 'booted', findings, summary: `The board booted: ${success.line.trim()}.` };
  return { verdict: 'unknown', findings, summary: text.trim() ? 'The boot log holds no line this tool recognises (Pycom\'s bootloader is silent); check the board with `pycom-secure monitor`.' : 'The board printed nothing after the reset.' };
}
