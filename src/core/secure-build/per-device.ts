import { UserError } from '../errors';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent } from '../firmware/content';
import { findBuildOutputs, type BuildOutputs } from '../firmware/outputs';
import { planFromBuild, type FlashPlan } from '../flash/plan';
import * as fs from 'node:fs';
import type { BoardId } from '../boards/catalog';
import { readHardwareKeyFile } from '../keys/key-files';
import type { KeyStore } from '../keystore/key-store';
import { fingerprint } from '../util/fingerprint';
import { hex } from '../util/hex';
import { encryptFor } from './process';

/**
 * Per-device flash-encryption keys (Espressif's production advice): one signed build serves every
 * board, and its encrypted outputs are re-encrypted on the host for each board's key. Pycom's make
 * from 1.19 on overwrites the plaintext app and bootloader with ciphertext, so the signed
 * plaintext is never taken from the build folder: it comes from decrypting each `_enc` output at
 * its own address with the key the build used (the build key), and only then is it encrypted for
 * the board's key at the same address. Signatures and the secure boot digest do not depend on the
 * flash key, so they stay valid.
 */
export interface BoardPlanOptions {
  /** Board the build is for (otherwise found from the folder). */
  board?: BoardId;
  /** The chip's flash size in bytes (Era D builds hold tables for 4 MB and 8 MB modules). */
  flashSize?: number;
  /** The board's flash-encryption key, in key-file order; undefined when the store has none for it. */
  flashKey?: Uint8Array;
  /** The key the build was made with (the key store's flash_encryption_key.bin by default). */
  buildKey?: Uint8Array;
  flashCryptConf?: number;
}

export interface BoardPlan {
  plan: FlashPlan;
  build: BuildOutputs;
  /** True when the build's encrypted outputs were re-encrypted for `flashKey`. */
  reencrypted: boolean;
}

/**
 * The flash plan of a build for one board. When the build's encrypted outputs already decrypt with
 * the board's key (shared keys, or a build made with this board's key) they are used as they are;
 * otherwise each encrypted region is decrypted with `buildKey` at its address, checked to be what
 * its role says (an image, a digest image, a partition table), and encrypted for `flashKey` at the
 * same address (32-byte padded with 0xFF, so the same build and key always give the same bytes and
 * a rerun writes nothing).
 *
 * Errors: E_BUILD_KEY when the outputs decrypt with neither key (the build was made with another
 * key), plus findBuildOutputs' and planFromBuild's errors.
 */
export function boardPlanFromBuild(dir: string, o: BoardPlanOptions): BoardPlan {
  const base = { ...(o.board ? { board: o.board } : {}), ...(o.flashCryptConf !== undefined ? { flashCryptConf: o.flashCryptConf } : {}) };
  const size = o.flashSize !== undefined ? { flashSize: o.flashSize } : {};
  const same = !o.flashKey || !o.buildKey || Buffer.from(o.flashKey).equals(Buffer.from(o.buildKey));
  const withBoardKey = findBuildOutputs(dir, { ...base, ...(o.flashKey ? { flashKey: o.flashKey } : {}) });
  const encrypted = (b: BuildOutputs) => b.outputs.filter((x) => x.encrypted);
  if (same || encrypted(withBoardKey).every((x) => x.decryptsValid !== false)) {
    return { plan: planFromBuild(withBoardKey, size), build: withBoardKey, reencrypted: false };
  }
  const build = findBuildOutputs(dir, { ...base, flashKey: o.buildKey! });
  const plan = planFromBuild(build, size);
  const conf = o.flashCryptConf ?? 0xf;
  const regions = plan.regions.map((r) => {
    if (!r.encrypted) return r;
    if (r.data.length % 32 !== 0) throw new UserError('E_BUILD_KEY', `${r.file} is ${r.data.length} bytes, not a whole number of 32-byte flash-encryption blocks; rebuild it.`);
    const plain = decryptFlashData(r.data, { key: o.buildKey!, address: r.address, flashCryptConf: conf });
    if (classifyContent(plain).kind === 'unknown') {
      throw new UserError('E_BUILD_KEY', `${r.file} decrypts at ${hex(r.address)} neither with the board's key ${fingerprint(o.flashKey!)} nor with the build key ${fingerprint(o.buildKey!)}; the build was made with another key: rebuild it with the key store's flash_encryption_key.bin.`);
    }
    return { ...r, data: encryptFor(plain, r.address, o.flashKey!, conf) };
  });
  return { plan: { ...plan, regions }, build, reencrypted: true };
}

/**
 * The build key of a key store: the flash-encryption key `build` makes the build with
 * (flash_encryption_key.bin, the file Pycom's makefile reads), or undefined when the store has none.
 * With per-device keys it is never burned into a board; it only decrypts the build's outputs.
 */
export function storeBuildKey(store: KeyStore): Uint8Array | undefined {
  return fs.existsSync(store.sharedFlashKeyPath) ? readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption') : undefined;
}
