import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { Op, RomError, SYNC_PAYLOAD } from '../../src/core/rom/opcodes';
import { decodeResponse, encodeRequest, words } from '../../src/core/rom/packet';
import { slipEncode } from '../../src/core/rom/slip';
import { connect } from '../../src/core/connect/connect';
import { isUserError } from '../../src/core/errors';
import { instantSleepClock } from '../../src/core/loader/clock';
import { createMemoryPair } from '../../src/core/transport/memory';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { dataBlock, memoryBoard, status } from './virtual-harness';

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

const SPI1 = 0x3ff42000;

describe('virtual ESP32 ROM loader: registers and flash', () => {
  it('WRITE_REG applies masks (read-modify-write) and full-mask stores', async () => {
    const { client } = await memoryBoard();
    const a = 0x3ffe0000;
    assert.deepEqual(status(await client.one(Op.WRITE_REG, words(a, 0x12345678, 0xffffffff, 0))), [0, 0]);
    await client.one(Op.WRITE_REG, words(a, 0x0000ab00, 0x0000ff00, 0));
    assert.equal((await client.one(Op.READ_REG, words(a))).value, 0x1234ab78);
    // two tuples in one command
    await client.one(Op.WRITE_REG, words(a, 0, 0xffffffff, 0, 0x60000078, 0, 0, 10));
    assert.equal((await client.one(Op.READ_REG, words(a))).value, 0);
    assert.deepEqual(status(await client.one(Op.WRITE_REG, Buffer.alloc(12))), [1, RomError.INVALID_MESSAGE]);
  });

  it('invents no state at addresses without a model (read 0, writes dropped, recorded); SRAM stays RAM', async () => {
    const { dev, client } = await memoryBoard();
    const rtcCntlOptions0 = 0x3ff48000; // a real peripheral register the model does not know
    assert.deepEqual(status(await client.one(Op.WRITE_REG, words(rtcCntlOptions0, 0xdeadbeef, 0xffffffff, 0))), [0, 0]);
    assert.equal((await client.one(Op.READ_REG, words(rtcCntlOptions0))).value, 0);
    assert.equal((await client.one(Op.READ_REG, words(0x3f400000))).value, 0, 'flash cache window: never plaintext');
    assert.deepEqual([...dev.registers.unmodelled].sort(), [0x3f400000, rtcCntlOptions0]);
    // internal SRAM (where a stub goes) is RAM
    await client.one(Op.WRITE_REG, words(0x400be000, 0xcafef00d, 0xffffffff, 0));
    assert.equal((await client.one(Op.READ_REG, words(0x400be000))).value, 0xcafef00d);
    assert.equal(dev.registers.unmodelled.size, 2);
  });

  it('answers the identity registers esptool reads', async () => {
    const { client } = await memoryBoard({ profile: 'LOPY4' });
    assert.equal((await client.one(Op.READ_REG, words(0x3ff44038))).value, 0x03);
    assert.equal((await client.one(Op.READ_REG, words(0x3ff40014))).value & 0xfffff, 347);
    const cali = ((await client.one(Op.READ_REG, words(0x3ff5f06c))).value >>> 7) & 0x1ffffff;
    const ck8m = (await client.one(Op.READ_REG, words(0x3ff5a010))).value & 0xff;
    assert.equal((cali * 15625 * ck8m) / 40, 40e6);
    const w3 = (await client.one(Op.READ_REG, words(0x3ff5a00c))).value;
    assert.equal((w3 >>> 15) & 1, 1, 'LoPy4 is revision 1');
    assert.equal((await client.one(Op.READ_REG, words(0x3ff6607c))).value >>> 31, 0);
  });

  it('identifies the flash through SPI1 user commands (RDID) like esptool', async () => {
    const { client } = await memoryBoard({ profile: 'SIPY' });
    await client.one(Op.WRITE_REG, words(SPI1 + 0x2c, 23, 0xffffffff, 0)); // MISO_DLEN 24 bits
    await client.one(Op.WRITE_REG, words(SPI1 + 0x1c, 1 << 31 | 1 << 28, 0xffffffff, 0)); // USER: COMMAND|MISO
    await client.one(Op.WRITE_REG, words(SPI1 + 0x24, (7 << 28) | 0x9f, 0xffffffff, 0));
    await client.one(Op.WRITE_REG, words(SPI1 + 0x80, 0, 0xffffffff, 0));
    await client.one(Op.WRITE_REG, words(SPI1, 1 << 18, 0xffffffff, 0));
    assert.equal((await client.one(Op.READ_REG, words(SPI1))).value & (1 << 18), 0);
    const id = (await client.one(Op.READ_REG, words(SPI1 + 0x80))).value;
    assert.equal((id >>> 16) & 0xff, 0x16, 'SiPy: 4 MB');
  });

  it('answers an unknown opcode with 01 05 under a different opcode', async () => {
    const { client } = await memoryBoard();
    const r = await client.one(0xd4, Buffer.alloc(16));
    assert.notEqual(r.op, 0xd4);
    assert.deepEqual([...r.data], [1, 5, 0, 0]);
    const s = await client.one(Op.GET_SECURITY_INFO, Buffer.alloc(0));
    assert.notEqual(s.op, Op.GET_SECURITY_INFO);
  });

  it('can repeat the unknown-opcode rejection 8 times (UNCONFIRMED count); the product client drains the repeats', async () => {
    const raw = await memoryBoard({ unknownOpcodeReplyRepeats: 8 });
    const r = await raw.client.command(Op.GET_SECURITY_INFO, Buffer.alloc(0), { n: 8 });
    for (const x of r) assert.deepEqual([...x.data], [1, 5, 0, 0]);
    const dev = new VirtualEsp32({ unknownOpcodeReplyRepeats: 8 });
    const { host, device } = createMemoryPair();
    dev.attach(device);
    dev.reset('download');
    await host.open();
    const conn = await connect(host, { reset: 'none', clock: instantSleepClock, syncTimeoutMs: 2000 });
    try {
      await assert.rejects(conn.loader.command(Op.GET_SECURITY_INFO, Buffer.alloc(0)), (e: unknown) => isUserError(e) && e.code === 'E_UNSUPPORTED_COMMAND');
      await dev.idle();
      assert.equal(await conn.loader.readReg(0x40001000), 0x00f01d83);
      // a second command also gets its own answer, not a leftover rejection
      await conn.loader.spiAttach();
    } finally {
      conn.loader.dispose();
    }
  });

  it('refuses flash commands before SPI_ATTACH and a 4-byte SPI_ATTACH', async () => {
    const { client } = await memoryBoard();
    assert.deepEqual(status(await client.one(Op.FLASH_BEGIN, words(0x1000, 4, 0x400, 0x1000))), [1, RomError.INVALID_MESSAGE]);
    assert.deepEqual(status(await client.one(Op.SPI_ATTACH, words(0))), [1, RomError.INVALID_MESSAGE]);
    assert.deepEqual(status(await client.one(Op.SPI_ATTACH, words(0, 0))), [0, 0]);
  });

  it('writes flash: erase on BEGIN, data at offset+seq*blocksize, checksum error 01 07, MD5 and READ_FLASH_SLOW', async () => {
    const { dev, client } = await memoryBoard();
    await client.one(Op.SPI_ATTACH, words(0, 0));
    dev.flash.program(0x10000, Buffer.alloc(0x2000, 0x00)); // stale content gets erased by BEGIN
    const img = createHash('sha256').update('x').digest();
    const data = Buffer.concat(Array.from({ length: 64 }, () => img)); // 2048 bytes
    assert.deepEqual(status(await client.one(Op.FLASH_BEGIN, words(data.length, 2, 0x400, 0x10000))), [0, 0]);
    assert.equal(dev.flash.read(0x10000, 0x1000).every((b) => b === 0xff), true, 'the overlapping sector is erased');
    assert.equal(dev.flash.read(0x11000, 0x1000).every((b) => b === 0x00), true, 'the next sector is untouched');
    const b1 = dataBlock(data.subarray(0x400), 1);
    assert.deepEqual(status(await client.one(Op.FLASH_DATA, b1, { chk: true })), [0, 0]);
    const b0 = dataBlock(data.subarray(0, 0x400), 0);
    assert.deepEqual(status(await client.one(Op.FLASH_DATA, b0, { chkValue: 0x12 })), [1, RomError.INVALID_CRC]);
    assert.deepEqual(status(await client.one(Op.FLASH_DATA, b0, { chk: true })), [0, 0]);
    assert.deepEqual(dev.flash.read(0x10000, data.length), data);
    const md5 = await client.one(Op.SPI_FLASH_MD5, words(0x10000, data.length, 0, 0));
    assert.equal(md5.data.subarray(0, 32).toString('ascii'), createHash('md5').update(data).digest('hex'));
    assert.deepEqual(status(md5), [0, 0]);
    const rd = await client.one(Op.READ_FLASH_SLOW, words(0x10000, 16));
    assert.equal(rd.data.length, 68);
    assert.deepEqual(rd.data.subarray(0, 16), data.subarray(0, 16));
    assert.deepEqual(status(await client.one(Op.READ_FLASH_SLOW, words(0, 65))), [1, RomError.FLASH_READ_LENGTH_ERROR]);
    assert.deepEqual(status(await client.one(Op.FLASH_BEGIN, words(0x1000, 4, 0x400, dev.flash.size))), [1, RomError.FAILED_TO_ACT]);
  });

  it('has NOR semantics: writing over unerased data ANDs it and the ROM reports 01 08', async () => {
    const { dev, client } = await memoryBoard();
    await client.one(Op.SPI_ATTACH, words(0, 0));
    dev.flash.program(0x20000, Buffer.alloc(0x400, 0x0f));
    await client.one(Op.FLASH_BEGIN, words(0, 1, 0x400, 0x20000)); // erase size 0: nothing erased
    const r = await client.one(Op.FLASH_DATA, dataBlock(Buffer.alloc(0x400, 0xf0), 0), { chk: true });
    assert.deepEqual(status(r), [1, RomError.FLASH_WRITE_ERROR]);
    assert.equal(dev.flash.read(0x20000, 1)[0], 0x00);
    dev.flash.eraseSector(0x20000);
    assert.equal(dev.flash.read(0x20fff, 1)[0], 0xff);
  });

  it('writes compressed data (FLASH_DEFL_*) and reports a corrupt stream as 01 0B', async () => {
    const { dev, client } = await memoryBoard();
    await client.one(Op.SPI_ATTACH, words(0, 0));
    const plain = Buffer.concat(Array.from({ length: 300 }, (_, i) => createHash('sha256').update(String(i % 7)).digest()));
    const comp = zlib.deflateSync(plain, { level: 9 });
    const rounded = Math.ceil(plain.length / 0x400) * 0x400;
    const blocks = Math.ceil(comp.length / 0x400);
    assert.deepEqual(status(await client.one(Op.FLASH_DEFL_BEGIN, words(rounded, blocks, 0x400, 0x1000))), [0, 0]);
    for (let i = 0; i < blocks; i++) {
      const r = await client.one(Op.FLASH_DEFL_DATA, dataBlock(comp.subarray(i * 0x400, (i + 1) * 0x400), i), { chk: true });
      assert.deepEqual(status(r), [0, 0]);
    }
    assert.deepEqual(dev.flash.read(0x1000, plain.length), plain);
    await client.one(Op.FLASH_DEFL_BEGIN, words(0x1000, 1, 0x400, 0x40000));
    const bad = Buffer.from('this is not a zlib stream at all, no');
    assert.deepEqual(status(await client.one(Op.FLASH_DEFL_DATA, dataBlock(bad, 0), { chk: true })), [1, RomError.DEFLATE_ERROR]);
  });

  it('rejects a request whose size field disagrees with its data', async () => {
    const { client } = await memoryBoard();
    const req = encodeRequest(Op.READ_REG, words(0x40001000));
    req.writeUInt16LE(8, 2);
    const start = client.frames.length;
    await client.transport.write(slipEncode(req));
    await client.waitFor(() => client.frames.length > start);
    assert.deepEqual(status(decodeResponse(client.frames[start]!)!), [1, RomError.INVALID_MESSAGE]);
  });

  it('changes baud: replies at the old rate, then runs at the requested rate (crystal pre-distortion inverted)', async () => {
    const { dev, client } = await memoryBoard();
    const r = await client.one(Op.CHANGE_BAUDRATE, words(921600, 0));
    assert.deepEqual(status(r), [0, 0]);
    await dev.idle();
    assert.equal(dev.uartBaud, 921600);
    await client.transport.setBaud(921600);
    assert.equal((await client.one(Op.READ_REG, words(0x40001000))).value, 0x00f01d83);
  });
});

describe('virtual ESP32 reset lines', () => {
  it('boots into download mode when EN is released with GPIO0 low (classic DTR/RTS sequence), normal otherwise', async () => {
    const { dev, client } = await memoryBoard();
    const t = client.transport;
    const settle = async (): Promise<void> => {
      await new Promise((r) => setTimeout(r, 30));
      await dev.idle();
    };
    // hard reset: EN pulsed with GPIO0 released → flash boot
    await t.setSignals({ dtr: false, rts: true });
    await settle();
    assert.equal(dev.state, 'reset');
    await t.setSignals({ rts: false });
    await settle();
    assert.equal(dev.state, 'normal');
    client.noise = '';
    // classic: lines one at a time; the transient (DTR, RTS) = (1, 1) is absorbed by the EN RC delay
    await t.setSignals({ dtr: false });
    await t.setSignals({ rts: true });
    await settle();
    await t.setSignals({ dtr: true });
    await t.setSignals({ rts: false });
    await settle();
    await t.setSignals({ dtr: false });
    await settle();
    assert.equal(dev.state, 'download');
    assert.match(client.noise, /boot:0x3 .*\r\nwaiting for download/);
  });
});
