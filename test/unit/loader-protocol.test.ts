import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { createMemoryPair } from '../../src/core/transport/memory';
import { RomLoader } from '../../src/core/loader/rom-loader';
import { FrameReader, ReadFailure } from '../../src/core/loader/frame-reader';
import { decodeRequest, encodeResponse, decodeResponse } from '../../src/core/rom/packet';
import { SlipDecoder, slipEncode } from '../../src/core/rom/slip';
import { Op } from '../../src/core/rom/opcodes';
import { instantSleepClock } from '../../src/core/loader/clock';
import { isUserError } from '../../src/core/errors';
import type { Transport } from '../../src/core/transport/transport';
import { readEfuses } from '../../src/core/efuse/access';
import { CMD_PGM, EFUSE_BASE, EFUSE_CMD, EFUSE_END, rdataAddr } from '../../src/core/efuse/registers';

const OK = Buffer.from([0, 0, 0, 0]);

/**
 * A scripted ROM: `answer` returns raw bytes to send for each decoded request (`frame` is the whole
 * request, header included). `later`: each reply is sent a turn later, as a real link takes a while.
 */
async function scripted(answer: (op: number, data: Buffer, n: number, frame: Buffer) => Buffer | undefined, opts: { later?: boolean } = {}): Promise<{ loader: RomLoader; host: Transport }> {
  const { host, device } = createMemoryPair();
  const dec = new SlipDecoder();
  let n = 0;
  device.onData((chunk) => {
    for (const ev of dec.push(chunk)) {
      if (ev.kind !== 'frame') continue;
      const req = decodeRequest(ev.data);
      if ('error' in req) continue;
      const out = answer(req.op, req.data, n++, ev.data);
      if (out && opts.later) setImmediate(() => device.write(out));
      else if (out) device.write(out);
    }
  });
  await host.open();
  return { loader: new RomLoader(host, { clock: instantSleepClock }), host };
}

const reply = (op: number, value: number, data: Buffer = OK): Buffer => slipEncode(encodeResponse(op, value, data));

