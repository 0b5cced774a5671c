import * as zlib from 'node:zlib';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { UserError } from '../../src/core/errors';
import * as R from '../../src/core/efuse/registers';
import { Op, RomError } from '../../src/core/rom/opcodes';
import { words } from '../../src/core/rom/packet';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { exportState, journalPath, loadStateFile, saveStateFile, StateJournal } from '../../src/core/virtual/state-file';
import { dataBlock, memoryBoard, status } from './virtual-harness';

describe('virtual board state file', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vstate-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('round-trips eFuses and flash, and stays small for a mostly erased 8 MB flash', () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 's1' });
    dev.flash.program(0x1000, Buffer.from('bootloader bytes'));
    dev.flash.program(0x7ff000, Buffer.alloc(0x1000, 0x5a));
    const words = dev.efuse.rawWords();
    words[2]![0] = 0xdeadbeef;
    dev.efuse.setRaw(words);
    const file = path.join(dir, 'board.json');
    saveStateFile(file, dev);
    assert.ok(fs.statSync(file).size < 4096);
    const back = loadStateFile(file);
    assert.equal(back.module.id, 'GPY');
    assert.deepEqual(back.mac, dev.mac);
    assert.deepEqual(back.efuse.rawWords(), dev.efuse.rawWords());
    assert.deepEqual(back.flash.read(0x1000, 16), Buffer.from('bootloader bytes'));
    assert.deepEqual(back.flash.read(0x7ff000, 0x1000), Buffer.alloc(0x1000, 0x5a));
    assert.deepEqual(exportState(back), exportState(dev));
  });

  it('explains what is wrong with a bad state file', () => {
    const file = path.join(dir, 'bad.json');
    const expectMsg = (content: string, re: RegExp): void => {
      fs.writeFileSync(file, content);
      assert.throws(() => loadStateFile(file), (e: unknown) => e instanceof UserError && re.test(e.message) && e.message.includes(file));
    };
    expectMsg('{"format": "pycom', /not valid JSON/);
    expectMsg('[]', /not a JSON object/);
    expectMsg('{"format":"other"}', /not a virtual board state/);
    const good = exportState(new VirtualEsp32({ profile: 'SIPY' }));
    expectMsg(JSON.stringify({ ...good, version: 9 }), /version 9/);
    expectMsg(JSON.stringify({ ...good, profile: 'XPY' }), /profile XPY is unknown/);
    expectMsg(JSON.stringify({ ...good, efuse: good.efuse.slice(0, 3) }), /4 blocks/);
    expectMsg(JSON.stringify({ ...good, sectors: [{ index: 1, data: 'AAAA' }] }), /sector 1 is corrupt|sector 1 holds/);
    expectMsg(JSON.stringify({ ...good, sectors: [{ index: 99999, data: '' }] }), /outside/);
    assert.throws(() => loadStateFile(path.join(dir, 'missing.json')), /does not exist/);
  });
});

/** A journal line as the journal writes it: the text, then `,"crc":C` (CRC-32 of the text). */
function crcLine(json: string): string {
  return `${json.slice(0, -1)},"crc":"${zlib.crc32(json).toString(16).padStart(8, '0')}"}`;
}

