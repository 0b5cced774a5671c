import { type EspImage, checksumOk, hashOk } from './esp-image';
import { hex } from '../util/hex';

const FLASH_MODES = ['QIO', 'QOUT', 'DIO', 'DOUT'];
const FLASH_SIZES = ['1MB', '2MB', '4MB', '8MB', '16MB', '32MB', '64MB', '128MB'];
const FLASH_FREQS: Record<number, string> = { 0x0: '40MHz', 0x1: '26MHz', 0x2: '20MHz', 0xf: '80MHz' };

/** Human-readable summary lines for `image-info` (no key material can be in an image header). */
export function describeImage(img: EspImage, fileLength: number): string[] {
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
  if (img.signatureBlockPresent) lines.push('Secure boot v1 signature block: present (68 bytes, version 0); check it with verify-signature');
  else if (img.trailingBytes > 0) lines.push(`Secure boot v1 signature block: absent (${img.trailingBytes} unexpected bytes after the image)`);
  else lines.push('Secure boot v1 signature block: absent');
  return lines;
}
