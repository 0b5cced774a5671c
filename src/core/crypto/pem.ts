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

/** PEM text with 64-character base64 lines and LF line ends, as OpenSSL and python-ecdsa write it. */
export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}
