import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { field, fieldWords, type EfuseWords } from '../../src/core/efuse/fields';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { KeyStore } from '../../src/core/keystore/key-store';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { digestPrivateKey } from '../../src/core/crypto/secure-boot-key';
import { encodeSec1Pem, generateSigningKey } from '../../src/core/crypto/signing-key';
import { fingerprint } from '../../src/core/util/fingerprint';
import { burnKeys, type BurnKeysRequest } from '../../src/core/workflows/burn-keys';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import type { SecureKeys } from '../../src/core/secure-build/process';
import type { BoardSession } from '../../src/core/workflows/board';
import { readAudit } from '../../src/core/audit/audit-log';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { storeWroteBoard } from '../../src/core/workflows/evidence';
import { deviceDir } from '../../src/core/flash/session';
import { JOURNAL_FILE } from '../../src/core/flash/journal';
import { KEYS, flashMd5, secureBuildWith, tmpDir, downloadSession } from './flash-harness';
import { cli } from './helpers/cli';

/**
 * `efuse burn-keys --keys-burned-elsewhere` (from the fourth new-user trial): the user's word that
 * read-protected key blocks hold the given keys is first held against the board's flash, the
 * evidence `flash` uses. Keys A were burned with espefuse (both blocks protected, flash encryption
 * on, secure boot not yet) and A's build is on the flash; keys B are another set.
 */
const KEYS_A: SecureKeys = { signingKey: KEYS.signingKey, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, flashCryptConf: 0xf };
const B_SIGNING = generateSigningKey();
const KEYS_B: SecureKeys = { signingKey: B_SIGNING, flashKey: Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 0x5b) & 0xff), secureBootKey: digestPrivateKey(B_SIGNING, 256), flashCryptConf: 0xf };

function orField(raw: EfuseWords, name: string, value: number): EfuseWords {
  const w = fieldWords(field(name), value);
  const out = raw.map((b) => [...b]);
  out[0] = out[0]!.map((x, i) => (x | w[i]!) >>> 0);
  return out;
}

/** What espefuse leaves after `burn_key flash_encryption` and `burn_key secure_boot_v1` of A's keys, FLASH_CRYPT_CONFIG 0xF and FLASH_CRYPT_CNT 1. */
function espefuseBurnedA(raw: EfuseWords): EfuseWords {
  let out = raw.map((b) => [...b]);
  out[1] = keyFileToBlockWords(KEYS_A.flashKey, { reverse: true, coding: 'none' });
  out[2] = keyFileToBlockWords(KEYS_A.secureBootKey, { reverse: true, coding: 'none' });
  out = orField(orField(out, 'RD_DIS', 0b11), 'WR_DIS', (1 << 7) | (1 << 8));
  return orField(orField(out, 'FLASH_CRYPT_CONFIG', 0xf), 'FLASH_CRYPT_CNT', 1);
}

/** Writes A's build (encrypted with A's flash key, its digest made with A's secure boot key) straight into the flash. */
function preloadA(dev: VirtualEsp32): void {
  for (const r of planFromBuild(findBuildOutputs(secureBuildWith(KEYS_A), { flashKey: KEYS_A.flashKey }), { flashSize: 0x800000 }).regions) {
    dev.flash.eraseRange(r.address, Math.ceil(r.data.length / 0x1000) * 0x1000);
    dev.flash.program(r.address, r.data);
  }
}

interface Rig { dev: VirtualEsp32; session: BoardSession; mac: string; close(): void }

async function board(seed: string, o: { flash: boolean }): Promise<Rig> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed });
  dev.efuse.setRaw(espefuseBurnedA(dev.efuse.rawWords()));
  if (o.flash) preloadA(dev);
  const { session, close } = await downloadSession(dev);
  return { dev, mac: session.chip.mac.address, session, close };
}

const newStore = (): KeyStore => new KeyStore(path.join(tmpDir('elsewhere-ev-'), 'secure'));

function request(store: KeyStore, keys: { flashKey: Uint8Array; secureBootKey: Uint8Array }, over: Partial<BurnKeysRequest> = {}): BurnKeysRequest {
  return { store, keys: () => ({ flashKey: keys.flashKey, secureBootKey: keys.secureBootKey }), hardening: false, keysBurnedElsewhere: true, showPlan: () => undefined, ...over };
}

