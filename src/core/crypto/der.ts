/**
 * Just enough DER to read SEC1, PKCS#8 and SubjectPublicKeyInfo EC keys (and recognise what
 * else a user might hand us). Malformed input throws DerError; callers turn it into a sentence.
 */

export class DerError extends Error {}

export const TAG = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  SEQUENCE: 0x30,
  CTX0: 0xa0,
  CTX1: 0xa1,
} as const;

export interface DerNode {
  tag: number;
  /** The content octets (a view into the input). */
  value: Uint8Array;
}

/** Reads one TLV at `pos`; returns it and the position after it. */
export function readTlv(buf: Uint8Array, pos: number): { node: DerNode; next: number } {
  if (pos + 2 > buf.length) throw new DerError('truncated TLV');
  const tag = buf[pos]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tags are not used by key formats');
  let len = buf[pos + 1]!;
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 3 || p + n > buf.length) throw new DerError('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = (len << 8) | buf[p + i]!;
    p += n;
  }
  if (p + len > buf.length) throw new DerError('length past end of data');
  return { node: { tag, value: buf.subarray(p, p + len) }, next: p + len };
}

/** Reads exactly one TLV spanning the whole buffer. */
export function readOne(buf: Uint8Array, expectTag?: number): DerNode {
  const { node, next } = readTlv(buf, 0);
  if (next !== buf.length) throw new DerError('trailing data');
  if (expectTag !== undefined && node.tag !== expectTag) throw new DerError(`expected tag ${expectTag}, found ${node.tag}`);
  return node;
}

/** The elements of a constructed value (SEQUENCE, [0], ...). */
export function children(node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let pos = 0;
  while (pos < node.value.length) {
    const r = readTlv(node.value, pos);
    out.push(r.node);
    pos = r.next;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (!node || node.tag !== tag) throw new DerError(`missing ${what}`);
  return node;
}

export function decodeOid(node: DerNode): string {
  if (node.tag !== TAG.OID || node.value.length === 0) throw new DerError('not an OID');
  const v = node.value;
  const parts: number[] = [];
  let acc = 0;
  for (const b of v) {
    acc = acc * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      parts.push(acc);
      acc = 0;
    }
  }
  const first = parts.shift()!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - 40 * a, ...parts].join('.');
}

/** Encodes a TLV with definite length (short or long form). */
export function encodeTlv(tag: number, value: Uint8Array): Uint8Array {
  const len = value.length;
  const head = len < 0x80 ? [tag, len] : len < 0x100 ? [tag, 0x81, len] : [tag, 0x82, len >> 8, len & 0xff];
  const out = new Uint8Array(head.length + len);
  out.set(head);
  out.set(value, head.length);
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
