import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fixtureApp, fixtureBootloader, prng } from '../../scripts/make-fixture-firmware';
import { readEspImage } from '../../src/core/image/esp-image';
import { classifyContent } from '../../src/core/firmware/content';
import { identifyFile } from '../../src/core/image/file-kind';
import { KEYS } from './flash-harness';
import { run, tempDir } from './vectors/security-helpers';
import type { CliResult } from './vectors/cli-harness';

const FX = path.join(__dirname, '..', 'fixtures', 'firmware', 'pycom-micropython-sigfox', 'esp32', 'prepared');

/** Exit 2, exactly one line on stderr matching `re`, nothing on stdout, no file added to `dir`. */
function refused(r: CliResult, re: RegExp, dir: string, before: string[]): void {
  assert.equal(r.code, 2, r.stderr.join(' | '));
  assert.equal(r.stderr.length, 1, r.stderr.join(' | '));
  assert.match(r.stderr[0]!, re);
  assert.deepEqual(r.stdout, []);
  assert.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing was written');
}

describe('files are read the way the chip reads them (issue #12 D)', () => {
  let dir: string;
  let sk: string;
  let fk: string;
  let sbk: string;
  const file = (name: string, data?: Uint8Array): string => {
    const p = path.join(dir, name);
    if (data) fs.writeFileSync(p, data);
    return p;
  };
  beforeEach(() => {
    dir = tempDir();
    sk = file('signing.pem', KEYS.signingKeyPem);
    fk = file('flash.bin', KEYS.flashKey);
    sbk = file('sb.bin', KEYS.secureBootKey);
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('reproduction D: sign-data, encrypt-flash-data, decrypt-flash-data -> image-info says present and padding; verify-signature is valid', async () => {
    const app = file('app.bin', fixtureApp(24 * 1024));
    const appLen = fs.statSync(app).size;
    assert.equal((await run('sign-data', '--keyfile', sk, '--output', file('signed.bin'), app)).code, 0);
    assert.equal((await run('encrypt-flash-data', '--keyfile', fk, '--address', '0x10000', '--output', file('signed.bin_enc'), file('signed.bin'))).code, 0);
    assert.equal((await run('decrypt-flash-data', '--keyfile', fk, '--address', '0x10000', '--output', file('readback.bin'), file('signed.bin_enc'))).code, 0);
    assert.equal(fs.statSync(file('readback.bin')).size, appLen + 68 + 12, 'the block, then 12 bytes of padding to a 16-byte boundary');

    const info = await run('image-info', file('readback.bin'));
    assert.equal(info.code, 0, info.stderr.join(' | '));
    const sigLine = info.stdout.find((l) => l.startsWith('Secure boot v1 signature block'));
    assert.equal(sigLine, `Secure boot v1 signature block: present at offset 0x${appLen.toString(16)} (68 bytes, version 0), then 12 bytes of 0xFF padding, which the bootloader does not read; check it with verify-signature`);
    assert.ok(info.stdout.includes('Kind: an app image'));
    assert.ok(!info.stdout.some((l) => /absent|unexpected/.test(l)));

    const v = await run('verify-signature', '--keyfile', sk, file('readback.bin'));
    assert.equal(v.code, 0, v.stderr.join(' | '));
    assert.match(v.stdout[0]!, /^Signature is valid \(key [0-9a-f]+; an app image, block at offset 0x/);
    assert.deepEqual(v.stderr, ['Note: the signature block is followed by 12 bytes of 0xFF padding; the bootloader does not read them.']);
  });

  it("espsecure's random padding and a flash read-back after the block are padding, and the flash classifier reads the same block", () => {
    const signedApp = fs.readFileSync(path.join(FX, 'app.bin'));
    const readBack = Buffer.concat([signedApp, prng('espsecure-random-pad', 12), Buffer.alloc(0x1000, 0xff)]);
    const img = readEspImage(readBack);
    assert.equal(img.signature.at, signedApp.length - 68);
    assert.equal(img.signature.present, true);
    assert.equal(img.signature.trailer.text, '4108 bytes of padding (12 bytes up to a 16-byte boundary, as flash encryption pads, then 4096 bytes of 0xFF)');
    assert.equal(classifyContent(readBack).signed, true, 'the flash checks see the block too');
    assert.equal(identifyFile(readBack).kind, 'app');
    const withData = Buffer.concat([signedApp, Buffer.from('not padding at all, just data after it')]);
    assert.equal(readEspImage(withData).signature.present, true);
    assert.equal(readEspImage(withData).signature.trailer.kind, 'data');
  });

  it('image-info and verify-signature name a bootloader image, which is not signed', async () => {
    const bl = file('bootloader.bin', fixtureBootloader());
    const info = await run('image-info', bl);
    assert.equal(info.code, 0);
    assert.equal(info.stdout[0], 'Kind: a bootloader image (flashed at 0x1000)');
    assert.equal(info.stdout.at(-1), 'Secure boot v1 signature block: none (bootloaders are not signed; with secure boot the ROM checks the digest at 0x0 instead)');
    const before = fs.readdirSync(dir).sort();
    refused(await run('verify-signature', '--keyfile', sk, bl), /bootloader\.bin is a bootloader image \(flashed at 0x1000\), which secure boot v1 does not sign .*verify the app and the partition table instead\.$/, dir, before);
  });

  it('image-info and verify-signature name the digest image (0x0), which carries a digest, not a signature', async () => {
    const bl = file('bootloader.bin', fixtureBootloader());
    const iv = file('iv.bin', prng('iv', 128));
    assert.equal((await run('digest-secure-bootloader', '--keyfile', sbk, '--iv', iv, '--output', file('digest.bin'), bl)).code, 0);
    const info = await run('image-info', file('digest.bin'));
    assert.equal(info.code, 0, info.stderr.join(' | '));
    assert.match(info.stdout[0]!, /^Kind: a secure boot digest image \(IV, digest and bootloader: the reflashable image flashed at 0x0\)$/);
    assert.ok(info.stdout.some((l) => /^ {2}Segments: 4$/.test(l)), 'the bootloader inside is described');
    const before = fs.readdirSync(dir).sort();
    refused(await run('verify-signature', '--keyfile', sk, file('digest.bin')), /digest\.bin is a secure boot digest image .*which is not signed .*`pycom-secure predict-boot`/, dir, before);
  });

  it('a partition table: its block at 0xC00 as the bootloader reads it, padding after it ignored; unsigned is named', async () => {
    const signed = fs.readFileSync(path.join(FX, 'partitions_8MB.bin'));
    const padded = file('pt.bin', Buffer.concat([signed, Buffer.alloc(28, 0xff)]));
    const info = await run('image-info', padded);
    assert.equal(info.code, 0);
    assert.equal(info.stdout[0], 'Kind: a partition table (flashed at 0x8000)');
    assert.ok(info.stdout.includes('Secure boot v1 signature block: present at offset 0xc00 (68 bytes, version 0), then 28 bytes of 0xFF padding, which the bootloader does not read; check it with verify-signature'));
    assert.equal((await run('verify-signature', '--keyfile', sk, padded)).code, 0);
    const unsigned = file('pt-unsigned.bin', signed.subarray(0, 0xc00));
    const before = fs.readdirSync(dir).sort();
    refused(await run('verify-signature', '--keyfile', sk, unsigned), /pt-unsigned\.bin is a partition table \(flashed at 0x8000\) with no signature block at 0xc00, where the bootloader looks for it \(the file ends there\): sign it with sign-data\.$/, dir, before);
  });

  it('ciphertext is named as such by both commands, with the command that decrypts it', async () => {
    const enc = path.join(FX, 'app.bin_enc');
    const before = fs.readdirSync(dir).sort();
    refused(await run('image-info', enc), /app\.bin_enc is not an ESP32 firmware image and looks like ciphertext .*`pycom-secure decrypt-flash-data --keyfile KEY --address ADDR --output PLAIN .*app\.bin_enc`/, dir, before);
    refused(await run('verify-signature', '--keyfile', sk, enc), /app\.bin_enc does not end with a signature block \(the version word at 0x[0-9a-f]+ is 0x[0-9a-f]{8}, not 0\) and looks like ciphertext/, dir, before);
    assert.equal(identifyFile(fs.readFileSync(path.join(FX, 'partitions_8MB.bin_enc'))).kind, 'ciphertext');
    assert.equal(identifyFile(fs.readFileSync(path.join(FX, 'bootloader-reflash-digest.bin_enc'))).kind, 'ciphertext');
  });

  it('an app signed over padding after the image: the block is not where the bootloader reads it, and both commands say so', async () => {
    const app = file('app.bin', Buffer.concat([fixtureApp(8 * 1024), Buffer.alloc(16, 0xff)]));
    assert.equal((await run('sign-data', '--keyfile', sk, '--output', file('signed.bin'), app)).code, 0);
    const info = await run('image-info', file('signed.bin'));
    assert.match(info.stdout.at(-1)!, /^Secure boot v1 signature block: NOT where the bootloader looks \(offset 0x[0-9a-f]+, right after the image\): the file ends with a block at 0x[0-9a-f]+, so it was signed over 16 bytes that are not part of the image and the bootloader would reject it$/);
    const before = fs.readdirSync(dir).sort();
    refused(await run('verify-signature', '--keyfile', sk, file('signed.bin')), /signature block is at 0x[0-9a-f]+ instead of 0x[0-9a-f]+ where the bootloader reads it, because it was signed over 16 bytes after the image: sign the file without those bytes/, dir, before);
  });

  it('an unsigned app: absent where the bootloader looks, with what is there', async () => {
    const app = fixtureApp(8 * 1024);
    const plain = file('app.bin', app);
    const before = fs.readdirSync(dir).sort();
    refused(await run('verify-signature', '--keyfile', sk, plain), new RegExp(`app\\.bin is an app image with no signature block at 0x${app.length.toString(16)}, where the bootloader looks for it \\(the file ends there\\): sign it with sign-data\\.$`), dir, before);
    const padded = file('app-ff.bin', Buffer.concat([app, Buffer.alloc(100, 0xff)]));
    const info = await run('image-info', padded);
    assert.equal(info.stdout.at(-1), `Secure boot v1 signature block: absent (at offset 0x${app.length.toString(16)}, where the bootloader looks for it, there are 100 bytes of 0xFF padding)`);
  });
});
