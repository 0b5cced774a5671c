import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bootloaderKeyMismatch } from '../../src/core/workflows/build';
import { KEY_STAMP_FILE } from '../../src/core/firmware/build-runner';
import { PLAIN_BOOTLOADER_FILE } from '../../src/core/firmware/generations';
import { generateSigningKey } from '../../src/core/crypto/signing-key';
import { fingerprint } from '../../src/core/util/fingerprint';
import { fixtureBootloader, fixtureKeys } from '../../scripts/make-fixture-firmware';
import { tmpDir } from './flash-harness';

/**
 * A build whose bootloader embeds another verification key than the signing key that signed the
 * build (make reused a bootloader linked before the key changed): `build` says so, with both
 * fingerprints and how to relink it, since a board given that bootloader refuses the build's app.
 */
describe('build: a bootloader linked with another signing key is named', () => {
  const signing = fixtureKeys().signingKey.publicKey;
  function buildDir(bootloaderKey: Uint8Array | undefined, stampKey: Uint8Array | undefined): string {
    const dir = tmpDir('bl-key-');
    if (bootloaderKey) {
      fs.mkdirSync(path.join(dir, path.dirname(PLAIN_BOOTLOADER_FILE)), { recursive: true });
      fs.writeFileSync(path.join(dir, PLAIN_BOOTLOADER_FILE), fixtureBootloader('bl-key', bootloaderKey));
    }
    if (stampKey) fs.writeFileSync(path.join(dir, KEY_STAMP_FILE), `${JSON.stringify({ signingKey: fingerprint(stampKey), flashKey: 'x' })}\n`);
    return dir;
  }

  it('another key in the bootloader: a warning with both fingerprints (no key bytes) and the way to relink it', () => {
    const other = generateSigningKey().publicKey;
    const dir = buildDir(other, signing);
    const w = bootloaderKeyMismatch(dir)!;
    assert.ok(w, 'a warning');
    assert.match(w, /^warning: the bootloader in .*bootloader verifies signatures with the key [0-9a-f]{16}, not the signing key [0-9a-f]{16} this build was signed with, so a board given this bootloader refuses this build's partition table and app; delete .* and build again with --target boot_app/);
    assert.ok(w.includes(fingerprint(other)) && w.includes(fingerprint(signing)));
    for (const k of [other, signing]) assert.ok(!w.toLowerCase().includes(Buffer.from(k).toString('hex').slice(0, 16)), 'no key bytes');
  });

  it('the same key, no bootloader, or no stamp: nothing said', () => {
    assert.equal(bootloaderKeyMismatch(buildDir(signing, signing)), undefined);
    assert.equal(bootloaderKeyMismatch(buildDir(undefined, signing)), undefined);
    assert.equal(bootloaderKeyMismatch(buildDir(generateSigningKey().publicKey, undefined)), undefined);
  });
});
