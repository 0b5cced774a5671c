import { type EspImage, checksumOk, hashOk, readEspImage } from './esp-image';
import { hex } from '../util/hex';
import { UserError } from '../errors';
import { keyMaterialIn, keyMaterialInBytes } from '../keystore/key-material';
import { describeSignatureBlock } from './signature-block';
import { DIGEST_IMAGE_BOOTLOADER_OFFSET, digestImageBootloader, identifyFile, type FileIdentity } from './file-kind';

const FLASH_MODES = ['QIO', 'QOUT', 'DIO', 'DOUT'];
const FLASH_SIZES = ['1MB', '2MB', '4MB', '8MB', '16MB', '32MB', '64MB', '128MB'];
const FLASH_FREQS: Record<number, string> = { 0x0: '40MHz', 0x1: '26MHz', 0x2: '20MHz', 0xf: '80MHz' };

/**
 * Human-readable summary lines of an image for `image-info` (no key material can be in an image
 * header); `data` is the file the image was read from, for its length and what follows the image.
 */
export function describeImage(img: EspImage, data: Uint8Array): string[] {
  const fileLength = data.length;
  const size = FLASH_SIZES[img.flashSizeFreq >> 4] ?? `unknown (${img.flashSizeFreq >> 4})`;
  const freq = FLASH_FREQS[img.flashSizeFreq & 0xf] ?? `unknown (${img.flashSizeFreq & 0xf})`;
  const lines = [
    `File length: ${fileLength} bytes`,
    `Entry point: ${hex(img.entryPoint, { width: 8, lower: true })}`,
    `Flash mode: ${FLASH_MODES[img.flashMode] ?? `unknown (${img.flashMode})`}, size: ${size}, frequency: ${freq}`,
    `Chip id: ${img.chipId}, minimum chip revision: ${img.minChipRev}`,
    `Segments: ${img.segmentCount}`,
    ...img.segments.map((s) => `  ${s.index}: load ${hex(s.loadAddress, { width: 8, lower: true })}, ${s.length} bytes at file offset ${hex(s.fileOffset, { lower: true })}`),
    `Checksum: ${hex(img.storedChecksum, { width: 2, lower: true })} at offset ${hex(img.checksumOffset, { lower: true })} (${checksumOk(img) ? 'valid' : `INVALID, calculated ${hex(img.computedChecksum, { width: 2, lower: true })}`})`,
  ];
  const h = hashOk(img);
  lines.push(h === undefined ? 'Appended SHA-256: none' : `Appended SHA-256: ${h ? 'valid' : 'INVALID (image modified after the build)'}`);
  lines.push(describeSignatureBlock(img.signature));
  return lines;
}

/**
 * `image-info` for any file: what it is, then its details (an image's header and signature
 * block, a table's entries and signature block, the bootloader inside a digest image). Throws a
 * one-sentence UserError for ciphertext and for files of no known kind; `file` names the file.
 * Returns the lines and whether the checksums that can be checked are valid.
 */
export function describeFile(data: Uint8Array, file: string): { lines: string[]; ok: boolean; identity: FileIdentity } {
  const id = identifyFile(data);
  const kindLine = `Kind: ${id.what}`;
  switch (id.kind) {
    case 'app':
    case 'bootloader': {
      const img = id.image!;
      const lines = [kindLine, ...describeImage(img, data)];
      if (id.kind === 'bootloader' && !img.signature.present) lines[lines.length - 1] = 'Secure boot v1 signature block: none (bootloaders are not signed; with secure boot the ROM checks the digest at 0x0 instead)';
      return { lines, ok: checksumOk(img) && hashOk(img) !== false, identity: id };
    }
    case 'partition-table': {
      const t = id.table!;
      const lines = [
        kindLine,
        `File length: ${data.length} bytes`,
        `Entries: ${t.entries.length}${t.hasMd5 ? ' (MD5 record valid)' : ''}`,
        ...t.entries.map((e) => `  ${e.label}: type ${e.type}, subtype ${hex(e.subtype, { width: 2, lower: true })}, offset ${hex(e.offset, { lower: true })}, size ${hex(e.size, { lower: true })}${e.encrypted ? ', encrypted' : ''}`),
        describeSignatureBlock(id.signature!),
      ];
      return { lines, ok: true, identity: id };
    }
    case 'digest-image': {
      const lines = [kindLine, `File length: ${data.length} bytes`, `IV: 128 bytes at 0x0, digest: 64 bytes at 0x80, bootloader at ${hex(DIGEST_IMAGE_BOOTLOADER_OFFSET, { lower: true })}`];
      if (!id.image) {
        readEspImage(digestImageBootloader(data), `The bootloader inside the digest image ${file}`);
      }
      const img = id.image!;
      lines.push(...describeImage(img, digestImageBootloader(data)).filter((l) => !l.startsWith('Appended SHA-256') && !l.startsWith('Secure boot v1 signature')).map((l) => `  ${l}`));
      return { lines, ok: checksumOk(img), identity: id };
    }
    case 'ciphertext':
      throw new UserError('E_IMAGE_CIPHERTEXT', `${file} is not an ESP32 firmware image and looks like ciphertext (no image or table magic, random-looking bytes): if it is encrypted, decrypt it first with \`pycom-secure decrypt-flash-data --keyfile KEY --address ADDR --output PLAIN ${file}\` at the address it is flashed at, then run image-info on the plaintext.`);
    case 'unknown': {
      // The reader's own message says what is wrong with an image; a key is named as one, without
      // a byte of it; anything else is named as unknown.
      if (data[0] === 0xe9) readEspImage(data, `The image ${file}`);
      const keyWhy = keyMaterialIn(file) ?? keyMaterialInBytes(data);
      if (keyWhy) throw new UserError('E_KEY_AS_DATA', `${file} is a key file (${keyWhy}), not a firmware image; pass the image the build wrote (bootloader.bin, partitions.bin or the app's .bin) or a file read back from flash.`);
      throw new UserError('E_IMAGE_MAGIC', `${file} is not an ESP32 firmware image (it is ${id.what}): it starts with ${hex(data[0] ?? 0, { width: 2, lower: true })}, so pass the .bin written by the build (not an .elf) or a file read back from flash.`);
    }
  }
}
