import { strict as assert } from 'node:assert';
import * as net from 'node:net';
import { createHash } from 'node:crypto';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { createMemoryPair } from '../../src/core/transport/memory';
import { TcpTransport } from '../../src/core/transport/tcp';
import type { DeviceEndpoint, Unsubscribe } from '../../src/core/transport/transport';
import { connect, type Connection } from '../../src/core/connect/connect';
import { identify } from '../../src/core/chip/identify';
import { instantSleepClock, realClock } from '../../src/core/loader/clock';
import { CHIP_MAGIC_ESP32, CHIP_MAGIC_REG } from '../../src/core/chip/esp32';
import { isUserError } from '../../src/core/errors';
import { runCli } from '../../src/cli/main';

/** Generous for loaded CI machines; the virtual chip answers at once. */
const SYNC_MS = 2000;

async function memoryConnection(reset: 'none' | 'classic' = 'none', baud = 115200): Promise<{ dev: VirtualEsp32; conn: Connection }> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed: 'loader-test' });
  const { host, device } = createMemoryPair();
  dev.attach(device);
  dev.reset(reset === 'none' ? 'download' : 'normal');
  await host.open();
  // Real sleeps for DTR/RTS resets: the virtual chip samples GPIO0 a little after EN rises.
  const clock = reset === 'classic' ? realClock : instantSleepClock;
  const conn = await connect(host, { reset, baud, clock, syncTimeoutMs: SYNC_MS });
  return { dev, conn };
}

/** A DeviceEndpoint over a TCP socket: no modem lines, like the sim server. */
function socketEndpoint(s: net.Socket): DeviceEndpoint {
  const none = (): Unsubscribe => () => undefined;
  return {
    write: (d) => void s.write(Buffer.from(d)),
    onData: (fn) => {
      s.on('data', fn);
      return () => s.off('data', fn);
    },
    onSignals: none,
    onBaud: none,
    onDataBits: none,
    onClose: (fn) => {
      s.on('close', fn);
      return () => s.off('close', fn);
    },
    close: () => s.destroy(),
  };
}

