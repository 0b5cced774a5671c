import { UserError } from '../errors';
import * as fs from 'node:fs';
import { board as boardFacts, layouts, otaSlots, type BoardId } from '../boards/catalog';
import { FACTORY_ADDRESS } from '../chip/esp32';
import { decryptFlashData } from '../crypto/flash-encryption';
import { classifyContent } from '../firmware/content';
import { GENERATIONS, type GenerationId } from '../firmware/generations';
import { hex } from '../util/hex';
import type { BuildOutputs } from '../firmware/outputs';
import { encryptFor } from '../secure-build/process';
import { fingerprint } from '../util/fingerprint';
import { diagnoseDamage } from '../flash/diagnose';
import { bootSignatureStatus } from '../image/verify-file';
import { describeRegion } from '../flash/plan';

/**
 * The OTA image: the signed app encrypted for the slot the board will write it to. Pycom's OTA
 * writes the bytes raw (the image must arrive encrypted for that exact address), so the slot is
 * either given or asked from the running board, and must be a slot this board and firmware
 * generation really have (pycom-micropython-sigfox esp32/ftp/updater.c; 1.20.0.rc1-rc4 encrypted
 * the OTA copy for 0x1A0000, Pycom's docs still name 0x1A0000).
 */
export function knownSlots(board: BoardId, generation: GenerationId, flashSize?: number): number[] {
  return [FACTORY_ADDRESS, ...otaSlots(board, generation, flashSize)];
}

/**
 * Refuses a slot that is not one of `board`'s for this firmware generation (E_OTA_SLOT, nothing
 * written); with `flashSize` (bytes, the connected board's), only its flash size's layouts count.
 */
export function checkSlot(board: BoardId, generation: GenerationId, slot: number, source: 'board' | 'option', flashSize?: number): void {
  const known = knownSlots(board, generation, flashSize);
  if (!known.includes(slot)) {
    const said = source === 'board' ? `The board answered ${hex(slot)} to pycom.ota_slot()` : `--slot ${hex(slot)}`;
    const on = flashSize !== undefined ? ` on a board with ${flashSize / 0x100000} MB of flash` : '';
    throw new UserError('E_OTA_SLOT', `${said}, which is not a slot of ${boardFacts(board).name} firmware ${GENERATIONS[generation].versions}${on} (known: ${known.map((a) => hex(a)).join(', ')}); check the board, the build's firmware version and the address, nothing was written.`);
  }
}

/** Largest app partition that starts at `slot` in any Pycom layout. */
function slotSize(slot: number): number | undefined {
  const sizes = layouts().flatMap((l) => l.entries.filter((e) => e.type === 0 && e.offset === slot).map((e) => e.size));
  return sizes.length ? Math.max(...sizes) : undefined;
}

export interface OtaImageOptions {
  build: BuildOutputs;
  slot: number;
  slotSource: 'board' | 'option';
  /** The board's flash size in bytes, when known (a connected board): only its layouts' slots are taken. */
  flashSize?: number;
  flashKey?: Uint8Array;
  /** The key the build was made with, when the board has its own (per-device keys): the build's app is decrypted with it. */
  buildKey?: Uint8Array;
  flashCryptConf?: number;
  /**
   * The public key (X‖Y) of the key store's signing key: the app must carry its signature, which a
   * secure boot bootloader checks before it boots the slot; `signingKeyLabel` names it.
   */
  signingPublicKey?: Uint8Array;
  signingKeyLabel?: string;
}

export interface OtaImage {
  data: Uint8Array;
  slot: number;
  /** Where the bytes came from, for the user. */
  source: string;
}

function decryptsValid(data: Uint8Array, slot: number, key: Uint8Array, conf: number): boolean {
  if (data.length % 16 !== 0) return false;
  return classifyContent(decryptFlashData(data, { key, address: slot, flashCryptConf: conf })).kind === 'image';
}