describe('virtual board state journal (sim serve --state)', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vjournal-'));
    file = path.join(dir, 'board.json');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** A board whose journal holds one flash write and one eFuse burn, never compacted (a killed server). */
  function journaled(): VirtualEsp32 {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'j' });
    const j = new StateJournal(file, dev);
    dev.flash.program(0x10000, Buffer.alloc(0x400, 0x42));
    j.append();
    const w = dev.efuse.rawWords();
    w[0]![6] = 0x80; // a BLOCK0 bit burned
    dev.efuse.setRaw(w);
    dev.flash.eraseRange(0x10000, 0x1000);
    dev.flash.program(0x10000, Buffer.from('second'));
    j.append();
    j.close();
    return dev;
  }

  it('a board loaded from the file and its journal has every change the journal holds, without any compaction', () => {
    const dev = journaled();
    const fileOnly = JSON.parse(fs.readFileSync(file, 'utf8')) as { sectors: unknown[] };
    assert.equal(fileOnly.sectors.length, 0, 'the state file itself was never rewritten');
    assert.equal(fs.statSync(journalPath(file)).mode & 0o777, 0o600);
    const back = loadStateFile(file);
    assert.deepEqual(back.flash.read(0x10000, 6), Buffer.from('second'));
    assert.deepEqual(back.flash.read(0x10006, 4), Buffer.alloc(4, 0xff), 'the later erase replayed after the first write');
    assert.deepEqual(back.efuse.rawWords(), dev.efuse.rawWords());
    assert.deepEqual(exportState(back).sectors, exportState(dev).sectors);
  });

  it('ignores a last line cut short (the server killed while appending, before its reply)', () => {
    journaled();
    fs.appendFileSync(journalPath(file), '{"sector":17,"data":"AAA');
    const back = loadStateFile(file);
    assert.deepEqual(back.flash.read(0x10000, 6), Buffer.from('second'));
    assert.deepEqual(back.flash.read(17 * 0x1000, 4), Buffer.alloc(4, 0xff));
  });

  it('names the line of a journal that is corrupt before its end, and leaves both files as they are', () => {
    journaled();
    const jp = journalPath(file);
    const lines = fs.readFileSync(jp, 'utf8').split('\n');
    // A line with a valid checksum but a sector outside the flash (written by a broken tool).
    lines[1] = crcLine('{"sector":99999,"data":""}');
    fs.writeFileSync(jp, lines.join('\n'));
    const before = [fs.readFileSync(file), fs.readFileSync(jp)];
    assert.throws(() => loadStateFile(file), (e: unknown) => e instanceof UserError && /line 2 names flash sector 99999, outside/.test(e.message) && e.message.includes(jp) && e.message.includes('sim reset-state'));
    lines[1] = 'not json';
    fs.writeFileSync(jp, lines.join('\n'));
    assert.throws(() => loadStateFile(file), /line 2 has no checksum/);
    assert.deepEqual(fs.readFileSync(file), before[0]);
  });

  it('every journal line carries a CRC-32 of its text: a line damaged after it was written is refused, naming the line, and nothing is changed', () => {
    journaled();
    const jp = journalPath(file);
    const lines = fs.readFileSync(jp, 'utf8').split('\n');
    assert.match(lines[0]!, /"crc":"crc32"/);
    for (const l of lines.slice(1, -1)) assert.match(l, /,"crc":"[0-9a-f]{8}"\}$/);
    // One character of the flash data changed: still valid JSON and valid base64, so only the checksum can tell.
    const i = lines.findIndex((l) => l.startsWith('{"sector":'));
    const at = lines[i]!.indexOf('"data":"') + 10;
    const c = lines[i]![at]!;
    lines[i] = lines[i]!.slice(0, at) + (c === 'A' ? 'B' : 'A') + lines[i]!.slice(at + 1);
    fs.writeFileSync(jp, lines.join('\n'));
    const before = [fs.readFileSync(file), fs.readFileSync(jp)];
    assert.throws(() => loadStateFile(file), (e: unknown) => e instanceof UserError && e.message.includes(`line ${i + 1} does not match its checksum`) && e.message.includes('sim reset-state'));
    assert.deepEqual([fs.readFileSync(file), fs.readFileSync(jp)], before);
  });

  it('a journal written before the checksum (a header without "crc") is still read', () => {
    journaled();
    const jp = journalPath(file);
    const lines = fs.readFileSync(jp, 'utf8').split('\n');
    const old = [lines[0]!.replace(/,"crc":"crc32"/, ''), ...lines.slice(1).map((l) => l.replace(/,"crc":"[0-9a-f]{8}"\}$/, '}'))];
    fs.writeFileSync(jp, old.join('\n'));
    const back = loadStateFile(file);
    assert.deepEqual(back.flash.read(0x10000, 6), Buffer.from('second'));
  });

  it('ignores a journal left from an earlier version of the file (its id differs), and saving removes it', () => {
    journaled();
    const jp = journalPath(file);
    const stale = fs.readFileSync(jp);
    const fresh = new VirtualEsp32({ profile: 'GPY', seed: 'j' });
    saveStateFile(file, fresh);
    assert.equal(fs.existsSync(jp), false, 'saving the whole state removes its old journal');
    fs.writeFileSync(jp, stale);
    const back = loadStateFile(file);
    assert.deepEqual(back.flash.read(0x10000, 6), Buffer.alloc(6, 0xff), 'the stale journal did not replay over the fresh board');
  });

  it('never appends to or removes a file at the journal path that is not a journal (a key given as --state.journal)', () => {
    const jp = journalPath(file);
    fs.writeFileSync(jp, '-----BEGIN EC PRIVATE KEY-----\n', { mode: 0o600 });
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'j' });
    assert.throws(() => new StateJournal(file, dev), (e: unknown) => e instanceof UserError && e.code === 'E_STATE_JOURNAL' && e.message.includes(jp) && /move that file away/.test(e.message));
    assert.throws(() => saveStateFile(file, dev), /is not a journal of a virtual board state/);
    assert.equal(fs.readFileSync(jp, 'utf8'), '-----BEGIN EC PRIVATE KEY-----\n');
    assert.equal(fs.existsSync(file), false, 'no state written either');
  });

  it('compacts into the state file once the journal passes its size limit', () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'j' });
    const j = new StateJournal(file, dev, 8 * 1024);
    for (let i = 0; i < 4; i++) {
      dev.flash.program(0x20000 + i * 0x1000, randomBytes(0x1000)); // incompressible: ~5.5 KB per journal line
      j.append();
    }
    j.close();
    const st = JSON.parse(fs.readFileSync(file, 'utf8')) as { sectors: unknown[] };
    assert.ok(st.sectors.length >= 2, 'the state file holds the sectors written before the limit was passed');
    assert.deepEqual(exportState(loadStateFile(file)).sectors, exportState(dev).sectors);
  });
});

