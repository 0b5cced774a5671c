import { strict as assert } from 'node:assert';
import { blockWordsToKeyFile, keyFileToBlockWords, keyFileToReadWords } from '../../../src/core/crypto/efuse-key-layout';
import { fixture, type Vector } from './manifest';

const BLOCK_OF: Record<string, number> = { flash_encryption: 1, BLOCK1: 1, secure_boot_v1: 2, secure_boot_v2: 2, BLOCK2: 2, BLOCK3: 3 };
const REVERSING_ALIASES = new Set(['flash_encryption', 'secure_boot_v1']);
/** EFUSE_BLKn_WDATA0 register addresses (BLOCK1..3). */
const WDATA0: Record<number, number> = { 1: 0x3ff5a098, 2: 0x3ff5a0b8, 3: 0x3ff5a0d8 };

const hexWord = (w: number): string => `0x${(w >>> 0).toString(16).padStart(8, '0')}`;

/** Checks one efuse_layout vector against the pure key→register-word functions. */
export function checkEfuseLayout(v: Vector): void {
  const cmd = v.command.slice(v.command.lastIndexOf('burn_key') + 'burn_key'.length).trim().split(/\s+/);
  const coding = String(v.params?.['coding_scheme'] ?? '').startsWith('3/4') ? '3/4' : 'none';
  const protect = !cmd.includes('--no-protect-key');
  const pairs: Array<{ name: string; file: string }> = [];
  for (let i = 0; i + 1 < cmd.length && !cmd[i]!.startsWith('-'); i += 2) pairs.push({ name: cmd[i]!, file: cmd[i + 1]! });
  assert.ok(pairs.length > 0, `${v.id}: no burn_key pairs parsed`);
  let rdDisWrDis = 0;
  for (const { name, file } of pairs) {
    const block = BLOCK_OF[name];
    assert.ok(block, `${v.id}: unknown block name ${name}`);
    const opts = { reverse: REVERSING_ALIASES.has(name), coding } as const;
    const key = new Uint8Array(fixture(file));
    const words = keyFileToBlockWords(key, opts);
    const recorded = v.write_registers?.[String(block)];
    assert.ok(recorded, `${v.id}: no register writes for block ${block}`);
    assert.deepEqual(recorded.map((r) => r.word), words.map(hexWord), `${v.id}: BLOCK${block} words`);
    assert.deepEqual(recorded.map((r) => Number(r.reg)), words.map((_, i) => WDATA0[block]! + 4 * i), `${v.id}: BLOCK${block} registers`);
    assert.deepEqual(blockWordsToKeyFile(words, opts), key, `${v.id}: inverse of the written words`);
    const dump = v.read_back_dump?.[`BLOCK${block}`];
    assert.ok(dump, `${v.id}: no read-back for BLOCK${block}`);
    if (protect) {
      // Read-protected blocks read back as zeros.
      assert.ok(dump.every((w) => Number(w) === 0), `${v.id}: protected BLOCK${block} must read as zeros`);
      if (REVERSING_ALIASES.has(name)) rdDisWrDis |= (1 << (15 + block)) | (1 << (6 + block));
    } else {
      const read = keyFileToReadWords(key, opts);
      assert.deepEqual(dump, read.map(hexWord), `${v.id}: BLOCK${block} read-back`);
      assert.deepEqual(blockWordsToKeyFile(read, opts), key, `${v.id}: inverse of the read-back words`);
    }
  }
  assert.equal(Number(v.read_back_dump?.['BLOCK0']?.[0] ?? 0), rdDisWrDis, `${v.id}: BLOCK0 word0 protection bits`);
}
