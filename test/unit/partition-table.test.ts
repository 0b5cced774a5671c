import { strict as assert } from 'node:assert';
import { layout, layouts } from '../../src/core/boards/catalog';
import { parsePartitionTable, validatePartitionTable, writePartitionTable } from '../../src/core/partition/table';
import { formatPartitionCsv, parsePartitionCsv } from '../../src/core/partition/csv';

describe('partition tables', () => {
  for (const { id, entries } of layouts()) {
    it(`${id}: CSV → binary → entries round trip, MD5 row, valid`, () => {
      const csv = formatPartitionCsv(entries);
      const bin = writePartitionTable(parsePartitionCsv(csv));
      assert.equal(bin.length, 0xc00);
      const t = parsePartitionTable(bin);
      assert.deepEqual(t.entries, entries);
      assert.equal(t.hasMd5, true);
      validatePartitionTable(t, id, 0x800000);
    });
  }

  it('OTA slot addresses per layout are the spec\'s', () => {
    const ota0 = (id: string) => layout(id).entries.find((e) => e.type === 0 && e.subtype === 0x10)!;
    assert.deepEqual([ota0('1.18').offset, ota0('4MB').offset, ota0('8MB').offset], [0x1a0000, 0x1c0000, 0x210000]);
    assert.equal(ota0('8MB').size, 0x1ef000);
  });

  it('refuses a wrong MD5 row, bad magic, overlaps and misaligned apps', () => {
    const bin = writePartitionTable(layout('8MB').entries);
    const bad = Buffer.from(bin);
    bad[4] ^= 1;
    assert.throws(() => parsePartitionTable(bad), /MD5 record does not match/);
    const garbage = Buffer.alloc(0xc00, 0x42);
    assert.throws(() => parsePartitionTable(garbage), /partition 0 invalid magic number 0x4242/);
    const overlap = [...layout('8MB').entries];
    overlap[1] = { ...overlap[1]!, size: 0x300000 };
    assert.throws(() => validatePartitionTable(parsePartitionTable(writePartitionTable(overlap))), /overlap/);
    const mis = [{ label: 'a', type: 0, subtype: 0, offset: 0x11000, size: 0x1000, encrypted: false }];
    assert.throws(() => validatePartitionTable(parsePartitionTable(writePartitionTable(mis))), /not 0x10000-aligned/);
  });

  it('reads K/M sizes, named subtypes and the encrypted flag from CSV', () => {
    const e = parsePartitionCsv('# x\nnvs, data, nvs, 0x9000, 28K\nfactory, app, factory, 0x10000, 1M\nfs, data, 5, , 508K, encrypted\n');
    assert.deepEqual(e.map((x) => [x.subtype, x.offset, x.size, x.encrypted]), [[2, 0x9000, 0x7000, false], [0, 0x10000, 0x100000, false], [5, 0x110000, 508 * 1024, true]]);
  });
});
