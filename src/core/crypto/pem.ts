/** PEM blocks (RFC 7468), tolerant of CRLF, surrounding text and RFC 1421 headers. */

export interface PemBlock {
  label: string;
  /** RFC 1421 header lines such as `Proc-Type: 4,ENCRYPTED` (legacy encrypted keys). */
  headers: string[];
  der: Uint8Array;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)-----END \1-----/g;

/** All well-formed blocks in order; an empty list when the text holds none. */
export function parsePem(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const lines = m[2]!.split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
    const headers = lines.filter((l) => l.includes(':'));
    const body = lines.filter((l) => !l.includes(':')).join('');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) continue;
    blocks.push({ label: m[1]!, headers, der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  return blocks;
}

/**
 * What a key file holds besides its well-formed blocks: `malformedBlocks` counts BEGIN lines that
 * did not make a block (no matching END, or a body that is not base64); `trailing` is the
 * non-blank text after the last block's END line (text before the first block is explanatory
 * text such as `openssl ec -text` writes, and is allowed by RFC 7468 section 2).
 */
export function pemLeftovers(text: string): { malformedBlocks: number; trailing: string } {
  const begins = (text.match(/-----BEGIN [^-\r\n]*-----/g) ?? []).length;
  const blocks = [...text.matchAll(BLOCK)];
  const good = parsePem(text).length;
  const last = blocks.at(-1);
  const after = last ? text.slice(last.index! + last[0].length) : '';
  return { malformedBlocks: begins - good, trailing: after.trim() };
}

/** PEM text with 64-character base64 lines and LF line ends, as OpenSSL and python-ecdsa write it. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
