import { strict as assert } from 'node:assert';
import { Op, SYNC_PAYLOAD } from '../../src/core/rom/opcodes';
import { words } from '../../src/core/rom/packet';
import { memoryBoard, status } from './virtual-harness';

/**
 * Issue 7, seed issue7-e (timed Burn Keys at 921600 baud): a corrupted host→device byte turned a
 * WRITE_REG's delay_us into 0xC8000000 µs (~56 min). WRITE_REG has no checksum, so the chip
 * honestly sleeps; but a reset (EN pulse, GPIO0 low) must abort that on a real ESP32 and bring
 * the ROM loader back. The model kept the WRITE_REG reply waiting in its transmit queue and
 * queued the boot log and every later reply behind it, so the rerun got no data at all.
 */
const HUGE_DELAY_US = 0xc8000000;
const UART_DATE = 0x60000078; // accepts writes and ignores them: the register esptool writes as a delay

describe('virtual ESP32: a reset aborts pending work (timing model on)', () => {
  it('a WRITE_REG with a huge delay_us is silent until a reset; after reset the loader answers', async function () {
    this.timeout(5000);
    const { dev, client } = await memoryBoard({ timing: true });
    const before = client.frames.length;
    await client.send(Op.WRITE_REG, words(UART_DATE, 0, 0, HUGE_DELAY_US));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(client.frames.length, before, 'the chip is still busy in the delay (no reply yet)');

    client.noise = '';
    dev.reset('download');
    await client.waitFor(() => client.noise.includes('waiting for download'), 1000);
    const r = await client.command(Op.SYNC, SYNC_PAYLOAD, { n: 8 });
    assert.equal(r.length, 8);
    for (const x of r) assert.deepEqual(status(x), [0, 0]);
    const magic = await client.one(Op.READ_REG, words(0x40001000));
    assert.equal(magic.value, 0x00f01d83);
    // The aborted WRITE_REG never answers later either.
    await new Promise((r2) => setTimeout(r2, 50));
    assert.equal(client.frames.filter((f) => f[1] === Op.WRITE_REG).length, 0);
  });

  it('the same through the DTR/RTS reset lines (EN pulse with GPIO0 low), as a rerun does', async function () {
    this.timeout(5000);
    const { dev, client } = await memoryBoard({ timing: true });
    await client.send(Op.WRITE_REG, words(UART_DATE, 0, 0, HUGE_DELAY_US));
    await new Promise((r) => setTimeout(r, 50));
    client.noise = '';
    const t = client.transport;
    await t.setSignals({ dtr: false, rts: true }); // EN low
    await new Promise((r) => setTimeout(r, 20));
    await t.setSignals({ dtr: true, rts: false }); // EN released, GPIO0 low
    await new Promise((r) => setTimeout(r, 20));
    await t.setSignals({ dtr: false });
    await client.waitFor(() => client.noise.includes('waiting for download'), 1000);
    assert.equal(dev.state, 'download');
    const r = await client.command(Op.SYNC, SYNC_PAYLOAD, { n: 8 });
    assert.equal(r.length, 8);
  });

  it('power loss then reset: nothing from before the loss is sent, the loader answers', async function () {
    this.timeout(5000);
    const { dev, client } = await memoryBoard({ timing: true });
    await client.send(Op.WRITE_REG, words(UART_DATE, 0, 0, HUGE_DELAY_US));
    await new Promise((r) => setTimeout(r, 50));
    dev.powerOff();
    client.noise = '';
    dev.reset('download');
    await client.waitFor(() => client.noise.includes('waiting for download'), 1000);
    assert.equal((await client.command(Op.SYNC, SYNC_PAYLOAD, { n: 8 })).length, 8);
  });
});