function code(c: string, re?: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(isUserError(e), String(e));
    assert.equal(e.code, c, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}

describe('ROM loader client (scripted device)', () => {
  it('skips stale replies and short/foreign frames before the matching one', async () => {
    const { loader } = await scripted((op) =>
      Buffer.concat([reply(Op.SYNC, 1), slipEncode(Buffer.from([1, 2])), slipEncode(Buffer.from('hello')), reply(op, 0xdeadbeef)]),
    );
    assert.equal(await loader.readReg(0x40001000), 0xdeadbeef);
  });

  it('maps ROM status codes to their plain text', async () => {
    const { loader } = await scripted((op) => reply(op, 0, Buffer.from([1, 0x08, 0, 0])));
    await assert.rejects(loader.writeReg(0x3ff42080, 1), code('E_ROM_ERROR', /flash write failed/));
  });

  it('bad checksum reply (01 07) on a plain flash block is retried, then reported', async () => {
    let dataTries = 0;
    const { loader } = await scripted((op) => {
      if (op === Op.FLASH_DATA) {
        dataTries++;
        return reply(op, 0, Buffer.from([1, 0x07, 0, 0]));
      }
      return reply(op, 0);
    });
    await assert.rejects(loader.writeFlash(0x1000, Buffer.alloc(16, 1), { compress: false, verify: false }), code('E_ROM_ERROR', /checksum/));
    assert.equal(dataTries, 3);
  });


  it('the next block goes out on the OK reply to the one before: never after a rejected block, never once the write is cancelled', async () => {
    const seen: number[] = [];
    let rejectedOnce = false;
    const ctl = new AbortController();
    const { loader } = await scripted((op, data) => {
      if (op !== Op.FLASH_DATA) return reply(op, 0);
      const seq = data.readUInt32LE(4);
      seen.push(seq);
      if (seq === 1 && !rejectedOnce) {
        rejectedOnce = true;
        return reply(op, 0, Buffer.from([1, 0x07, 0, 0])); // bad checksum: block 1 again, not block 2
      }
      if (seq === 3) ctl.abort(); // cancelled while block 3 is on the board: its OK reply sends nothing
      return reply(op, 0);
    }, { later: true }); // a reply takes a while, as on a real link
    await assert.rejects(loader.writeFlash(0x10000, Buffer.alloc(6 * 1024, 0x5a), { compress: false, verify: false, signal: ctl.signal }), (e: unknown) => isUserError(e));
    await new Promise((r) => setImmediate(r)); // anything sent on block 3's reply would have arrived by now
    assert.deepEqual(seen, [0, 1, 1, 2, 3]);
  });

  it('a link that delivers some replies within the write: each reply still goes to its own block', async () => {
    const seen: number[] = [];
    let rejectedOnce = false;
    const listeners: Array<(b: Buffer) => void> = [];
    const dec = new SlipDecoder();
    const link: Transport = {
      url: 'sync:test', isOpen: true, baud: 115200, capabilities: { modemLines: false, dataBits: false, baud: false },
      open: async () => undefined, close: async () => undefined, flushInput: async () => undefined, setBaud: async () => undefined,
      setSignals: async () => undefined, setDataBits: async () => undefined, onClose: () => () => undefined,
      onData: (l) => {
        listeners.push(l);
        return () => undefined;
      },
      write: (data) => {
        for (const ev of dec.push(Buffer.from(data))) {
          if (ev.kind !== 'frame') continue;
          const req = decodeRequest(ev.data);
          if ('error' in req) continue;
          let out = reply(req.op, 0);
          let now = false;
          if (req.op === Op.FLASH_DATA) {
            const seq = req.data.readUInt32LE(4);
            seen.push(seq);
            now = seq % 2 === 1; // odd blocks are answered before write returns, even ones later
            if (seq === 1 && !rejectedOnce) {
              rejectedOnce = true;
              out = reply(req.op, 0, Buffer.from([1, 0x07, 0, 0]));
            }
          }
          if (now) for (const l of listeners) l(out);
          else setImmediate(() => listeners.forEach((l) => l(out)));
        }
        return Promise.resolve();
      },
    };
    const loader = new RomLoader(link, { clock: instantSleepClock });
    await loader.writeFlash(0x10000, Buffer.alloc(4 * 1024, 0x5a), { compress: false, verify: false });
    // Block 1's rejection is answered by sending block 1 again, not block 0 (it never was block 0's reply).
    assert.deepEqual(seen, [0, 1, 1, 2, 3]);
  });

  it('a block encoded ahead of its turn is sent only for that block: another block, seq or command is encoded afresh', async () => {
    const sent: Array<{ op: number; seq: number; first: number; chk: number }> = [];
    const { loader } = await scripted((op, data, _n, frame) => {
      sent.push({ op, seq: data.readUInt32LE(4), first: data[16]!, chk: frame.readUInt32LE(4) });
      return reply(op, 0);
    });
    const block = (x: number): Buffer => Buffer.concat([Buffer.from([x]), Buffer.alloc(1023)]);
    const a = block(0x11);
    const b = block(0x22);
    const c = block(0x33);
    await loader.flashData(a, 0, 3000, b);
    await loader.flashData(c, 1); // not the block announced as next
    await loader.flashData(a, 1, 3000, b);
    await loader.flashDeflData(b, 2); // b was announced for FLASH_DATA seq 2, not FLASH_DEFL_DATA
    await loader.flashData(a, 0, 3000, b);
    await loader.flashData(b, 1); // the announced block: its prepared frame
    assert.deepEqual(
      sent.map((s) => [s.op, s.seq, s.first]),
      [
        [Op.FLASH_DATA, 0, 0x11],
        [Op.FLASH_DATA, 1, 0x33],
        [Op.FLASH_DATA, 1, 0x11],
        [Op.FLASH_DEFL_DATA, 2, 0x22],
        [Op.FLASH_DATA, 0, 0x11],
        [Op.FLASH_DATA, 1, 0x22],
      ],
    );
    // Each frame's checksum is the one of the data it carries (seed 0xEF XOR the one non-zero byte).
    assert.deepEqual(sent.map((s) => s.chk), sent.map((s) => 0xef ^ s.first));
  });
  it('an unsupported-command frame (other opcode, 01 05) raises unsupported', async () => {
    const { loader } = await scripted(() => reply(0x00, 0, Buffer.from([1, 0x05, 0, 0])));
    await assert.rejects(loader.command(0xd4, Buffer.alloc(16)), code('E_UNSUPPORTED_COMMAND', /0xd4|stub/));
  });

  it('no data at all vs a reply that stops mid-frame', async () => {
    const silent = await scripted(() => undefined);
    await assert.rejects(silent.loader.command(Op.READ_REG, Buffer.alloc(4), 0, 50), code('E_NO_DATA'));
    const partial = await scripted((op) => reply(op, 1).subarray(0, 6));
    await assert.rejects(partial.loader.command(Op.READ_REG, Buffer.alloc(4), 0, 50), code('E_TIMEOUT_MID_FRAME', /stopped half-way/));
  });

  it('a reply too short for its status is malformed', async () => {
    const { loader } = await scripted((op) => reply(op, 0, Buffer.alloc(0)));
    await assert.rejects(loader.readReg(0), code('E_BAD_REPLY'));
  });

  it('MD5 reply: 32 hex chars before the status', async () => {
    const { loader } = await scripted((op) => reply(op, 0, Buffer.concat([Buffer.from('0123456789abcdef0123456789abcdef'), OK])));
    assert.equal(await loader.md5(0, 4096), '0123456789abcdef0123456789abcdef');
  });

  it('CHANGE_BAUDRATE sends the crystal-estimate pre-distorted rate (as esptool does)', async () => {
    let sent = -1;
    const { loader, host } = await scripted((op, data) => {
      if (op === Op.READ_REG) {
        const addr = data.readUInt32LE(0);
        return reply(op, addr === 0x3ff5f06c ? 2008 << 7 : addr === 0x3ff5a010 ? 0x33 : 0);
      }
      if (op === Op.CHANGE_BAUDRATE) sent = data.readUInt32LE(0);
      return reply(op, 0);
    });
    await loader.changeBaud(921600);
    const romXtal = (2008 * 15625 * 0x33) / 40;
    assert.equal(sent, Math.floor((921600 * romXtal) / 40e6));
    assert.equal(host.baud, 921600);
  });
});

describe('frame reader and reply parser under random input', () => {
  it('never throws, never grows without bound, and always settles', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 30 }), async (chunks) => {
        const { host } = createMemoryPair();
        const r = new FrameReader(host, { clock: instantSleepClock, maxQueued: 8, maxNoiseKept: 256 });
        for (const c of chunks) r.push(Buffer.from(c));
        assert.ok(r.noise().length <= 256 + 4096);
        for (let i = 0; i < 10; i++) {
          try {
            const f = await r.readFrame(1);
            decodeResponse(f); // must not throw
          } catch (e) {
            assert.ok(e instanceof ReadFailure);
            break;
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('adversarial: valid replies interleaved with garbage are all recovered', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.uint8Array({ maxLength: 40 }), fc.integer({ min: 0, max: 0xffffffff })), { minLength: 1, maxLength: 20 }), (parts) => {
        const { host } = createMemoryPair();
        const r = new FrameReader(host, { clock: instantSleepClock, maxQueued: 1000 });
        const values: number[] = [];
        for (const [junk, v] of parts) {
          // Printable garbage (boot-log-like text) between frames; each reply must survive it.
          r.push(Buffer.from(junk.map((b) => 0x20 + (b % 0x5f))));
          r.push(reply(Op.READ_REG, v));
          values.push(v);
        }
        const got: number[] = [];
        let f: Buffer | undefined;
        const q = (r as unknown as { queue: Buffer[] }).queue;
        while ((f = q.shift())) {
          const resp = decodeResponse(f);
          if (resp) got.push(resp.value);
        }
        assert.deepEqual(got, values);
      }),
      { numRuns: 200 },
    );
  });
});

