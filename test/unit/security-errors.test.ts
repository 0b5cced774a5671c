import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { pemOf, run, tempDir, vec } from './vectors/security-helpers';
import type { CliResult } from './vectors/cli-harness';

/** Each bad input must give exit 2, exactly one line on stderr naming the problem, and no output. */
function expectRefusal(r: CliResult, pattern: RegExp, out?: string): void {
  assert.equal(r.code, 2, `exit code; stderr: ${r.stderr.join(' | ')}`);
  assert.equal(r.stderr.length, 1, `one line on stderr: ${r.stderr.join(' | ')}`);
  assert.match(r.stderr[0]!, pattern);
  if (out) {
    assert.ok(!fs.existsSync(out), `no output file left at ${out}`);
    const leftovers = fs.readdirSync(path.dirname(out)).filter((f) => f.endsWith('.tmp'));
    assert.deepEqual(leftovers, [], 'no temporary files left');
  }
}

describe('security commands refuse bad input clearly', () => {
  let dir: string;
  let out: string;
  beforeEach(() => {
    dir = tempDir();
    out = path.join(dir, 'out.bin');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const write = (name: string, data: string | Uint8Array): string => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, data);
    return p;
  };

  it('wrong flash key length', async () => {
    const key = write('k16.bin', new Uint8Array(16));
    expectRefusal(await run('encrypt-flash-data', '--keyfile', key, '--address', '0x1000', '--output', out, vec('inputs/img_4096.bin')), /k16\.bin holds 16 bytes but must hold 32 bytes \(or 24/, out);
  });

  it('wrong secure boot key length', async () => {
    const key = write('k20.bin', new Uint8Array(20));
    expectRefusal(await run('digest-secure-bootloader', '--keyfile', key, '--output', out, vec('inputs/bootloader_a.bin')), /holds 20 bytes/, out);
  });

  it('missing key file', async () => {
    expectRefusal(await run('encrypt-flash-data', '-k', path.join(dir, 'nope.bin'), '-a', '0', '-o', out, vec('inputs/img_4096.bin')), /nope\.bin does not exist/, out);
  });

  it('PEM of another curve (secp384r1), SEC1, PKCS#8 and public', async () => {
    for (const type of ['sec1', 'pkcs8'] as const) {
      const key = write(`p384-${type}.pem`, pemOf('secp384r1', type));
      expectRefusal(await run('sign-data', '--version', '1', '--keyfile', key, '--output', out, vec('inputs/img_4096.bin')), /the key is on curve secp384r1; ESP32 secure boot v1 needs NIST P-256 \(prime256v1\)/, out);
    }
    const pub = write('p384-pub.pem', pemOf('secp384r1', 'spki'));
    expectRefusal(await run('verify-signature', '--keyfile', pub, vec('outputs/img_4096.signed.bin')), /curve secp384r1/);
  });

  it('RSA PEM (PKCS#1 and PKCS#8)', async () => {
    for (const type of ['pkcs1', 'pkcs8'] as const) {
      const key = write(`rsa-${type}.pem`, pemOf('rsa', type));
      expectRefusal(await run('extract-public-key', '--keyfile', key, out), /the key is an RSA key/, out);
    }
  });

  it('garbage PEM and damaged DER', async () => {
    const garbage = write('garbage.pem', 'this is not a key\n');
    expectRefusal(await run('digest-private-key', '--keyfile', garbage, out), /not a PEM key file/, out);
    const damaged = write('damaged.pem', '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIA==\n-----END EC PRIVATE KEY-----\n');
    expectRefusal(await run('sign-data', '--keyfile', damaged, '-o', out, vec('inputs/img_4096.bin')), /not valid DER/, out);
  });

  it('image with bad magic (digest and image-info)', async () => {
    expectRefusal(await run('digest-secure-bootloader', '-k', vec('outputs/sk_secure_boot_key_256.bin'), '--iv', vec('inputs/iv.bin'), '-o', out, vec('inputs/img_4096.bin')), /starts with 0xa2 instead of the magic byte 0xe9/, out);
    expectRefusal(await run('image-info', vec('inputs/img_4096.bin')), /not an ESP32 firmware image/);
  });

  it('truncated image and too many segments', async () => {
    const bl = fs.readFileSync(vec('inputs/bootloader_a.bin'));
    const cut = write('cut.bin', bl.subarray(0, 5000));
    expectRefusal(await run('digest-secure-bootloader', '-k', vec('outputs/sk_secure_boot_key_256.bin'), '-o', out, cut), /is truncated: segment 1 needs 4608 bytes/, out);
    expectRefusal(await run('image-info', write('tiny.bin', bl.subarray(0, 10))), /only 10 bytes/);
    const many = Buffer.from(bl);
    many[1] = 17;
    expectRefusal(await run('image-info', write('many.bin', many)), /declares 17 segments/);
  });

  it('misaligned and out-of-range addresses', async () => {
    const args = ['-k', vec('inputs/flash_key_256.bin'), '-o', out, vec('inputs/img_4096.bin')];
    expectRefusal(await run('encrypt-flash-data', '-a', '0x1008', ...args), /0x1008 is not a multiple of 16/, out);
    expectRefusal(await run('decrypt-flash-data', '-a', '0xfff800', ...args), /past 0x1000000/, out);
    expectRefusal(await run('encrypt-flash-data', '-a', 'ten', ...args), /--address must be a number/, out);
  });

  it('unknown FLASH_CRYPT_CONFIG value', async () => {
    expectRefusal(await run('encrypt-flash-data', '-k', vec('inputs/flash_key_256.bin'), '-a', '0x10000', '--flash-crypt-conf', '0x10', '-o', out, vec('inputs/img_4096.bin')), /FLASH_CRYPT_CONFIG must be between 0x0 and 0xF/, out);
  });

  it('ciphertext that is not whole 16-byte blocks leaves no partial output', async () => {
    expectRefusal(await run('decrypt-flash-data', '-k', vec('inputs/flash_key_256.bin'), '-a', '0x10000', '-o', out, vec('inputs/img_65636.bin')), /not a multiple of 16/, out);
  });

  it('output path in a missing directory (a key file gets its key folder made instead, see newcomer-messages.test.ts)', async () => {
    const missing = path.join(dir, 'no-such-dir', 'out.bin');
    expectRefusal(await run('encrypt-flash-data', '-k', vec('inputs/flash_key_256.bin'), '-a', '0x1000', '-o', missing, vec('inputs/img_4096.bin')), /directory .*no-such-dir does not exist/);
    assert.ok(!fs.existsSync(path.dirname(missing)));
  });

  it('secure boot v2 is refused with the reason', async () => {
    const key = path.join(dir, 'k.pem');
    expectRefusal(await run('generate-signing-key', '--version', '2', key), /secure boot v2 needs ESP32 revision 3 and Pycom modules are revision 0\/1/, key);
    expectRefusal(await run('sign-data', '--version', '2', '-k', vec('inputs/signing_key.pem'), '-o', out, vec('inputs/img_4096.bin')), /revision 3/, out);
  });

  it('an existing key file is never overwritten, and the message says where it is', async () => {
    for (const [cmd, ...extra] of [['generate-flash-encryption-key'], ['generate-signing-key'], ['digest-private-key', '--keyfile', vec('inputs/signing_key.pem')]] as string[][]) {
      const key = write(`existing-${cmd}.bin`, 'precious');
      const r = await run(cmd!, ...extra, key);
      assert.equal(r.code, 2);
      assert.equal(r.stderr.length, 1);
      assert.ok(r.stderr[0]!.includes(path.resolve(key)), r.stderr[0]);
      // A file that is not a key is not called one: it is simply in the way.
      assert.match(r.stderr[0]!, /already exists, and a new key is never written over anything; give a path where no file is yet\./);
      assert.equal(fs.readFileSync(key, 'utf8'), 'precious');
    }
    // An existing key is named as such.
    const real = write('flash_encryption_key.bin', Buffer.alloc(32, 7));
    const r = await run('generate-flash-encryption-key', real);
    assert.equal(r.code, 2);
    assert.match(r.stderr[0]!, /A key file already exists at .* key files are never overwritten/);
    assert.ok(fs.readFileSync(real).equals(Buffer.alloc(32, 7)));
  });

  it('key files are written with mode 0600, other outputs are not', async () => {
    const files = {
      flash: path.join(dir, 'flash.bin'),
      flash192: path.join(dir, 'flash192.bin'),
      signing: path.join(dir, 'signing.pem'),
      sbkey: path.join(dir, 'sb.bin'),
    };
    assert.equal((await run('generate-flash-encryption-key', files.flash)).code, 0);
    assert.equal((await run('generate-flash-encryption-key', '--keylen', '192', files.flash192)).code, 0);
    assert.equal((await run('generate-signing-key', files.signing)).code, 0);
    assert.equal((await run('digest-private-key', '--keyfile', files.signing, '--keylen', '192', files.sbkey)).code, 0);
    for (const f of Object.values(files)) assert.equal(fs.statSync(f).mode & 0o777, 0o600, f);
    assert.equal(fs.statSync(files.flash).size, 32);
    assert.equal(fs.statSync(files.flash192).size, 24);
    assert.equal(fs.statSync(files.sbkey).size, 24);
    const pub = path.join(dir, 'pub.bin');
    assert.equal((await run('extract-public-key', '--keyfile', files.signing, pub)).code, 0);
    assert.equal(fs.statSync(pub).size, 64);
  });

  it('unsupported --keylen and AES-XTS are refused', async () => {
    const key = path.join(dir, 'k.bin');
    expectRefusal(await run('generate-flash-encryption-key', '--keylen', '128', key), /--keylen must be 256/, key);
    expectRefusal(await run('encrypt-flash-data', '-x', '-k', vec('inputs/flash_key_256.bin'), '-a', '0', '-o', out, vec('inputs/img_4096.bin')), /AES-XTS/, out);
  });

  it('verify-signature: bad version word, too-short file, PKCS#8 key', async () => {
    expectRefusal(await run('verify-signature', '-k', vec('outputs/sk_pubkey_raw.bin'), vec('inputs/img_4096_badversion.signed.bin')), /does not end with a signature block \(the version word at 0x1000 is 0x00000001, not 0\) and looks like ciphertext .*otherwise sign it with sign-data\.$/);
    expectRefusal(await run('verify-signature', '-k', vec('outputs/sk_pubkey_raw.bin'), write('short.bin', 'abc')), /too short to end with a 68-byte signature block/);
    expectRefusal(await run('verify-signature', '-k', vec('inputs/sk_pkcs8.pem'), vec('outputs/img_4096.signed.bin')), /PKCS#8/);
  });

  it('sign-data in place refuses to sign twice', async () => {
    const data = write('app.bin', fs.readFileSync(vec('inputs/img_4096.bin')));
    assert.equal((await run('sign-data', '-k', vec('inputs/signing_key.pem'), data)).code, 0);
    assert.ok(fs.readFileSync(data).equals(fs.readFileSync(vec('outputs/img_4096.signed.bin'))));
    expectRefusal(await run('sign-data', '-k', vec('inputs/signing_key.pem'), data), /already ends with a signature by this key/);
    assert.equal(fs.statSync(data).size, 4096 + 68);
  });

  it('image-info reports a signature block and exits 1 on a bad checksum', async () => {
    const bl = fs.readFileSync(vec('inputs/bootloader_b.bin'));
    const signed = path.join(dir, 'signed.bin');
    assert.equal((await run('sign-data', '-k', vec('inputs/signing_key.pem'), '-o', signed, write('bl.bin', bl))).code, 0);
    const ok = await run('image-info', signed);
    assert.equal(ok.code, 0);
    assert.match(ok.stdout.join('\n'), /signature block: present/);
    assert.match(ok.stdout.join('\n'), /Segments: 3/);
    const broken = Buffer.from(bl);
    broken[100]! ^= 1;
    const bad = await run('image-info', write('broken.bin', broken));
    assert.equal(bad.code, 1);
    assert.match(bad.stdout.join('\n'), /Checksum: .*INVALID/);
  });
});
