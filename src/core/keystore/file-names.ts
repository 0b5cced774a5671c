/**
 * The names of the key files inside a key store; the same names Pycom's makefile and espsecure
 * use. Kept apart from key-store.ts so that the one write path (util/atomic-file.ts) can
 * recognise a key file by name without importing the store (which writes through it).
 */
export const SIGNING_KEY_FILE = 'secure_boot_signing_key.pem';
export const FLASH_KEY_FILE = 'flash_encryption_key.bin';
/**
 * A signing key that stays in a PKCS#11 token is kept in the store as this file: one line, its
 * pkcs11: URI (no secret, never a PIN), in place of secure_boot_signing_key.pem.
 */
export const SIGNING_KEY_REF_FILE = 'secure_boot_signing_key.pkcs11';
/**
 * A random secure boot key (what BLOCK2 holds), for a signing key it cannot be derived from
 * (a token key); espsecure digest_private_key's output has the same form (32 or 24 raw bytes).
 */
export const SECURE_BOOT_KEY_FILE = 'secure_boot_key.bin';

/** Every key file name of the store, for recognising a key file by its name. */
export const KEY_FILE_NAMES: readonly string[] = [SIGNING_KEY_FILE, FLASH_KEY_FILE, SIGNING_KEY_REF_FILE, SECURE_BOOT_KEY_FILE];