const hexes = (...keys: Uint8Array[]): string[] => keys.flatMap((k) => [Buffer.from(k).toString('hex'), Buffer.from(k).reverse().toString('hex')]);

describe('efuse burn-keys --keys-burned-elsewhere: the board\'s flash is evidence against the user\'s word', function () {
  this.timeout(120_000);

  const refusals: { name: string; keys: { flashKey: Uint8Array; secureBootKey: Uint8Array }; block: 'BLOCK1' | 'BLOCK2'; shows: RegExp; hint: RegExp }[] = [
    {
      name: 'another flash-encryption key (the flash at 0x1000 does not decrypt with it)', keys: { flashKey: KEYS_B.flashKey, secureBootKey: KEYS_B.secureBootKey }, block: 'BLOCK1',
      shows: new RegExp(`the bootloader region at 0x1000 is written but does not decrypt with the given flash-encryption key ${fingerprint(KEYS_B.flashKey)} \\(no bootloader header\\)`),
      hint: /give the key that was burned into BLOCK1 \(--flash-key FILE\)/,
    },
    {
      name: 'the right flash key but another secure boot key (the digest at 0x0 does not match it)', keys: { flashKey: KEYS_A.flashKey, secureBootKey: KEYS_B.secureBootKey }, block: 'BLOCK2',
      shows: new RegExp(`the bootloader at 0x1000 decrypts and parses, but the digest written at 0x0 does not match the given secure boot key ${fingerprint(KEYS_B.secureBootKey)}`),
      hint: /give the key that was burned into BLOCK2 \(--secure-boot-key FILE or --signing-key FILE\)/,
    },
  ];
  for (const c of refusals) {
    for (const dryRun of [false, true]) {
      it(`${c.name}${dryRun ? ', dry run' : ''}: E_KEY_CONTRADICTED in one sentence, nothing asked, burned or recorded`, async () => {
        const rig = await board(`ev-elsewhere-${c.block}-${dryRun}`, { flash: true });
        try {
          const store = newStore();
          const efuseBefore = rig.dev.efuse.rawWords();
          const flashBefore = flashMd5(rig.dev);
          let asked = 0;
          let shown = 0;
          const ui = scriptedUi({ confirmMac: (q) => { asked++; return q.mac; }, choose: (q) => { asked++; return q.items[0]?.value; } });
          await assert.rejects(burnKeys(rig.session, request(store, c.keys, { dryRun, hardening: undefined, showPlan: () => { shown++; } }), ui), (e: Error & { code?: string }) => {
            assert.equal(e.code, 'E_KEY_CONTRADICTED');
            assert.match(e.message, new RegExp(`^The flash of ${rig.mac} shows that its read-protected ${c.block} holds another`));
            assert.match(e.message, c.shows);
            assert.match(e.message, c.hint);
            assert.match(e.message, /; nothing was burned or recorded\.$/);
            assert.equal(e.message.split('. ').length, 1, 'one sentence');
            for (const h of hexes(KEYS_A.flashKey, KEYS_A.secureBootKey, KEYS_B.flashKey, KEYS_B.secureBootKey)) assert.ok(!e.message.includes(h));
            return true;
          });
          assert.equal(asked, 0, 'nothing asked');
          assert.equal(shown, 0, 'no plan shown');
          assert.deepEqual(rig.dev.efuse.rawWords(), efuseBefore);
          assert.equal(flashMd5(rig.dev), flashBefore);
          assert.equal(fs.existsSync(store.auditPath), false, 'nothing recorded');
        } finally {
          rig.close();
        }
      });
    }
  }

  it('the keys the flash agrees with: accepted on the user\'s word, burned, and the record says what the flash showed', async () => {
    const rig = await board('ev-elsewhere-agrees', { flash: true });
    try {
      const store = newStore();
      const lines: string[] = [];
      const r = await burnKeys(rig.session, request(store, KEYS_A), scriptedUi({ log: (_l, t) => lines.push(t) }));
      assert.equal(r.kind, 'burned');
      if (r.kind !== 'burned') return;
      assert.deepEqual(r.result.burned, ['abs-done-0']);
      assert.deepEqual(r.result.keysNotVerified.map((u) => u.block), [1, 2]);
      assert.equal(rig.dev.efuse.rawField('ABS_DONE_0'), 1n);
      assert.ok(lines.some((l) => /^The keys in BLOCK1 and BLOCK2 taken on your word: the board's flash agrees with them: the board's flash decrypted with the flash key [0-9a-f]+ is a valid image set/.test(l)), lines.join('\n'));
      const done = readAudit(store.auditPath).records.find((x) => x.phase === 'done')!;
      for (const u of done.keysNotVerified!) {
        assert.equal(u.result, 'not verified');
        assert.match(u.reason, /cannot be compared with the key file; the board's flash agrees with them: .*valid image set/);
      }
      const log = fs.readFileSync(store.auditPath, 'utf8');
      for (const h of hexes(KEYS_A.flashKey, KEYS_A.secureBootKey)) assert.ok(!log.includes(h));
    } finally {
      rig.close();
    }
  });

  it('an erased flash says nothing: the user\'s word is taken as before, and the record says the flash said nothing', async () => {
    const rig = await board('ev-elsewhere-blank', { flash: false });
    try {
      const store = newStore();
      const r = await burnKeys(rig.session, request(store, KEYS_B), scriptedUi());
      assert.equal(r.kind, 'burned');
      assert.equal(rig.dev.efuse.rawField('ABS_DONE_0'), 1n);
      const done = readAudit(store.auditPath).records.find((x) => x.phase === 'done')!;
      assert.deepEqual(done.keysNotVerified!.map((u) => [u.block, u.keyFingerprint]), [[1, fingerprint(KEYS_B.flashKey)], [2, fingerprint(KEYS_B.secureBootKey)]]);
      for (const u of done.keysNotVerified!) assert.match(u.reason, /; the board's flash says nothing about them: the flash at 0x1000 decrypted with the flash key [0-9a-f]+ holds no bootloader image$/);
    } finally {
      rig.close();
    }
  });

  it('a board this key store has flashed: its flash is not read for or against the keys (as for flash), the word is taken and the record says why', async () => {
    const rig = await board('ev-elsewhere-wrote', { flash: true });
    try {
      const store = newStore();
      // This store's own flash run left its journal for the board (flash/session.ts).
      fs.mkdirSync(deviceDir(store, rig.mac), { recursive: true });
      fs.writeFileSync(path.join(deviceDir(store, rig.mac), JOURNAL_FILE), '{}\n');
      assert.ok(storeWroteBoard(store, rig.mac));
      const r = await burnKeys(rig.session, request(store, KEYS_B), scriptedUi());
      assert.equal(r.kind, 'burned');
      const done = readAudit(store.auditPath).records.find((x) => x.phase === 'done')!;
      for (const u of done.keysNotVerified!) assert.match(u.reason, /the board's flash was not read back, as this key store has written it before \(.*\), so it cannot vouch for or against them$/);
    } finally {
      rig.close();
    }
  });

  it('CLI: the reproduction (keys A burned with espefuse, A\'s build on the flash, key files B): refused in one line with exit code 2 before the MAC is even checked, nothing burned or recorded', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'ev-elsewhere-cli' });
    dev.efuse.setRaw(espefuseBurnedA(dev.efuse.rawWords()));
    preloadA(dev);
    const dir = tmpDir('elsewhere-ev-cli-');
    fs.writeFileSync(path.join(dir, 'fk.bin'), KEYS_B.flashKey, { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'signing.pem'), encodeSec1Pem(B_SIGNING), { mode: 0o600 });
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const port = `socket://127.0.0.1:${server.port}`;
      const store = path.join(dir, 'store');
      const efuseBefore = dev.efuse.rawWords();
      const r = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', path.join(dir, 'fk.bin'), '--signing-key', path.join(dir, 'signing.pem'), '--keys-burned-elsewhere', '--key-store', store, '--confirm', '00:00:00:00:00:00']);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /^pycom-secure efuse burn-keys: The flash of [0-9a-f:]+ shows that its read-protected BLOCK1 holds another flash-encryption key than the one given to take on your word \(--keys-burned-elsewhere\)/);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, /give the key that was burned into BLOCK1 \(--flash-key FILE\); nothing was burned or recorded\./);
      assert.deepEqual(dev.efuse.rawWords(), efuseBefore);
      assert.equal(fs.existsSync(path.join(store, 'audit.jsonl')), false);
    } finally {
      await server.close();
    }
  });
});
