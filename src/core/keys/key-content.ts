/**
 * What a key file that has the wrong length actually holds, for the message that refuses it: hex
 * text (a raw key written out as hex digits, as `xxd -p` or a web page shows one) or a PEM file.
 * Raw hardware keys (flash encryption key, reflashable secure boot key) are the key bytes
 * themselves, as espsecure generate_flash_encryption_key and digest_private_key write them.
 */
export type KeyFileContent = { kind: 'hex-text'; digits: number; keyBytes: number } | { kind: 'pem' };

const HEX_TEXT = /^(?:0x)?[0-9a-fA-F]+$/;

/** hex-text when the file is hex digits only (whitespace and one 0x prefix allowed, an even count); pem for a PEM block; else undefined. */
export function keyFileContent(bytes: Uint8Array): KeyFileContent | undefined {
  const text = Buffer.from(bytes).toString('latin1');
  if (/^\s*-----BEGIN /.test(text)) return { kind: 'pem' };
  const compact = text.replace(/\s+/g, '');
  if (compact.length >= 32 && HEX_TEXT.test(compact)) {
    const digits = compact.replace(/^0x/, '').length;
    if (digits % 2 === 0) return { kind: 'hex-text', digits, keyBytes: digits / 2 };
  }
  return undefined;
}

/**
 * A clause for a refusal: "it is hex text (64 hex digits: a 32-byte key written as text), not the
 * raw key bytes; convert it (e.g. `xxd -r -p FILE KEY.bin`) and give that file", or for PEM that it
 * is not a raw key, or '' when the content says nothing more than its length.
 */
export function keyContentHint(bytes: Uint8Array, file = 'FILE'): string {
  const c = keyFileContent(bytes);
  if (!c) return '';
  if (c.kind === 'pem') return 'it is a PEM file (a signing key), not a raw key file; check that you passed the right file';
  return `it is hex text (${c.digits} hex digits: a ${c.keyBytes}-byte key written as text), not the raw key bytes; convert it (e.g. \`xxd -r -p ${file} KEY.bin\`) and give that file`;
}