describe('virtual board faults', () => {
  it('power loss during an eFuse program leaves some words burned, the rest blank, and a silent board', async () => {
    const { dev, client } = await memoryBoard();
    const wr = (a: number, v: number): Promise<unknown> => client.one(Op.WRITE_REG, words(a, v, 0xffffffff, 0));
    for (let i = 0; i < 8; i++) await wr(R.wdataAddr(1, i), 0x11111111 * (i + 1));
    await wr(R.EFUSE_CONF, R.CONF_PROGRAM_MAGIC);
    dev.faults.setPowerLoss({ kind: 'efuse-word', step: 4 });
    const before = client.frames.length;
    await client.send(Op.WRITE_REG, words(R.EFUSE_CMD, R.CMD_PGM, 0xffffffff, 0));
    await new Promise((r) => setTimeout(r, 20));
    await dev.idle();
    assert.equal(dev.state, 'off');
    assert.equal(client.frames.length, before, 'no reply after power loss');
    dev.reset('download');
    const raw = dev.efuse.rawWords()[1]!;
    assert.deepEqual(raw.slice(0, 3), [0x11111111, 0x22222222, 0x33333333]);
    assert.deepEqual(raw.slice(3), [0, 0, 0, 0, 0]);
    assert.deepEqual(dev.efuse.readWords()[1], raw, 'read window consistent with the physical bits after reset');
  });

  it('power loss during a flash write leaves a sector erased but not written', async () => {
    const { dev, client } = await memoryBoard();
    await client.one(Op.SPI_ATTACH, words(0, 0));
    dev.flash.program(0x30000, Buffer.alloc(0x2000, 0x00));
    dev.faults.setPowerLoss({ kind: 'flash-erase', step: 2 });
    await client.send(Op.FLASH_BEGIN, words(0x2000, 8, 0x400, 0x30000));
    await new Promise((r) => setTimeout(r, 20));
    await dev.idle();
    assert.equal(dev.state, 'off');
    assert.ok(dev.flash.read(0x30000, 0x1000).every((b) => b === 0xff), 'first sector erased');
    assert.ok(dev.flash.read(0x31000, 0x1000).every((b) => b === 0x00), 'second sector untouched');

    dev.reset('download');
    await client.one(Op.SPI_ATTACH, words(0, 0));
    dev.faults.setPowerLoss({ kind: 'flash-program', step: 1 });
    await client.send(Op.FLASH_BEGIN, words(0x400, 1, 0x400, 0x31000));
    await new Promise((r) => setTimeout(r, 20));
    await dev.idle();
    assert.equal(dev.state, 'download', 'BEGIN (erase) completed');
    const blk = dataBlock(Buffer.alloc(0x400, 0x42), 0);
    await client.send(Op.FLASH_DATA, blk, true);
    await new Promise((r) => setTimeout(r, 20));
    await dev.idle();
    assert.equal(dev.state, 'off');
    assert.ok(dev.flash.read(0x31000, 0x1000).every((b) => b === 0xff), 'erased, nothing written');
  });

  it('corrupts and drops bytes on the link', async () => {
    const { dev, client } = await memoryBoard();
    await client.one(Op.SPI_ATTACH, words(0, 0));
    await client.one(Op.FLASH_BEGIN, words(0x400, 1, 0x400, 0x40000));
    // corrupt one data byte in the next host → device frame (offset 1 + 8 header + 16 sub-header + 5)
    dev.faults.addByteFault({ direction: 'to-device', action: 'corrupt', atByte: 30, xor: 0x01 });
    const r = await client.one(Op.FLASH_DATA, dataBlock(Buffer.alloc(0x400, 0x33), 0), { chk: true });
    assert.deepEqual(status(r), [1, RomError.INVALID_CRC]);
    dev.faults.clearByteFaults();
    dev.faults.addByteFault({ direction: 'to-host', action: 'drop', atByte: 0, count: 1000 });
    const before = client.frames.length;
    await client.send(Op.READ_REG, words(0x40001000));
    await new Promise((r2) => setTimeout(r2, 20));
    await dev.idle();
    assert.equal(client.frames.length, before);
  });
});
