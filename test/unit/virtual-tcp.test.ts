import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { Op, SYNC_PAYLOAD } from '../../src/core/rom/opcodes';
import { decodeResponse, encodeRequest, words, type Response } from '../../src/core/rom/packet';
import { SlipDecoder, slipEncode } from '../../src/core/rom/slip';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';

class TcpClient {
  text = '';
  frames: Response[] = [];
  closed = false;
  private readonly dec = new SlipDecoder();
  constructor(readonly sock: net.Socket) {
    sock.on('data', (c: Buffer) => {
      for (const ev of this.dec.push(c)) {
        if (ev.kind === 'frame') this.frames.push(decodeResponse(ev.data)!);
        else if (ev.kind === 'noise') this.text += ev.data.toString('latin1');
      }
      this.text += this.dec.peekNoise().toString('latin1');
      this.dec.reset();
    });
    sock.on('close', () => {
      this.closed = true;
    });
  }
  static connect(port: number): Promise<TcpClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1', () => resolve(new TcpClient(s)));
      s.on('error', reject);
    });
  }
  async until(pred: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(pred(), `condition not met; text=${JSON.stringify(this.text)} frames=${this.frames.length}`);
  }
  async cmd(op: number, data: Uint8Array, n = 1): Promise<Response[]> {
    const start = this.frames.length;
    this.sock.write(slipEncode(encodeRequest(op, data)));
    await this.until(() => this.frames.length >= start + n);
    return this.frames.slice(start, start + n);
  }
  end(): Promise<void> {
    return new Promise((r) => {
      this.sock.once('close', () => r());
      this.sock.end();
    });
  }
}

describe('virtual board over TCP', () => {
  let server: SimServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('serves clients one after another, printing the boot log each time and keeping board state', async () => {
    const dev = new VirtualEsp32({ profile: 'LOPY' });
    let disconnects = 0;
    server = await startSimServer(dev, { port: 0, onDisconnect: () => disconnects++ });
    assert.ok(server.port > 0);

    const a = await TcpClient.connect(server.port);
    await a.until(() => a.text.includes('waiting for download'));
    assert.match(a.text, /boot:0x3 \(DOWNLOAD_BOOT/);
    const sync = await a.cmd(Op.SYNC, SYNC_PAYLOAD, 8);
    assert.equal(sync.length, 8);
    assert.equal((await a.cmd(Op.READ_REG, words(0x40001000)))[0]!.value, 0x00f01d83);
    await a.cmd(Op.SPI_ATTACH, words(0, 0));
    dev.flash.program(0x8000, Buffer.from('partition table'));
    // a second client while the first is connected is refused
    const b = await TcpClient.connect(server.port);
    await b.until(() => b.closed);
    await a.end();
    await a.until(() => disconnects === 1);

    const c = await TcpClient.connect(server.port);
    await c.until(() => c.text.includes('waiting for download'));
    await c.cmd(Op.SPI_ATTACH, words(0, 0));
    const r = (await c.cmd(Op.READ_FLASH_SLOW, words(0x8000, 15)))[0]!;
    assert.equal(r.data.subarray(0, 15).toString('latin1'), 'partition table');
    await c.end();
    await c.until(() => disconnects === 2);
  });
});
