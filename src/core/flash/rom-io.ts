import type { RomLoader } from '../loader/rom-loader';
import { md5 as romMd5, readFlash, writeFlash } from '../loader/flash';
import type { FlashIo } from './writer';

/** The writer's view of B's ROM loader: compressed/plain writes with MD5 verify, MD5, reads. */
export function romFlashIo(loader: RomLoader): FlashIo {
  return {
    async write(address, data, o) {
      await writeFlash(loader, address, data, {
        compress: o.compress,
        verify: true,
        ...(o.signal ? { signal: o.signal } : {}),
        onProgress: (p) => {
          if (p.phase === 'write') o.onBytes?.(Math.min(data.length, p.done));
        },
      });
    },
    md5: (address, length) => romMd5(loader, address, length),
    read: async (address, length) => new Uint8Array(await readFlash(loader, address, length)),
  };
}
