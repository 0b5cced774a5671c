/**
 * The benchmark's peer: Espressif's esptool-js (a dev dependency, also used by the interop test)
 * doing the same work as `pycom-secure flash` on a `sim serve` board, as one process, ROM loader
 * only (no stub: the virtual chip runs no uploaded code), as esptool does with --no-stub:
 * connect without reset, CHANGE_BAUDRATE, SPI_ATTACH, write each file compressed (esptool-js's
 * ROM path is FLASH_DEFL_*) and verify it by SPI_FLASH_MD5.
 *
 *   node peer.js socket://127.0.0.1:PORT BAUD ADDR FILE [ADDR FILE ...]
 *
 * Bundled to plain JavaScript by bench/cli-flash.bench.ts, so process start costs what a built
 * CLI's does. Workarounds for esptool-js's ROM-mode deviations are the interop test's (SPI_ATTACH
 * with 8 bytes; its ROM MD5 answer is the hex of the ASCII digest).
 */
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { ESPLoader, Transport as EspTransport } from 'esptool-js';
import { TcpTransport, parseSocketUrl } from '../src/core/transport/tcp';
import { WebSerialAdapter } from '../test/unit/helpers/web-serial-adapter';

class QuietTransport extends EspTransport {
  override trace(): void {}
}

async function main(): Promise<void> {
  const [url, baudText, ...pairs] = process.argv.slice(2);
  const target = parseSocketUrl(url ?? '');
  if (!target || !baudText || pairs.length === 0 || pairs.length % 2) throw new Error('usage: peer socket://HOST:PORT BAUD ADDR FILE ...');
  const link = new TcpTransport(url!, target.host, target.port);
  await link.open();
  const adapter = new WebSerialAdapter(link);
  const transport = new QuietTransport(adapter as unknown as ConstructorParameters<typeof EspTransport>[0], false);
  const terminal = { clean: () => {}, writeLine: () => {}, write: () => {} };
  const baud = Number(baudText);
  const loader = new ESPLoader({ transport, baudrate: baud, romBaudrate: 115200, terminal });
  await loader.connect('no_reset', 7, true);
  if (baud !== 115200) await loader.changeBaud();
  const w = Buffer.alloc(8);
  await loader.checkCommand('configure SPI flash pins', loader.ESP_SPI_ATTACH, new Uint8Array(w));
  const fileArray: Array<{ data: Uint8Array; address: number }> = [];
  for (let i = 0; i < pairs.length; i += 2) fileArray.push({ address: Number(pairs[i]), data: new Uint8Array(fs.readFileSync(pairs[i + 1]!)) });
  await loader.writeFlash({
    fileArray, flashMode: 'keep', flashFreq: 'keep', flashSize: 'keep', eraseAll: false, compress: true,
    reportProgress: () => undefined,
    calculateMD5Hash: (image: Uint8Array) => Buffer.from(createHash('md5').update(image).digest('hex'), 'latin1').toString('hex'),
  });
  await transport.disconnect().catch(() => undefined);
  await link.close();
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
