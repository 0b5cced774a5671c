import { strict as assert } from 'node:assert';
import {
  ALIASING_FIELDS,
  EFUSE_FIELDS,
  emptyWords,
  factoryMacBytes,
  field,
  fieldMask,
  fieldWords,
  findField,
  macBytesToValue,
  macCrc8,
  readFieldBytes,
  readFieldNumber,
  readFieldRaw,
  readProtectMask,
  withField,
  writeProtectMask,
} from '../../src/core/efuse/fields';
import { BLOCK_WORDS, classifyDataAddr, rdataAddr, wdataAddr } from '../../src/core/efuse/registers';

describe('eFuse field table', () => {
  it('has unique names and alternative names', () => {
    const seen = new Set<string>();
    for (const f of EFUSE_FIELDS) {
      for (const n of [f.name, ...f.alt]) {
        assert.ok(!seen.has(n.toUpperCase()), `duplicate name ${n}`);
        seen.add(n.toUpperCase());
      }
    }
  });

  it('keeps every field inside its block', () => {
    for (const f of EFUSE_FIELDS) {
      assert.ok(f.len > 0, f.name);
      assert.ok(f.bit + f.len <= 32 * BLOCK_WORDS[f.block]!, `${f.name} runs past BLOCK${f.block}`);
    }
  });

  it('has no overlapping bits except the BLOCK3 sub-fields inside the BLOCK3 whole-block field', () => {
    const owner = new Map<string, string>();
    for (const f of EFUSE_FIELDS) {
      if (ALIASING_FIELDS.includes(f.name)) continue;
      for (let b = f.bit; b < f.bit + f.len; b++) {
        const k = `${f.block}:${b}`;
        assert.ok(!owner.has(k), `${f.name} overlaps ${owner.get(k)} at BLOCK${f.block} bit ${b}`);
        owner.set(k, f.name);
      }
    }
  });

  it('names protection bits that exist: WR_DIS 0..15, RD_DIS 0..3', () => {
    for (const f of EFUSE_FIELDS) {
      if (f.wrDis !== undefined) assert.ok(Number.isInteger(f.wrDis) && f.wrDis >= 0 && f.wrDis < 16, f.name);
      if (f.rdDis !== undefined) assert.ok(Number.isInteger(f.rdDis) && f.rdDis >= 0 && f.rdDis < 4, f.name);
    }
  });

  it('puts the key blocks under the spec protection bits', () => {
    assert.equal(field('flash_encryption').name, 'BLOCK1');
    assert.deepEqual([field('BLOCK1').wrDis, field('BLOCK1').rdDis], [7, 0]);
    assert.deepEqual([field('secure_boot_v1').wrDis, field('BLOCK2').rdDis], [8, 1]);
    assert.deepEqual([field('BLOCK3').wrDis, field('BLOCK3').rdDis], [9, 2]);
    for (const n of ['FLASH_CRYPT_CONFIG', 'CODING_SCHEME', 'KEY_STATUS', 'BLK3_PART_RESERVE']) assert.equal(field(n).rdDis, 3, n);
    for (const n of ['CONSOLE_DEBUG_DISABLE', 'DISABLE_DL_ENCRYPT', 'DISABLE_DL_DECRYPT', 'DISABLE_DL_CACHE']) assert.equal(field(n).wrDis, 15, n);
    assert.equal(findField('nonsense'), undefined);
  });

  it('places fields at the spec positions', () => {
    let w = withField(emptyWords(), field('FLASH_CRYPT_CNT'), 0x7f);
    assert.equal(w[0]![0], 0x07f00000);
    w = withField(w, field('CODING_SCHEME'), 1);
    assert.equal(w[0]![6], 1);
    w = withField(w, field('MAC'), 0x94b97e5a6e58n);
    assert.equal(w[0]![1], 0x7e5a6e58);
    assert.equal(w[0]![2], 0x94b9);
    assert.equal(readFieldNumber(w, field('MAC')), 0x94b97e5a6e58);
    assert.equal(readFieldRaw(w, field('FLASH_CRYPT_CNT')), 0x7fn);
    assert.deepEqual(fieldWords(field('ABS_DONE_0'), 1), [0, 0, 0, 0, 0, 0, 0x10]);
    assert.deepEqual(fieldMask(field('SPI_PAD_CONFIG_HD')), [0, 0, 0, 0x1f0, 0, 0, 0]);
  });

  it('reproduces the custom-MAC BLOCK3 layout espefuse burns', () => {
    const mac = Buffer.from([0xaa, 0xcd, 0xef, 0x11, 0x22, 0x33]);
    let w = withField(emptyWords(), field('CUSTOM_MAC'), mac);
    w = withField(w, field('CUSTOM_MAC_CRC'), macCrc8(mac));
    w = withField(w, field('MAC_VERSION'), 1);
    assert.deepEqual(w[3], [0xefcdaa63, 0x00332211, 0, 0, 0, 0x01000000, 0, 0]);
    assert.deepEqual(readFieldBytes(w, field('CUSTOM_MAC')), mac);
  });

  it('computes MAC CRCs from the spec vectors', () => {
    assert.equal(macCrc8(Buffer.from([0x94, 0xb9, 0x7e, 0x5a, 0x6e, 0x58])), 0xe2);
    assert.equal(macCrc8(Buffer.from([0xaa, 0xcd, 0xef, 0x11, 0x22, 0x33])), 0x63);
    const mac = Buffer.from([0x24, 0x0a, 0xc4, 0x01, 0x02, 0x03]);
    const w = withField(emptyWords(), field('MAC'), macBytesToValue(mac));
    assert.deepEqual(factoryMacBytes(w), mac);
  });

  it('derives protection masks from the table', () => {
    const wm = writeProtectMask(1 << 7);
    assert.deepEqual(wm[1], new Array(8).fill(0xffffffff));
    assert.deepEqual(wm[0], new Array(7).fill(0));
    const w15 = writeProtectMask(1 << 15);
    assert.equal(w15[0]![6], 0b1110000100);
    const rm = readProtectMask(1 << 3);
    assert.equal(rm[0]![5], 0xf0000000);
    assert.equal(rm[0]![6], 0x403);
    assert.equal(rm[0]![3], 1 << 14);
  });

  it('maps register addresses', () => {
    assert.equal(rdataAddr(0, 0), 0x3ff5a000);
    assert.equal(wdataAddr(0, 6), 0x3ff5a034);
    assert.equal(rdataAddr(1, 0), 0x3ff5a038);
    assert.equal(rdataAddr(3, 7), 0x3ff5a094);
    assert.equal(wdataAddr(1, 0), 0x3ff5a098);
    assert.equal(wdataAddr(3, 7), 0x3ff5a0f4);
    assert.deepEqual(classifyDataAddr(0x3ff5a0b8), { kind: 'wdata', block: 2, word: 0 });
    assert.equal(classifyDataAddr(0x3ff5a0f8), undefined);
  });
});