describe('loader against the virtual ESP32', () => {
  it('connects in download mode and identifies a GPy over the memory pair', async () => {
    const { dev, conn } = await memoryConnection();
    const info = await identify(conn);
    assert.equal(info.chip, 'ESP32');
    assert.equal(info.mac.address, Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':'));
    assert.equal(info.mac.crcOk, true);
    assert.equal(info.crystalMhz, 40);
    assert.ok(info.flash.responding);
    assert.equal(info.flash.sizeBytes, dev.flash.size);
    assert.equal(info.security.flashEncryption.enabled, false);
    assert.equal(info.security.secureBoot.v1Enabled, false);
    assert.equal(info.security.keys.flashEncryption, 'empty');
    conn.loader.dispose();
  });

  it('resets a running board into download mode with DTR/RTS (classic)', async () => {
    const { dev, conn } = await memoryConnection('classic');
    assert.equal(dev.state, 'download');
    assert.equal(await conn.loader.readReg(CHIP_MAGIC_REG), CHIP_MAGIC_ESP32);
    conn.loader.dispose();
  });

  it('reads and writes registers (mask semantics in WRITE_REG)', async () => {
    const { conn } = await memoryConnection();
    const SPI_W1 = 0x3ff42084;
    await conn.loader.writeReg(SPI_W1, 0x12345678);
    assert.equal(await conn.loader.readReg(SPI_W1), 0x12345678);
    await conn.loader.writeReg(SPI_W1, 0x0000ab00, 0x0000ff00);
    assert.equal(await conn.loader.readReg(SPI_W1), 0x1234ab78);
    conn.loader.dispose();
  });

  for (const compress of [true, false]) {
    it(`writes flash ${compress ? 'compressed' : 'plain'} at an unaligned address and verifies by MD5 and read-back`, async () => {
      const { dev, conn } = await memoryConnection();
      await conn.loader.spiAttach(0);
      const data = createHash('sha256').update('x').digest();
      const payload = Buffer.concat(Array.from({ length: 200 }, (_, i) => Buffer.concat([data, Buffer.from([i])])));
      const events: string[] = [];
      const res = await conn.loader.writeFlash(0x10010, payload, { compress, onProgress: (p) => events.push(p.phase) });
      assert.equal(res.address, 0x10000);
      assert.ok(events.includes('write') && events.includes('verify'));
      assert.deepEqual(dev.flash.read(0x10010, payload.length), payload);
      assert.deepEqual(dev.flash.read(0x10000, 16), Buffer.alloc(16, 0xff));
      assert.deepEqual(await conn.loader.readFlash(0x10010, 100), payload.subarray(0, 100));
      assert.equal(await conn.loader.md5(0x10010, payload.length), createHash('md5').update(payload).digest('hex'));
      conn.loader.dispose();
    });
  }

  it('stops between blocks when the AbortSignal fires', async () => {
    const { conn } = await memoryConnection();
    await conn.loader.spiAttach(0);
    const ac = new AbortController();
    await assert.rejects(
      conn.loader.writeFlash(0x20000, Buffer.alloc(8192, 0x5a), {
        compress: false,
        signal: ac.signal,
        onProgress: (p) => {
          if (p.phase === 'write' && p.block === 2) ac.abort();
        },
      }),
      (e: unknown) => isUserError(e) && e.code === 'E_CANCELLED',
    );
    conn.loader.dispose();
  });

  it('switches baud with CHANGE_BAUDRATE and keeps talking', async () => {
    const { dev, conn } = await memoryConnection('none', 921600);
    assert.equal(conn.baud, 921600);
    assert.equal(conn.transport.baud, 921600);
    assert.ok(Math.abs(dev.uartBaud - 921600) / 921600 < 0.03);
    assert.equal(await conn.loader.readReg(CHIP_MAGIC_REG), CHIP_MAGIC_ESP32);
    conn.loader.dispose();
  });

  it('rejects an opcode the ROM does not implement as unsupported, then keeps working', async () => {
    const { conn } = await memoryConnection();
    await assert.rejects(conn.loader.command(0x14, Buffer.alloc(0)), (e: unknown) => isUserError(e) && e.code === 'E_UNSUPPORTED_COMMAND');
    assert.equal(await conn.loader.readReg(CHIP_MAGIC_REG), CHIP_MAGIC_ESP32);
    conn.loader.dispose();
  });

  it('identifies the chip over TCP (socket://)', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'tcp' });
    dev.reset('download');
    const server = net.createServer((s) => dev.attach(socketEndpoint(s)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const t = new TcpTransport(`socket://127.0.0.1:${port}`, '127.0.0.1', port);
    try {
      await t.open();
      const conn = await connect(t, { clock: instantSleepClock, syncTimeoutMs: SYNC_MS });
      assert.equal(conn.strategy, 'none');
      const info = await identify(conn);
      assert.equal(info.mac.crcOk, true);
      conn.loader.dispose();
    } finally {
      await t.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('pycom-secure device info --port socket://… shows the virtual GPy (human and JSON)', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'cli' });
    dev.reset('download');
    const server = net.createServer((s) => dev.attach(socketEndpoint(s)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `socket://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    try {
      const out: string[] = [];
      const err: string[] = [];
      const io = { out: (l: string) => void out.push(l), err: (l: string) => void err.push(l) };
      assert.equal(await runCli(['device', 'info', '--port', url], io), 0, err.join('\n'));
      assert.match(out.join('\n'), /Chip: +ESP32-/);
      assert.match(out.join('\n'), /Flash encryption: off/);
      out.length = 0;
      assert.equal(await runCli(['device', 'info', '--port', url, '--json'], io), 0, err.join('\n'));
      const j = JSON.parse(out.join('\n')) as { chip: string; security: { secureBoot: { v1Enabled: boolean } } };
      assert.equal(j.chip, 'ESP32');
      assert.equal(j.security.secureBoot.v1Enabled, false);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      server.unref();
    }
  });
});
