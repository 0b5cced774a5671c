/**
 * Reads what a board printed after a reset (ROM boot log, MicroPython banner, panics) to say
 * *why* it did not answer the loader (esp32-rom-protocol.md §1, §14; pycom.md §3.2).
 */
export type BootLogFinding =
  | { kind: 'download-waiting'; mode: number }
  | { kind: 'wrong-boot-mode'; mode: number }
  | { kind: 'download-disabled' }
  | { kind: 'flash-read-error'; text: string }
  | { kind: 'firmware'; text: string };

export function analyzeBootLog(raw: Buffer | string): BootLogFinding | undefined {
  const text = typeof raw === 'string' ? raw : raw.toString('latin1');
  // UNCONFIRMED which component prints this (ROM or app, §14 item 7); either way it is final.
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
