import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { KeyStore, digestPrivateKey, readSigningKeyFile, readHardwareKeyFile, fingerprint } from '../../src/core';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog } from '../../src/core/audit/audit-log';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { cli } from './helpers/cli';
import { tmpDir } from './flash-harness';

/**
 * Trial 6: `efuse burn-keys --flash-key ~/other/…` on a board whose BLOCK1 (readable: the burn that
 * wrote it was cut off before protecting it) holds the key of secure/ said "BLOCK1 already holds a
 * different key (fingerprint …)… nothing was burned" and not what to do. The refusal names the
 * key file and the key store's run that burned that key, and says to give it; nothing is burned or recorded.
 */
describe('Burn Keys on a block that holds another key names where that key is', function () {
  this.timeout(60_000);

  it('the CLI names secure/ (the default store) holding the key and its run, with --key-store to use it; nothing burned or recorded', async () => {
    const dir = tmpDir('other-key-');
    const dev = new VirtualEsp32({ profile: 'GPY', seed: `other-key-${Math.random()}` });
    const server = await startSimServer(dev, { port: 0 });
    const url = `socket://127.0.0.1:${server.port}`;
    const cwd = process.cwd();
    try {
      process.chdir(dir);
      const secure = new KeyStore(path.join(dir, 'secure'));
      generateMissingKeys(secure.dir, false, fs.existsSync);
      const flashKey = readHardwareKeyFile(secure.sharedFlashKeyPath, 'flash-encryption');
      const secureBootKey = digestPrivateKey(readSigningKeyFile(secure.signingKeyPath), 256);
      // secure/'s burn, cut off after its first step: BLOCK1 holds secure/'s key, still readable.
      const access = directAccess(dev.efuse);
      const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
      const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey, secureBootKey, hardening: false, history: [] });
      const ac = new AbortController();
      let started = 0;
      await assert.rejects(executeBurnKeys(access, plan, {
        confirmMac: mac, flashKey, secureBootKey, audit: new AuditLog(secure.auditPath), signal: ac.signal,
        onProgress: (m) => {
          if (m.startsWith('Burning: ') && ++started === 2) ac.abort();
        },
      }), /E_CANCELLED|cancelled/);
      assert.ok(dev.efuse.rawWords()[1]!.some((w) => w !== 0), 'BLOCK1 burned');
      const runId = (JSON.parse(fs.readFileSync(secure.auditPath, 'utf8').split('\n')[0]!) as { id: string }).id;

      const other = path.join(dir, 'other');
      generateMissingKeys(other, false, fs.existsSync);
      const before = JSON.stringify(dev.efuse.rawWords());
      const otherKey = path.join(other, 'flash_encryption_key.bin');
      const out = await cli(['efuse', 'burn-keys', '--port', url, '--flash-key', otherKey, '--signing-key', path.join(other, 'secure_boot_signing_key.pem'), '--confirm', 'x']);
      assert.equal(out.code, 2, out.err);
      const fp = fingerprint(flashKey);
      assert.match(out.err, new RegExp(`BLOCK1 already holds a different key \\(fingerprint ${fp}\\) than the one given \\(${fingerprint(readHardwareKeyFile(otherKey, 'flash-encryption'))}\\), and bits can only be added, never cleared, so nothing was burned; ${path.join(dir, 'secure', 'flash_encryption_key.bin').replace(/[/.]/g, '\\$&')} holds that key \\(Burn Keys run ${runId} \\(\\S+\\) of the key store \\S*secure burned it into \\S+\\), so give that key instead \\(or use that key store: --key-store DIR\\)\\.\\n$`));
      assert.equal(JSON.stringify(dev.efuse.rawWords()), before, 'nothing burned');
      assert.equal(fs.existsSync(path.join(other, 'audit.jsonl')), false, 'nothing recorded in the other store');
    } finally {
      process.chdir(cwd);
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
