import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { bootloaderVerificationKey } from '../../src/core/image/bootloader-key';
import { signingPublicKey } from '../../src/core/keys/signer';

const root = path.join(__dirname, '..', '..');
const cli = (args: string[], env: NodeJS.ProcessEnv = process.env, cwd = root) => spawnSync(process.execPath, [path.join(root, 'bin', 'pycom-secure.js'), ...args], { cwd, env, encoding: 'utf8' });

describe('npm run sample-firmware: a firmware tree that builds with your own keys, for CLI rehearsals', function () {
  this.timeout(120_000);
  let base: string;
  before(() => {
    base = fs.mkdtempSync(path.join(os.tmpdir(), 'sample-fw-'));
  });
  after(() => fs.rmSync(base, { recursive: true, force: true }));

  it('makes the tree, prints the rehearsal, and the tree builds with freshly generated keys', () => {
    const dir = path.join(base, 'rehearsal');
    const r = spawnSync('bash', ['scripts/sample-firmware.sh', dir], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // The printout is the README's quick path, in the README's words (its sim serve line included), in this folder.
    const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
    const block = /^```sh\nnpm run sample-firmware -- (\S+).*\n([\s\S]*?)^```$/m.exec(readme)!;
    const quickPath = block[2]!.trimEnd().split('\n').map((l) => `  ${l.split(block[1]!).join(dir)}`);
    assert.ok(quickPath.includes('  pycom-secure sim serve --profile GPY --state .pycom/gpy.json &    # prints: listening on 127.0.0.1:PORT'), quickPath.join('\n'));
    const printed = r.stdout.trimEnd().split('\n');
    assert.deepEqual(printed.slice(-quickPath.length), quickPath);
    assert.equal(printed.filter((l) => /pycom-secure sim serve/.test(l)).length, 1, r.stdout);
    const fw = path.join(dir, 'firmware', 'pycom-micropython-sigfox', 'esp32');
    assert.ok(fs.existsSync(path.join(fw, 'Makefile')));
    assert.equal(fs.readFileSync(path.join(dir, '.gitignore'), 'utf8'), 'secure/\n.pycom/\n');
    assert.equal(cli(['generate-signing-key', 'secure/secure_boot_signing_key.pem'], process.env, dir).status, 0);
    assert.equal(cli(['generate-flash-encryption-key', 'secure/flash_encryption_key.bin'], process.env, dir).status, 0);
    const env = { ...process.env, PATH: `${path.join(dir, 'firmware', 'toolchain', 'bin')}${path.delimiter}${process.env.PATH ?? ''}`, IDF_PATH: path.join(dir, 'firmware', 'esp-idf') };
    const b = cli(['build', '--board', 'GPY', '--project', fw], env, dir);
    assert.equal(b.status, 0, b.stdout + b.stderr);
    // The same note from each encrypt-flash-data call make runs is one fact: said once (third new-user trial).
    assert.equal(b.stderr.split('\n').filter((l) => /^Note: padded with \d+ bytes of 0xFF/.test(l)).length, 1, b.stderr);
    assert.ok(fs.existsSync(path.join(fw, 'build', 'GPY', 'release', 'gpy.bin_enc')));
    // The bootloader is linked with the verification key of the key it was built with, as IDF's
    // is, so a virtual board with secure boot checks the app with it (image/bootloader-key.ts).
    const digestImage = fs.readFileSync(path.join(fw, 'build', 'GPY', 'release', 'bootloader', 'bootloader-reflash-digest.bin_enc'));
    const flashKey = fs.readFileSync(path.join(dir, 'secure', 'flash_encryption_key.bin'));
    const bootloader = decryptFlashData(digestImage, { key: flashKey, address: 0, flashCryptConf: 0xf }).subarray(0x1000);
    const own = signingPublicKey(path.join(dir, 'secure', 'secure_boot_signing_key.pem'));
    assert.equal(Buffer.from(bootloaderVerificationKey(bootloader) ?? []).toString('hex'), Buffer.from(own).toString('hex'));
  });

  it('refuses a folder that is not empty, and no folder at all, changing nothing', () => {
    const full = path.join(base, 'full');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(full, 'mine.txt'), 'x');
    const r = spawnSync('bash', ['scripts/sample-firmware.sh', full], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /exists and is not empty; give a new folder \(nothing was changed\)\./);
    assert.deepEqual(fs.readdirSync(full), ['mine.txt']);
    const none = spawnSync('bash', ['scripts/sample-firmware.sh'], { cwd: root, encoding: 'utf8' });
    assert.equal(none.status, 2);
    assert.match(none.stderr, /give the folder to create, e\.g\. npm run sample-firmware -- /);
  });
});
