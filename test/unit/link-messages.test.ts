import { strict as assert } from 'node:assert';
import type { ModemSignals, Transport, TransportCapabilities, Unsubscribe } from '../../src/core/transport/transport';
import { Listeners } from '../../src/core/transport/listeners';
import { connect } from '../../src/core/connect/connect';
import { RomLoader } from '../../src/core/loader/rom-loader';
import { instantSleepClock } from '../../src/core/loader/clock';
import { slipEncode } from '../../src/core/rom/slip';
import { decodeRequest, encodeResponse } from '../../src/core/rom/packet';
import { Op } from '../../src/core/rom/opcodes';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { withBoard, scriptedUi } from '../../src/core';

/** A "device" scripted per written frame. */
class ScriptedTransport implements Transport {
  readonly url = '/dev/ttyFAKE1';
  readonly capabilities: TransportCapabilities = { modemLines: false, dataBits: false, baud: true };
  isOpen = true;
  baud = 115200;
  private readonly data = new Listeners<[Buffer]>();
  private readonly closed = new Listeners<[Error | undefined]>();
  constructor(private readonly respond: (written: Buffer) => Buffer | undefined) {}
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async write(d: Uint8Array): Promise<void> {
    const reply = this.respond(Buffer.from(d));
    if (reply) setImmediate(() => this.data.emit(reply));
  }
  onData(fn: (c: Buffer) => void): Unsubscribe {
    return this.data.add(fn);
  }
  onClose(fn: (e?: Error) => void): Unsubscribe {
    return this.closed.add(fn);
  }
  async flushInput(): Promise<void> {}
  async setBaud(b: number): Promise<void> {
    this.baud = b;
  }
  async setSignals(_s: ModemSignals): Promise<void> {}
  async setDataBits(): Promise<void> {}
}

/** The request inside a written SLIP frame (no escapes in the small test requests). */
function request(written: Buffer): { op: number } | undefined {
  const inner = written.subarray(1, written.length - 1);
  const r = decodeRequest(inner);
  return 'error' in r ? undefined : r;
}

const loaderOn = (respond: (w: Buffer) => Buffer | undefined): RomLoader => new RomLoader(new ScriptedTransport(respond), { clock: instantSleepClock });

/**
 * Issue 18 point 8: link messages say what was actually received (hex, truncated) instead of
 * guessing: a wrong opcode or an echoed request, a flood of 0xC0, a busy virtual board, a reply
 * whose length field disagrees with its payload.
 */
describe('link messages say what was received', function () {
  this.timeout(30_000);

  it('a request echoed back (loopback): "an echo of the READ_REG request itself", with the bytes, not "sent nothing back"', async () => {
    const loader = loaderOn((w) => w); // every byte comes straight back
    await assert.rejects(loader.readReg(0x3ff5a000), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_WRONG_REPLY');
      assert.match(e.message, /^The device on \/dev\/ttyFAKE1 answered READ_REG with frames that are not its reply \(received 1 frame: an echo of the READ_REG request itself \(a loopback, or TX wired to RX\); the first was 00 0a 04 00 00 00 00 00 00 a0 f5 3f \(12 bytes\)\)/);
      assert.doesNotMatch(e.message, /sent nothing back/);
      return true;
    });
    loader.dispose();
  });

  it('a reply with the wrong opcode names the opcode it was for', async () => {
    const loader = loaderOn((w) => (request(w) ? slipEncode(encodeResponse(Op.SPI_ATTACH, 0, Buffer.from([0, 0]))) : undefined));
    await assert.rejects(loader.readReg(0x3ff5a000), /answered READ_REG with frames that are not its reply \(received 1 frame: a reply for SPI_ATTACH instead of READ_REG; the first was 01 0d 02 00 00 00 00 00 00 00 \(10 bytes\)\)/);
    loader.dispose();
  });

  it('a flood of 0xC0 is shown as such, with the bytes', async () => {
    const loader = loaderOn(() => Buffer.alloc(300, 0xc0));
    await assert.rejects(loader.readReg(0x3ff5a000), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_NOISE');
      assert.match(e.message, /answered, but not with ROM-loader replies \(only 0xC0 frame delimiters: c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 … \(300 bytes\)\)/);
      return true;
    });
    loader.dispose();
  });

  it('a reply whose length field disagrees with its payload is refused, not taken', async () => {
    const lying = (w: Buffer): Buffer | undefined => {
      if (!request(w)) return undefined;
      const frame = encodeResponse(Op.READ_REG, 0x12345678, Buffer.from([0, 0]));
      frame.writeUInt16LE(60000, 2);
      return slipEncode(frame);
    };
    const loader = loaderOn(lying);
    await assert.rejects(loader.readReg(0x3ff5a000), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_BAD_REPLY');
      assert.match(e.message, /sent a malformed reply to READ_REG \(its length field says 60000 data bytes but it carries 2: 01 0a 60 ea 78 56 34 12 00 00 \(10 bytes\)\)/);
      return true;
    });
    loader.dispose();
  });

  it('a second client on a busy virtual board is told the board is busy, not that it was unplugged', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'busy' });
    const server = await startSimServer(dev, { port: 0 });
    const url = `socket://127.0.0.1:${server.port}`;
    try {
      await withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), async () => {
        await assert.rejects(withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), async () => undefined), (e: Error & { code?: string }) => {
          assert.equal(e.code, 'E_BOARD_BUSY', e.message);
          assert.equal(e.message, `The virtual board on ${url} is busy: another client is connected to it (it said "pycom-secure sim serve: busy, another client is connected"); close that program or wait for it to finish, then try again.`);
          return true;
        });
      });
    } finally {
      await server.close();
    }
  });

  it('connect() passes these on (an echoing adapter is not "not in download mode")', async () => {
    const t = new ScriptedTransport((w) => w);
    await assert.rejects(connect(t, { reset: 'none', baud: 115200, clock: instantSleepClock, syncTimeoutMs: 50 }), (e: Error) => {
      assert.doesNotMatch(e.message, /sent nothing back/);
      assert.match(e.message, /echo of the SYNC request itself/);
      return true;
    });
  });
});
