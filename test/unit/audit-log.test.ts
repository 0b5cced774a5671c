import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AuditLog, assertNoKeyBytes, interruptedOperations, readAudit } from '../../src/core/audit/audit-log';
import { EfuseController } from '../../src/core/virtual/efuse-controller';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { freshRaw } from './burn-keys.test';
import { VERSION } from '../../src/core/version';

const MAC = '24:0a:c4:12:34:56';

function tmpLog(): AuditLog {
  return new AuditLog(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'audit-')), 'audit.jsonl'));
}

describe('audit log', () => {
  it('a burn writes intent, step and done lines that parse and never contain key bytes', async () => {
    const ctl = new EfuseController({ raw: freshRaw() });
    const access = directAccess(ctl);
    const log = tmpLog();
    const flashKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 13 + 5) & 0xff);
    const sbKey = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 11) & 0xff);
    const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: 1, mac: MAC }, flashKey, secureBootKey: sbKey, hardening: true });
    await executeBurnKeys(access, plan, { confirmMac: MAC, flashKey, secureBootKey: sbKey, audit: log });
    const text = fs.readFileSync(log.file, 'utf8');
    const { records, damaged } = readAudit(log.file);
    assert.deepEqual(damaged, []);
    assert.equal(records[0]!.phase, 'intent');
    assert.equal(records[records.length - 1]!.phase, 'done');
    assert.equal(records.filter((r) => r.phase === 'step-done').length, 7);
    for (const r of records) {
      assert.equal(r.mac, MAC);
      assert.equal(r.version, VERSION);
      assert.ok(r.time && r.revision && r.operation === 'burn-keys');
      assert.ok(r.keyFingerprints && Object.keys(r.keyFingerprints).length === 2);
    }
    assert.ok(records[0]!.plan && records[0]!.efuseBefore);
    assert.ok(records[records.length - 1]!.efuseAfter);
    // Scan for the keys in every form they could leak in: bytes, reversed, and as register words.
    const lower = text.toLowerCase();
    for (const k of [flashKey, sbKey]) {
      const b = Buffer.from(k);
      const rev = Buffer.from(k).reverse();
      for (const h of [b.toString('hex'), rev.toString('hex')]) {
        assert.ok(!lower.includes(h));
        for (let i = 0; i + 8 <= h.length; i += 8) assert.ok(!lower.includes(h.slice(i, i + 8)), `key chunk ${i / 8} leaked`);
      }
      for (let i = 0; i < 32; i += 4) assert.ok(!lower.includes(rev.readUInt32LE(i).toString(16).padStart(8, '0')), 'register word leaked');
    }
    assert.deepEqual(interruptedOperations(records, MAC), []);
  });

  it('an intent without a done line is an interrupted operation', () => {
    const log = tmpLog();
    log.append({ id: 'a', phase: 'intent', operation: 'burn-keys', mac: MAC });
    log.append({ id: 'a', phase: 'done', operation: 'burn-keys', mac: MAC });
    log.append({ id: 'b', phase: 'intent', operation: 'burn-keys', mac: MAC });
    log.append({ id: 'b', phase: 'failed', operation: 'burn-keys', mac: MAC, message: 'power lost' });
    assert.deepEqual(interruptedOperations(readAudit(log.file).records).map((r) => r.id), ['b']);
  });

  it('reports a torn last line and keeps the earlier lines; the next append starts on a new line', () => {
    const log = tmpLog();
    log.append({ id: 'a', phase: 'intent', operation: 'burn-keys', mac: MAC });
    fs.appendFileSync(log.file, '{"id":"a","phase":"step-in');
    let r = readAudit(log.file);
    assert.equal(r.records.length, 1);
    assert.deepEqual(r.damaged, [{ line: 2, last: true }]);
    log.append({ id: 'a', phase: 'done', operation: 'burn-keys', mac: MAC });
    r = readAudit(log.file);
    assert.equal(r.records.length, 2);
    assert.deepEqual(r.damaged, [{ line: 2, last: false }]);
  });

  it('refuses to write a record that carries key bytes', () => {
    const k = Uint8Array.from({ length: 32 }, (_, i) => i + 100);
    assert.throws(() => assertNoKeyBytes({ nested: { x: Buffer.from(k).toString('hex') } }, [k]));
    assert.doesNotThrow(() => assertNoKeyBytes({ fingerprint: 'abcd' }, [k]));
  });

  it('is created with mode 0600', function () {
    if (process.platform === 'win32') this.skip();
    const log = tmpLog();
    log.append({ id: 'a', phase: 'intent', operation: 'x', mac: MAC });
    assert.equal(fs.statSync(log.file).mode & 0o777, 0o600);
  });
});
