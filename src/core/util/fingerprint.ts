import { createHash } from 'node:crypto';

/**
 * The only way key material may be shown anywhere (logs, errors, webview, audit log):
 * the first 8 bytes of its SHA-256, as hex.
 */
export function fingerprint(material: Uint8Array | string): string {
  return createHash('sha256').update(material).digest().subarray(0, 8).toString('hex');
}
