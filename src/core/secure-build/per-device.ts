import { UserError } from '../errors';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent } from '../firmware/content';
import { findBuildOutputs, type BuildOutputs } from '../firmware/outputs';
import { describeRegion, EXPECTED_CONTENT, planFromBuild, type FlashPlan } from '../flash/plan';
import { diagnoseDamage } from '../flash/diagnose';
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
 * The build decrypted with the build key, per flash size: what every board of a provisioning run
 * shares, so the build is read and decrypted once and each board costs one encryption of its
 * regions. Pass the same (empty at first) object to each boardPlanFromBuild call of one run.
 */
export interface DecryptedBuildCache {
  entries?: Map<string, { build: BuildOutputs; plan: FlashPlan; plain: Map<number, Uint8Array>; decryptsValid: boolean }>;
}

function decryptedBuild(dir: string, o: BoardPlanOptions, buildKey: Uint8Array, cache: DecryptedBuildCache) {
  const k = `${dir}\n${o.board ?? ''}\n${o.flashSize ?? ''}\n${fingerprint(buildKey)}`;
  cache.entries ??= new Map();
  const hit = cache.entries.get(k);
  if (hit) return hit;
  const conf = o.flashCryptConf ?? 0xf;
  const build = findBuildOutputs(dir, { ...(o.board ? { board: o.board } : {}), ...(o.flashCryptConf !== undefined ? { flashCryptConf: o.flashCryptConf } : {}), flashKey: buildKey });
  const plan = planFromBuild(build, o.flashSize !== undefined ? { flashSize: o.flashSize } : {});
  const plain = new Map<number, Uint8Array>();
  let decryptsValid = true;
  for (const r of plan.regions) {
    if (!r.encrypted) continue;
    if (r.data.length % 16 !== 0) {
      decryptsValid = false;
      break;
    }
    const p = decryptFlashData(r.data, { key: buildKey, address: r.address, flashCryptConf: conf });
    if (classifyContent(p).kind === 'unknown') {
      decryptsValid = false;
      break;
    }
    plain.set(r.address, p);
  }
  const entry = { build, plan, plain, decryptsValid };
  cache.entries.set(k, entry);
  return entry;
}

/**
 * The flash plan of a build for one board. With a build key, the build's encrypted regions are
 * decrypted with it at their addresses (once per `cache`), checked to be what their role says (an
 * image, a digest image, a partition table), and encrypted for the board's key at the same address
 * (32-byte padded with 0xFF, so the same build and key always give the same bytes and a rerun
 * writes nothing); when the board's key is the build key the build's files are used as they are.
 * A build that does not decrypt with the build key but does with the board's key (a build made
 * with this board's own key) is used as it is.
 *
 * Errors: E_PLAN_DECRYPT when an output is damaged (diagnoseDamage: not whole 16-byte blocks, or
 * its start decrypts with one of the keys and the rest does not check out), E_BUILD_KEY when the
 * outputs decrypt with neither key (the build was made with another key), plus findBuildOutputs' and planFromBuild's errors.
 */
export function boardPlanFromBuild(dir: string, o: BoardPlanOptions, cache: DecryptedBuildCache = {}): BoardPlan {
  const base = { ...(o.board ? { board: o.board } : {}), ...(o.flashCryptConf !== undefined ? { flashCryptConf: o.flashCryptConf } : {}) };
  const size = o.flashSize !== undefined ? { flashSize: o.flashSize } : {};
  const same = !o.flashKey || !o.buildKey || Buffer.from(o.flashKey).equals(Buffer.from(o.buildKey));
  if (same) {
    const build = findBuildOutputs(dir, { ...base, ...(o.flashKey ? { flashKey: o.flashKey } : {}) });
    return { plan: planFromBuild(build, size), build, reencrypted: false };
  }
  const fromBuildKey = decryptedBuild(dir, o, o.buildKey!, cache);
  if (!fromBuildKey.decryptsValid) {
    const withBoardKey = findBuildOutputs(dir, { ...base, flashKey: o.flashKey! });
    if (withBoardKey.outputs.every((x) => !x.encrypted || x.decryptsValid !== false)) {
      return { plan: planFromBuild(withBoardKey, size), build: withBoardKey, reencrypted: false };
    }
    const bad = fromBuildKey.plan.regions.find((r) => r.encrypted && !fromBuildKey.plain.has(r.address))!;
    // A damaged file is named damaged, as it is on a board with the shared key, not blamed on a key.
    const damaged = diagnoseDamage({ data: bad.data, address: bad.address, region: describeRegion(bad), conf: o.flashCryptConf ?? 0xf, ...(EXPECTED_CONTENT[bad.role] ? { want: EXPECTED_CONTENT[bad.role]! } : {}) },
      [{ label: 'the build key', key: o.buildKey! }, { label: 'the board\'s key', key: o.flashKey! }]);
    if (damaged) throw new UserError('E_PLAN_DECRYPT', damaged);
    throw new UserError('E_BUILD_KEY', `${bad.file} decrypts at ${hex(bad.address)} neither with the board's key ${fingerprint(o.flashKey!)} nor with the build key ${fingerprint(o.buildKey!)}; the build was made with another key: rebuild it with the key store's flash_encryption_key.bin.`);
  }
  const conf = o.flashCryptConf ?? 0xf;
  const regions = fromBuildKey.plan.regions.map((r) => {
    const plain = fromBuildKey.plain.get(r.address);
    return plain ? { ...r, data: encryptFor(plain, r.address, o.flashKey!, conf) } : r;
  });
  return { plan: { ...fromBuildKey.plan, regions }, build: fromBuildKey.build, reencrypted: true };
}

/**
 * The build key of a key store: the flash-encryption key `build` makes the build with
 * (flash_encryption_key.bin, the file Pycom's makefile reads), or undefined when the store has none.
 * With per-device keys it is never burned into a board; it only decrypts the build's outputs.
 */
export function storeBuildKey(store: KeyStore): Uint8Array | undefined {
  return fs.existsSync(store.sharedFlashKeyPath) ? readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption') : undefined;
}
