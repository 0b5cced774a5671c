import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { AuditLog } from '../../src/core/audit/audit-log';


/** A small tmpfs (root only; CI and the developers' machines run as root); undefined where mount is not allowed. */
function smallDisk(kb: number, readOnly = false): { dir: string; done(): void } | undefined {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${kb}k${readOnly ? ',ro' : ''}`, 'tmpfs', dir], { stdio: 'ignore' });
  } catch {
    fs.rmdirSync(dir);
    return undefined;
  }
  return { dir, done: () => { execFileSync('umount', [dir]); fs.rmdirSync(dir); } };
}

/**
 * Issue 18, points 1-3: one write path that checks every byte (a full disk never leaves a short
 * file in place of a good one), one bounded type-checked read path (no FIFO hangs, no
 * /dev/zero that never ends, sizes checked before reading), every file-system error a sentence.
 */
describe('files: nothing lost, nothing hung', function () {
  this.timeout(30_000);
  let dir: string;
  let key: string;
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fs-paths-'));
    key = path.join(dir, 'k.bin');
    assert.equal((await cli(['generate-flash-encryption-key', key])).code, 0);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('a disk that fills up mid-write: E_NOSPC, no partial output, the old output intact, no temp file', async () => {
    const disk = smallDisk(64);
    if (!disk) {
      // Without mount (not root) the same promise is checked with writeSync writing only part of the data.
      const orig = fs.writeSync;
      (fs as { writeSync: unknown }).writeSync = (fd: number, buf: Uint8Array, off = 0, len = buf.length) => orig(fd, buf, off, Math.min(len, 4096)) && 0;
      try {
        const r = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', path.join(dir, 'o.enc'), key]);
        assert.match(r.err, /the disk is full/);
      } finally {
        (fs as { writeSync: unknown }).writeSync = orig;
      }
      return;
    }
    try {
      const plain = path.join(dir, 'plain.bin');
      fs.writeFileSync(plain, Buffer.alloc(40_000, 0x5a));
      const out = path.join(disk.dir, 'out.enc');
      fs.writeFileSync(out, 'the good old output');
      fs.writeFileSync(path.join(disk.dir, 'filler'), Buffer.alloc(40 * 1024));
      const r = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', out, plain]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, `pycom-secure encrypt-flash-data: Cannot write the output file ${out}: the disk is full; free some space and run the command again.\n`);
      assert.equal(fs.readFileSync(out, 'utf8'), 'the good old output');
      assert.deepEqual(fs.readdirSync(disk.dir).sort(), ['filler', 'out.enc']);
      // The audit log on a full disk: one sentence, and no torn line left behind.
      const audit = new AuditLog(path.join(disk.dir, 'audit.jsonl'));
      fs.writeFileSync(path.join(disk.dir, 'filler2'), Buffer.alloc(64 * 1024 - 40 * 1024 - 8 * 1024));
      let err: unknown;
      try {
        for (let i = 0; i < 200; i++) audit.append({ id: 'x', operation: 'test', mac: '00:00:00:00:00:00', phase: 'intent', message: 'y'.repeat(500) });
      } catch (e) {
        err = e;
      }
      assert.match(String((err as Error)?.message), /Cannot append to the audit log .*: the disk is full/);
      const text = fs.readFileSync(audit.file, 'utf8');
      assert.ok(text === '' || text.endsWith('\n'), 'no torn last line');
      for (const l of text.split('\n').filter(Boolean)) JSON.parse(l);
    } finally {
      disk.done();
    }
  });

  it('a read-only disk, a path under a file, a name too long: one sentence each, nothing written', async () => {
    const plain = path.join(dir, 'plain.bin');
    fs.writeFileSync(plain, Buffer.alloc(64, 1));
    const ro = smallDisk(64, true);
    if (ro) {
      try {
        const r = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', path.join(ro.dir, 'o.enc'), plain]);
        assert.equal(r.code, 2, r.err);
        assert.match(r.err, /Cannot write the output file .*o\.enc: the file system is read-only; choose a writable location\./);
      } finally {
        ro.done();
      }
    }
    fs.writeFileSync(path.join(dir, 'afile'), 'x');
    const under = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', path.join(dir, 'afile', 'o.enc'), plain]);
    assert.equal(under.code, 2, under.err);
    assert.match(under.err, /is a file, not a folder; choose another path\./);
    const long = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', path.join(dir, `${'n'.repeat(300)}.enc`), plain]);
    assert.equal(long.code, 2, long.err);
    assert.match(long.err, /the name is too long for the file system; choose a shorter name\./);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['afile', 'k.bin', 'plain.bin']);
  });

  it('a FIFO, /dev/zero or a huge file as input is refused before reading (no hang, no memory blow-up)', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const out = path.join(dir, 'o.enc');
    const a = await cli(['encrypt-flash-data', '--keyfile', fifo, '--address', '0x10000', '--output', out, key]);
    assert.equal(a.code, 2);
    assert.match(a.err, /is not a regular file \(a pipe, socket or device\); give the path of a file\./);
    const z = await cli(['encrypt-flash-data', '--keyfile', '/dev/zero', '--address', '0x10000', '--output', out, key]);
    assert.equal(z.code, 2);
    assert.match(z.err, /\/dev\/zero is not a regular file/);
    const huge = path.join(dir, 'huge.bin');
    const fd = fs.openSync(huge, 'w');
    fs.ftruncateSync(fd, 1 << 30);
    fs.closeSync(fd);
    const h = await cli(['encrypt-flash-data', '--keyfile', key, '--address', '0x10000', '--output', out, huge]);
    assert.equal(h.code, 2);
    assert.match(h.err, /is 1073741824 bytes, more than the \d+ a .* can be; check that this is the right file\./);
    const hk = await cli(['encrypt-flash-data', '--keyfile', huge, '--address', '0x10000', '--output', out, key]);
    assert.match(hk.err, /more than the 1048576/);
    assert.equal(fs.existsSync(out), false);
  });

  it('a PEM key with text after its END line, a second key block or a damaged block is refused, nothing written', async () => {
    const pem = path.join(dir, 'sk.pem');
    assert.equal((await cli(['generate-signing-key', pem])).code, 0);
    const good = fs.readFileSync(pem, 'latin1');
    const other = path.join(dir, 'sk2.pem');
    assert.equal((await cli(['generate-signing-key', other])).code, 0);
    const plain = path.join(dir, 'plain.bin');
    fs.writeFileSync(plain, Buffer.alloc(4096, 1));
    const out = path.join(dir, 'signed.bin');
    const cases: Array<[string, string, RegExp]> = [
      ['trailing.pem', good + 'garbage appended by a broken copy\n', /has 33 character\(s\) of other text after its last "-----END" line/],
      ['two.pem', good + fs.readFileSync(other, 'latin1'), /holds 2 key blocks \("EC PRIVATE KEY", "EC PRIVATE KEY"\), so which key is meant is not clear; keep one key per file\./],
      ['damaged.pem', good + '-----BEGIN EC PRIVATE KEY-----\nnot base64 !!\n-----END EC PRIVATE KEY-----\n', /1 of its "-----BEGIN" blocks is damaged/],
    ];
    for (const [name, text, want] of cases) {
      const f = path.join(dir, name);
      fs.writeFileSync(f, text);
      const r = await cli(['sign-data', '--version', '1', '--keyfile', f, '--output', out, plain]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, want);
      assert.match(r.err, /^pycom-secure sign-data: The key file .* cannot be used: .*\.\n$/);
      assert.equal(fs.existsSync(out), false);
    }
    // Explanatory text before the block (as `openssl ec -text` writes) is still fine.
    fs.writeFileSync(path.join(dir, 'text.pem'), 'Private-Key: (256 bit)\n' + good);
    assert.equal((await cli(['sign-data', '--version', '1', '--keyfile', path.join(dir, 'text.pem'), '--output', out, plain])).code, 0);
  });
});