export function makeOtaImage(o: OtaImageOptions): OtaImage {
  const { build, slot } = o;
  const conf = o.flashCryptConf ?? 0xf;
  checkSlot(build.board, build.generation, slot, o.slotSource, o.flashSize);
  const copy = build.outputs.find((x) => (x.role === 'ota-copy' || x.role === 'app') && x.address === slot && x.encrypted);
  let out: OtaImage | undefined;
  if (copy && (!o.flashKey || decryptsValid(fs.readFileSync(copy.path), slot, o.flashKey, conf))) {
    out = { data: new Uint8Array(fs.readFileSync(copy.path)), slot, source: copy.rel };
  } else {
    // No file for this slot (or rc1-rc4's copy for the wrong address): re-encrypt the signed app.
    if (!o.flashKey) {
      throw new UserError('E_OTA_NO_KEY', `The build has no app encrypted for ${hex(slot)} and there is no flash key in the key store to make one; add the board's key (or pass the key store).`);
    }
    let signed: Uint8Array | undefined;
    let from = '';
    let damaged: string | undefined;
    if (build.plainApp) {
      signed = new Uint8Array(fs.readFileSync(build.plainApp));
      from = 'the signed plaintext app';
    } else {
      const factory = build.outputs.find((x) => x.role === 'app' && x.address === FACTORY_ADDRESS && x.encrypted);
      if (factory) {
        // The board's key first (a build made with it), then the build key (one build re-encrypted per board).
        for (const [key, which] of [[o.flashKey, ''], ...(o.buildKey ? [[o.buildKey, ' with the build key']] : [])] as [Uint8Array, string][]) {
          signed = decryptFlashData(new Uint8Array(fs.readFileSync(factory.path)), { key, address: FACTORY_ADDRESS, flashCryptConf: conf });
          from = `${factory.rel} decrypted at 0x10000${which}`;
          if (classifyContent(signed).kind === 'image') break;
        }
        if (classifyContent(signed!).kind !== 'image') {
          // A damaged file is named damaged, as flash names it, not blamed on a key.
          const data = new Uint8Array(fs.readFileSync(factory.path));
          damaged = diagnoseDamage({ data, address: FACTORY_ADDRESS, want: 'image', region: describeRegion({ address: FACTORY_ADDRESS, file: factory.path, data, role: 'app', encrypted: true }), conf },
            [{ label: 'the board\'s key', key: o.flashKey }, ...(o.buildKey ? [{ label: 'the build key', key: o.buildKey }] : [])]);
        }
      }
    }
    const c = signed ? classifyContent(signed) : undefined;
    if (damaged) throw new UserError('E_OTA_SOURCE', damaged);
    if (!signed || c?.kind !== 'image') {
      throw new UserError('E_OTA_SOURCE', `No valid app to re-encrypt for ${hex(slot)} in ${build.dir} with the flash key ${fingerprint(o.flashKey)} (the build may use another key); rebuild with this board's keys.`);
    }
    if (c.signed === false) {
      throw new UserError('E_OTA_UNSIGNED', `The app in ${build.dir} is not signed; a board with secure boot rejects unsigned OTA images, so sign it first.`);
    }
    out = { data: encryptFor(signed, slot, o.flashKey, conf), slot, source: `${from}, re-encrypted for ${hex(slot)}` };
  }
  if (o.signingPublicKey && o.flashKey) {
    // The bootloader verifies the app it boots from this slot (secure boot v1): an image signed
    // with another key would leave the device unable to boot the slot after the update.
    const plain = decryptFlashData(out.data, { key: o.flashKey, address: slot, flashCryptConf: conf });
    const status = bootSignatureStatus(plain, o.signingPublicKey);
    if (status !== 'valid') {
      const key = `${o.signingKeyLabel ?? "the key store's signing key"} (fingerprint ${fingerprint(o.signingPublicKey)})`;
      throw new UserError('E_OTA_SIGNATURE', `The app in ${build.dir} is ${status === 'other-key' ? `signed with another key than ${key}` : `not signed with ${key}`}: a board with secure boot would refuse it after the update ("Secure boot signature verification failed"), so no OTA image was written; build it again signed with that key (\`pycom-secure build --signing-key\` naming it).`);
    }
  }
  const size = slotSize(slot);
  if (size !== undefined && out.data.length > size) {
    throw new UserError('E_OTA_TOO_BIG', `The app (${out.data.length} bytes) does not fit the ${size}-byte slot at ${hex(slot)}.`);
  }
  return out;
}
