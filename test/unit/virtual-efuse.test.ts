import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { encode34 } from '../../src/core/efuse/coding34';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { emptyWords, factoryMacBytes, field, macCrc8, readFieldNumber, withField, type EfuseWords } from '../../src/core/efuse/fields';
import * as R from '../../src/core/efuse/registers';
import { moduleIds } from '../../src/core/boards/catalog';
import { Op } from '../../src/core/rom/opcodes';
import { words } from '../../src/core/rom/packet';
import { EfuseController } from '../../src/core/virtual/efuse-controller';
import { factoryProfile } from '../../src/core/virtual/profiles';
import { memoryBoard, status } from './virtual-harness';

/** The espefuse program sequence against a controller: WDATA, CONF 0x5A5A, CMD 2, wait, CONF 0x5AA5, CMD 1, wait. */
function burnBlock(c: EfuseController, block: number, data: readonly number[], magic = R.CONF_PROGRAM_MAGIC): void {
  data.forEach((w, i) => c.writeReg(R.wdataAddr(block, i), w));
  c.writeReg(R.EFUSE_CONF, magic);
  c.writeReg(R.EFUSE_CMD, R.CMD_PGM);
  for (let i = 0; i < 10 && c.readReg(R.EFUSE_CMD) !== 0; i++);
  c.writeReg(R.EFUSE_CONF, R.CONF_READ_MAGIC);
  c.writeReg(R.EFUSE_CMD, R.CMD_READ);
  for (let i = 0; i < 10 && c.readReg(R.EFUSE_CMD) !== 0; i++);
}

function readBlock(c: EfuseController, block: number, n = R.BLOCK_WORDS[block]!): number[] {
  return Array.from({ length: n }, (_, i) => c.readReg(R.rdataAddr(block, i)));
}

function blank(codingScheme = 0): EfuseController {
  return new EfuseController({ raw: withField(emptyWords(), field('CODING_SCHEME'), codingScheme) });
}

