import { strict as assert } from 'node:assert';
import { Op, SYNC_PAYLOAD } from '../../src/core/rom/opcodes';
import { words } from '../../src/core/rom/packet';
import { memoryBoard, status } from './virtual-harness';

describe('virtual ESP32 ROM loader: basics', () => {
  it('prints the download-mode boot log on reset', async () => {
    const { client } = await memoryBoard({ profile: 'GPY' });
    assert.match(client.noise, /ets Jun {2}8 2016 00:22:57\r\n\r\nrst:0x1 \(POWERON_RESET\),boot:0x3 \(DOWNLOAD_BOOT\(UART0\/UART1\/SDIO_REI_REO_V2\)\)\r\nwaiting for download/);
  });

  it('answers SYNC eight times with a non-zero value', async () => {
    const { client } = await memoryBoard();
    const r = await client.command(Op.SYNC, SYNC_PAYLOAD, { n: 8 });
    assert.equal(r.length, 8);
    for (const x of r) {
      assert.equal(x.op, Op.SYNC);
      assert.notEqual(x.value, 0);
      assert.deepEqual([...x.data], [0, 0, 0, 0]);
    }
  });

  it('READ_REG returns the chip magic, later replies carry the stale value', async () => {
    const { client } = await memoryBoard();
    const r = await client.one(Op.READ_REG, words(0x40001000));
    assert.equal(r.value, 0x00f01d83);
    assert.deepEqual(status(r), [0, 0]);
    const a = await client.one(Op.SPI_ATTACH, words(0, 0));
    assert.equal(a.value, 0x00f01d83);
  });
});