describe('eFuse snapshots on one loader session', () => {
  /** A ROM whose eFuse read windows hold `value(addr)`; counts READ_REGs of the eFuse controller. */
  async function efuseRom(value: (addr: number) => number) {
    const reads: number[] = [];
    const { loader } = await scripted((op, data) => {
      const addr = data.readUInt32LE(0);
      if (op === Op.READ_REG) {
        if (addr >= EFUSE_BASE && addr <= EFUSE_END) reads.push(addr);
        return reply(op, value(addr));
      }
      return reply(op, 0);
    });
    return { loader, reads };
  }

  it('reads the 32 registers once while nothing could have changed them, and again after anything that could', async () => {
    let burned = 0;
    const { loader, reads } = await efuseRom((a) => (a === rdataAddr(0, 6) ? burned : 0x11));
    const first = await readEfuses(loader);
    assert.equal(reads.length, 32);
    first.words[0]![6] = 0xdead; // a caller changing its copy changes nothing for the next one
    await loader.readReg(0x3ff42000); // reads, SPI attach and flash writes leave the eFuses alone
    await loader.spiAttach(0);
    await loader.writeReg(0x3ff42000, 1); // a WRITE_REG outside the eFuse controller too
    assert.deepEqual((await readEfuses(loader)).words[0]![6], 0);
    assert.equal(reads.length, 32, 'answered from the snapshot');
    // Programming: WRITE_REG into the controller (EFUSE_CMD) -> read again, and see the new bits.
    burned = 0x80;
    await loader.writeReg(EFUSE_CMD, CMD_PGM);
    assert.equal((await readEfuses(loader)).words[0]![6], 0x80);
    assert.equal(reads.length, 64);
    // A SYNC (a reset, maybe another board) -> read again.
    await loader.sync();
    await readEfuses(loader);
    assert.equal(reads.length, 96);
  });
});