describe('virtual eFuse controller', () => {
  it('burns with the program magic and ignores a wrong magic', () => {
    const c = blank();
    burnBlock(c, 3, [1, 2, 3, 4, 5, 6, 7, 8], 0x1234);
    assert.deepEqual(readBlock(c, 3), [0, 0, 0, 0, 0, 0, 0, 0]);
    burnBlock(c, 3, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(readBlock(c, 3), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(c.readReg(R.EFUSE_INT_RAW) & 3, 3);
  });

  it('ignores a READ command issued with the program magic (reads stay stale until a proper reload)', () => {
    const c = blank();
    c.writeReg(R.wdataAddr(3, 0), 0xff);
    c.writeReg(R.EFUSE_CONF, R.CONF_PROGRAM_MAGIC);
    c.writeReg(R.EFUSE_CMD, R.CMD_PGM);
    c.readReg(R.EFUSE_CMD);
    c.writeReg(R.EFUSE_CMD, R.CMD_READ); // wrong magic for READ
    assert.equal(c.readReg(R.rdataAddr(3, 0)), 0);
    assert.equal(c.rawField('BLOCK3') & 0xffn, 0xffn);
  });

  it('only sets bits (0 → 1), never clears them', () => {
    const c = blank();
    burnBlock(c, 3, [0xf0f0f0f0, 0, 0, 0, 0, 0, 0, 0]);
    c.writeReg(R.wdataAddr(3, 0), 0);
    burnBlock(c, 3, [0x0f0f0f0f, 0, 0, 0, 0, 0, 0, 0]);
    assert.equal(readBlock(c, 3)[0], 0xffffffff);
  });

  it('WR_DIS blocks later programming of the protected fields only, after a reload', () => {
    const c = blank();
    // WR_DIS bit 9 (BLOCK3) and bit 15 (DISABLE_DL_* group) in one PGM, together with BLOCK3 data:
    // protection is captured at reload, so the data in the same cycle still burns.
    c.writeReg(R.wdataAddr(3, 0), 0x11);
    burnBlock(c, 0, withField(withField(emptyWords(), field('WR_DIS'), (1 << 9) | (1 << 15)), field('ABS_DONE_0'), 1)[0]!);
    assert.equal(readBlock(c, 3)[0], 0x11);
    for (let i = 0; i < 8; i++) c.writeReg(R.wdataAddr(3, i), 0);
    burnBlock(c, 3, [0xffffffff, 0, 0, 0, 0, 0, 0, 0x1]);
    assert.deepEqual(readBlock(c, 3), [0x11, 0, 0, 0, 0, 0, 0, 0]);
    // DISABLE_DL_DECRYPT is frozen by WR_DIS 15; JTAG_DISABLE (WR_DIS 14) is not.
    const w0 = withField(withField(emptyWords(), field('DISABLE_DL_DECRYPT'), 1), field('JTAG_DISABLE'), 1);
    burnBlock(c, 0, w0[0]!);
    assert.equal(c.visibleField('DISABLE_DL_DECRYPT'), 0n);
    assert.equal(c.visibleField('JTAG_DISABLE'), 1n);
    assert.equal(c.visibleField('ABS_DONE_0'), 1n);
  });

  it('RD_DIS hides a key block from the read registers but the hardware keeps it', () => {
    const c = blank();
    const key = [0x01020304, 0x05060708, 0x090a0b0c, 0x0d0e0f10, 0x11121314, 0x15161718, 0x191a1b1c, 0x1d1e1f20];
    burnBlock(c, 1, key);
    assert.deepEqual(readBlock(c, 1), key);
    for (let i = 0; i < 8; i++) c.writeReg(R.wdataAddr(1, i), 0);
    burnBlock(c, 0, withField(emptyWords(), field('RD_DIS'), 1)[0]!);
    assert.deepEqual(readBlock(c, 1), new Array(8).fill(0));
    assert.deepEqual(c.rawWords()[1], key);
    // RD_DIS bit 3 hides CODING_SCHEME / FLASH_CRYPT_CONFIG
    const d = blank(1);
    burnBlock(d, 0, withField(withField(emptyWords(), field('FLASH_CRYPT_CONFIG'), 0xf), field('RD_DIS'), 8)[0]!);
    assert.equal(d.visibleField('CODING_SCHEME'), 0n);
    assert.equal(d.visibleField('FLASH_CRYPT_CONFIG'), 0n);
    assert.equal(d.rawField('FLASH_CRYPT_CONFIG'), 0xfn);
  });

  it('decodes 3/4-coded blocks and flags groups whose check bytes no longer match', () => {
    const c = blank(1);
    const data = Buffer.from([0x57, 0x56, 0x55, 0x54, 0x53, 0x52, 0x51, 0x50, 0x4f, 0x4e, 0x4d, 0x4c, 0x4b, 0x4a, 0x49, 0x48, 0x47, 0x46, 0x45, 0x44, 0x43, 0x42, 0x41, 0x40]);
    const enc = encode34(data);
    assert.deepEqual(enc, [0x54555657, 0x4b015253, 0x4e4f5051, 0x4c014c4d, 0x48494a4b, 0x41014647, 0x42434445, 0x28014041]);
    assert.deepEqual(keyFileToBlockWords(data, { reverse: false, coding: '3/4' }), enc, 'same encoding as the key-file layout');
    burnBlock(c, 3, enc);
    assert.deepEqual(readBlock(c, 3, 8).slice(6), [0, 0], 'RDATA6..7 carry no data under 3/4');
    assert.deepEqual(Buffer.from(Uint32Array.from(readBlock(c, 3, 6)).buffer), data);
    assert.equal(c.readReg(R.EFUSE_DEC_STATUS), 0);
    // A second burn into group 0 ORs new bits into data and check bytes: decode warning.
    burnBlock(c, 3, [0x00000100, 0, 0, 0, 0, 0, 0, 0]);
    assert.notEqual(c.readReg(R.EFUSE_DEC_STATUS) & 0xfff, 0);
  });

  it('reproduces the espefuse burn_key vectors (efuse_layout) from the register writes', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'vectors', 'manifest.json'), 'utf8')) as {
      vectors: Array<{ id: string; check: string; params: { coding_scheme: string }; write_registers: Record<string, Array<{ reg: string; word: string }>>; read_back_dump: Record<string, string[]> }>;
    };
    const vectors = manifest.vectors.filter((v) => v.check === 'efuse_layout');
    assert.ok(vectors.length >= 4);
    for (const v of vectors) {
      const c = blank(v.params.coding_scheme.startsWith('3/4') ? 1 : 0);
      // espefuse burns BLOCK3 → BLOCK0 (BLOCK0 last), one program cycle per block.
      for (const blk of Object.keys(v.write_registers).map(Number).sort((a, b) => b - a)) {
        for (const { reg, word } of v.write_registers[String(blk)]!) c.writeReg(parseInt(reg, 16), parseInt(word, 16));
        c.writeReg(R.EFUSE_CONF, R.CONF_PROGRAM_MAGIC);
        c.writeReg(R.EFUSE_CMD, R.CMD_PGM);
        while (c.readReg(R.EFUSE_CMD) !== 0);
        c.writeReg(R.EFUSE_CONF, R.CONF_READ_MAGIC);
        c.writeReg(R.EFUSE_CMD, R.CMD_READ);
        while (c.readReg(R.EFUSE_CMD) !== 0);
      }
      for (const [name, expected] of Object.entries(v.read_back_dump)) {
        const blk = Number(name.replace('BLOCK', ''));
        const got = readBlock(c, blk, expected.length).map((w) => `0x${w.toString(16).padStart(8, '0')}`);
        assert.deepEqual(got, expected, `${v.id} ${name}`);
      }
      assert.equal(c.readReg(R.EFUSE_DEC_STATUS), 0, v.id);
    }
  });

  it('gives every profile a valid factory MAC with CRC, and the right revision and flash', () => {
    for (const id of moduleIds()) {
      for (const seed of ['a', 'b']) {
        const p = factoryProfile(id, seed);
        const mac = factoryMacBytes(p.efuse);
        assert.equal(readFieldNumber(p.efuse, field('MAC_CRC')), macCrc8(mac), `${id} MAC CRC`);
        assert.ok([[0x24, 0x0a, 0xc4], [0x30, 0xae, 0xa4]].some((o) => o.every((b, i) => mac[i] === b)), `${id} OUI`);
        assert.equal(mac[0]! & 1, 0, 'unicast');
        assert.equal(readFieldNumber(p.efuse, field('CHIP_VER_REV1')), p.module.chipRevision);
        assert.equal(readFieldNumber(p.efuse, field('CODING_SCHEME')), 0);
        assert.equal(p.module.flashSize, p.module.chipRevision === 1 ? 8 << 20 : 4 << 20);
      }
      assert.deepEqual(factoryProfile(id, 'same').mac, factoryProfile(id, 'same').mac, 'deterministic per seed');
    }
    assert.equal(readFieldNumber(factoryProfile('GPY', 'x', '3/4').efuse, field('CODING_SCHEME')), 1);
  });

  it('runs the program sequence over the ROM loader (WRITE_REG / READ_REG)', async () => {
    const { dev, client } = await memoryBoard({ profile: 'FIPY' });
    const wr = (a: number, v: number): Promise<unknown> => client.one(Op.WRITE_REG, words(a, v, 0xffffffff, 0));
    const rd = async (a: number): Promise<number> => (await client.one(Op.READ_REG, words(a))).value;
    await wr(R.wdataAddr(0, 0), 1 << 20); // FLASH_CRYPT_CNT bit 0
    await wr(R.EFUSE_CONF, R.CONF_PROGRAM_MAGIC);
    await wr(R.EFUSE_CMD, R.CMD_PGM);
    let polls = 0;
    while ((await rd(R.EFUSE_CMD)) !== 0) polls++;
    assert.ok(polls < 10);
    await wr(R.EFUSE_CONF, R.CONF_READ_MAGIC);
    await wr(R.EFUSE_CMD, R.CMD_READ);
    while ((await rd(R.EFUSE_CMD)) !== 0);
    assert.equal(((await rd(R.rdataAddr(0, 0))) >>> 20) & 0x7f, 1);
    assert.equal(dev.efuse.rawField('FLASH_CRYPT_CNT'), 1n);
    assert.deepEqual(status(await client.one(Op.READ_REG, words(R.EFUSE_DEC_STATUS))), [0, 0]);
  });

  it('loads eFuses at reset (WDATA cleared, read windows rebuilt)', () => {
    const raw: EfuseWords = withField(emptyWords(), field('ABS_DONE_0'), 1);
    const c = new EfuseController({ raw });
    c.writeReg(R.wdataAddr(2, 0), 5);
    c.reset();
    assert.equal(c.readReg(R.wdataAddr(2, 0)), 0);
    assert.equal(c.visibleField('ABS_DONE_0'), 1n);
  });
});
