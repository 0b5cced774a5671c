import { strict as assert } from 'node:assert';
import { flashIdFromW0 } from '../../src/core/chip/flash-id';
import { runCli } from '../../src/cli/main';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';

/**
 * Issue 13 point 6: the flash id in JEDEC order. SPI1 W0 holds the RDID bytes first byte lowest
 * (a W25Q64 reads 0x1740ef); esptool prints "Manufacturer: ef" and "Device: 4017", and so must
 * `device info` (text and --json). The product used to give device 0x1740.
 */
describe('flash id in JEDEC order', () => {
  it('turns the W0 register into esptool\'s manufacturer and device', () => {
    const w25q64 = flashIdFromW0(0x1740ef);
    assert.deepEqual(
      [w25q64.id, w25q64.manufacturer, w25q64.device, w25q64.manufacturerHex, w25q64.deviceHex, w25q64.sizeBytes, w25q64.responding],
      [0xef4017, 0xef, 0x4017, 'ef', '4017', 8 << 20, true],
    );
    const gd4mb = flashIdFromW0(0xff1640c8); // bits above 23 are not part of the answer
    assert.deepEqual([gd4mb.id, gd4mb.device, gd4mb.deviceHex, gd4mb.sizeBytes], [0xc84016, 0x4016, '4016', 4 << 20]);
    for (const none of [0xffffff, 0, 0xffff3f]) assert.equal(flashIdFromW0(none).responding, false, none.toString(16));
    assert.equal(flashIdFromW0(0x9940ef).sizeBytes, undefined);
  });

  it('device info shows it that way, in the text and in --json', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'flash-id' });
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const port = `socket://127.0.0.1:${server.port}`;
      const run = async (argv: string[]): Promise<string> => {
        let out = '';
        const code = await runCli(argv, { out: (l) => (out += l + '\n'), err: () => undefined });
        assert.equal(code, 0);
        return out;
      };
      // The virtual flash answers C8 40 17 (W0 = 0x1740c8).
      assert.equal(dev.flash.jedecId, 0x1740c8);
      const text = await run(['device', 'info', '--port', port]);
      assert.match(text, /^Flash: +manufacturer c8, device 4017, 8MB$/m);
      const json = JSON.parse(await run(['device', 'info', '--port', port, '--json'])) as { flash: Record<string, unknown> };
      assert.deepEqual(
        [json.flash['id'], json.flash['manufacturer'], json.flash['device'], json.flash['manufacturerHex'], json.flash['deviceHex'], json.flash['sizeText']],
        [0xc84017, 0xc8, 0x4017, 'c8', '4017', '8MB'],
      );
    } finally {
      await server.close();
    }
  });
});
