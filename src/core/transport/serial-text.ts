/**
 * What a board printed, as text a person can read: the one cleaning every boot-log and monitor
 * path goes through (the CLI's flash and monitor, the editor's Flash log and Serial Monitor).
 *
 * - ROM loader replies that arrive while listening (SLIP frames, 0xC0 ... 0xC0, RFC 1055) are
 *   dropped: they are protocol, not output (esp32-rom-protocol: every reply is one SLIP frame).
 * - ANSI colour sequences (ESP-IDF's log colours, ESC [ ... m) are dropped.
 * - CR LF and lone CR become LF; tabs stay.
 * - Every other byte that is not printable text (NUL, other control bytes, bytes that are not
 *   valid UTF-8) is shown visibly as `\xNN`, never as an invisible or replacement character.
 *
 * Input: the raw bytes, in the order received. Output: the text; `\xNN` marks a byte shown as is.
 */
export function serialText(raw: Uint8Array): string {
  const bytes = dropSlipFrames(raw);
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b === 0x1b && bytes[i + 1] === 0x5b) {
      // CSI: ESC [ parameters ... final byte 0x40-0x7E.
      let j = i + 2;
      while (j < bytes.length && (bytes[j]! < 0x40 || bytes[j]! > 0x7e)) j++;
      i = j + 1;
      continue;
    }
    if (b === 0x0d) {
      if (bytes[i + 1] !== 0x0a) out += '\n';
      i++;
      continue;
    }
    if (b === 0x0a || b === 0x09 || (b >= 0x20 && b < 0x7f)) {
      out += String.fromCharCode(b);
      i++;
      continue;
    }
    const n = utf8Length(bytes, i);
    const ch = n > 1 ? utf8.decode(bytes.subarray(i, i + n), { stream: false }) : '';
    // Valid, not a surrogate or overlong form (those decode to U+FFFD), and not a C1 control.
    if (n > 1 && !ch.includes('\ufffd') && !/[\u0080-\u009f]/.test(ch)) {
      out += ch;
      i += n;
      continue;
    }
    out += `\\x${b.toString(16).padStart(2, '0')}`;
    i++;
  }
  return out;
}

const utf8 = new TextDecoder('utf-8');

/** Length of the valid UTF-8 sequence of 2-4 bytes starting at `i`, or 0. */
function utf8Length(b: Uint8Array, i: number): number {
  const c = b[i]!;
  const n = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
  if (n === 0 || i + n > b.length) return 0;
  for (let k = 1; k < n; k++) if ((b[i + k]! & 0xc0) !== 0x80) return 0;
  return n;
}

/**
 * Removes SLIP frames: from a 0xC0 to the next 0xC0 when what lies between is not text (a ROM
 * reply holds binary fields), and any 0xC0 left alone. Text between two 0xC0 bytes is kept.
 */
function dropSlipFrames(raw: Uint8Array): Uint8Array {
  const out: number[] = [];
  let i = 0;
  while (i < raw.length) {
    if (raw[i] !== 0xc0) {
      out.push(raw[i]!);
      i++;
      continue;
    }
    const end = raw.indexOf(0xc0, i + 1);
    if (end < 0) {
      i++;
      continue;
    }
    const inner = raw.subarray(i + 1, end);
    const binary = inner.length === 0 || inner.some((c) => (c < 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) || c === 0xdb);
    if (!binary) for (const c of inner) out.push(c);
    i = binary ? end + 1 : end;
  }
  return Uint8Array.from(out);
}
