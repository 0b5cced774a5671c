import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { cli } from './helpers/cli';
import { fixtureKeys } from '../../scripts/make-fixture-firmware';

const K = fixtureKeys();
/** The fs module object itself (the ES namespace is read-only); the product's imports read through to it. */
const mutableFs = createRequire(__filename)('node:fs') as { writeSync: typeof fs.writeSync };


/** Directory listing with sizes and contents' first bytes, to compare before and after a command. */
function listing(dir: string): string[] {
  return fs.readdirSync(dir).sort().map((f) => `${f}:${fs.readFileSync(path.join(dir, f)).toString('hex').slice(0, 64)}`);
}

/**
 * Outputs are written atomically (temp file in the same directory, fsync, rename): a write that
 * fails half-way (a full disk) leaves neither a partial output nor a temp file, and an existing
 * output keeps its old content. The full disk is simulated by failing fs.writeSync with ENOSPC
 * after half the bytes are written, which is what a filling tmpfs does, portably and without root.
 */
describe('security review: outputs written atomically; failing commands leave nothing behind', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sec-atomic-'));
  const keyFile = path.join(dir, 'flash_key.bin');
  const plain = path.join(dir, 'plain.bin');
  before(() => {
    fs.writeFileSync(keyFile, K.flashKey, { mode: 0o600 });
    fs.writeFileSync(plain, Buffer.alloc(64 * 1024, 0x5a));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a disk that fills half-way through encrypt-flash-data: clear error, no partial output, no temp file, old output intact', async () => {
    const out = path.join(dir, 'enc.bin');
    fs.writeFileSync(out, 'previous output');
    const before = listing(dir);
    const real = mutableFs.writeSync;
    let partial = 0;
    // Writes half of the buffer for real, then fails as a full disk does.
    (mutableFs as { writeSync: unknown }).writeSync = (fd: number, data: Uint8Array, ...rest: unknown[]) => {
      if (ArrayBuffer.isView(data) && data.length >= 1024) {
        partial += real(fd, data.subarray(0, data.length >> 1));
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      }
      return (real as (...a: unknown[]) => number)(fd, data, ...rest);
    };
    let r;
    try {
      r = await cli(['encrypt-flash-data', '--keyfile', keyFile, '--address', '0x10000', '--output', out, plain]);
    } finally {
      mutableFs.writeSync = real;
    }
    assert.ok(partial > 0, 'the failure really came half-way through a write');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /disk is full/);
    assert.deepEqual(listing(dir), before);
    assert.equal(fs.readFileSync(out, 'utf8'), 'previous output');
  });

  it('every failing output-writing CLI command leaves the directory as it was (no output, no temp file)', async () => {
    const garbage = path.join(dir, 'garbage.pem');
    fs.writeFileSync(garbage, 'not a key\n');
    fs.writeFileSync(path.join(dir, 'exists.pem'), 'mine');
    const cases: string[][] = [
      ['encrypt-flash-data', '--keyfile', garbage, '--address', '0x10000', '--output', path.join(dir, 'o1.bin'), plain],
      ['encrypt-flash-data', '--keyfile', keyFile, '--address', '0x10001', '--output', path.join(dir, 'o2.bin'), plain],
      ['encrypt-flash-data', '--keyfile', keyFile, '--address', '0x10000', '--output', path.join(dir, 'o3.bin'), path.join(dir, 'missing.bin')],
      ['encrypt-flash-data', '--keyfile', keyFile, '--address', '0x10000', '--output', path.join(dir, 'no-such-dir', 'o4.bin'), plain],
      ['decrypt-flash-data', '--keyfile', keyFile, '--address', '0x10000', '--output', path.join(dir, 'o5.bin'), garbage],
      ['generate-signing-key', path.join(dir, 'exists.pem')],
      ['generate-flash-encryption-key', '--keylen', '128', path.join(dir, 'o6.bin')],
      ['sign-data', '--keyfile', garbage, '--output', path.join(dir, 'o7.bin'), plain],
      ['digest-secure-bootloader', '--keyfile', keyFile, '--output', path.join(dir, 'o8.bin'), garbage],
      ['digest-private-key', '--keyfile', garbage, path.join(dir, 'o9.bin')],
      ['extract-public-key', '--keyfile', garbage, path.join(dir, 'o10.pem')],
    ];
    for (const argv of cases) {
      const before = listing(dir);
      const r = await cli(argv);
      assert.notEqual(r.code, 0, `${argv.join(' ')} should fail\n${r.out}`);
      assert.ok(r.err.trim().length > 0, `${argv[0]} says why`);
      assert.deepEqual(listing(dir), before, argv.join(' '));
    }
  });
});
