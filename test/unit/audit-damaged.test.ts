import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BoardRecordWriter } from '../../src/core/audit/board-record';
import { damagedLinesPhrase } from '../../src/core';
import { cli } from './helpers/cli';
import { fixtureStore, servedBurnedGpy, tmpDir } from './flash-harness';

/**
 * Trial 6: `records` skipped a corrupt audit log line silently (24 records, exit 0), and a store
 * whose audit.jsonl was a binary file (written there by `decrypt-flash-data --output`) gave [] with
 * exit 0. The audit log is the key evidence: a damaged line is named (file, line numbers), a file
 * with no record at all is refused, and no output is ever written to a file named audit.jsonl.
 */
describe('a damaged audit log is named, never skipped silently', function () {
  this.timeout(60_000);

  /** A store whose audit log holds two flash records (4 lines), line `bad` replaced by garbage. */
  function storeWithRecords(bad?: number): ReturnType<typeof fixtureStore> {
    const store = fixtureStore();
    for (const mac of ['24:0a:c4:00:00:01', '24:0a:c4:00:00:02']) new BoardRecordWriter(store.auditPath, 'flash', mac, () => []).end('ok', {});
    if (bad !== undefined) {
      const lines = fs.readFileSync(store.auditPath, 'utf8').split('\n');
      lines[bad - 1] = 'GARBAGE{';
      fs.writeFileSync(store.auditPath, lines.join('\n'));
    }
    return store;
  }

  it('records: a damaged line is named on stderr (file and line), the other records are printed, exit 1; a whole log exits 0', async () => {
    const whole = await cli(['records', '--key-store', storeWithRecords().dir]);
    assert.equal(whole.code, 0, whole.err);
    assert.equal(whole.err, '');
    assert.equal((JSON.parse(whole.out) as unknown[]).length, 2);

    const store = storeWithRecords(2);
    const r = await cli(['records', '--key-store', store.dir]);
    assert.equal(r.code, 1, r.err);
    assert.equal((JSON.parse(r.out) as Array<{ mac: string }>).map((x) => x.mac).sort().join(), '24:0a:c4:00:00:01,24:0a:c4:00:00:02');
    assert.equal(r.err, `Warning: line 2 of ${store.auditPath} is not a record, so what it held is missing from these records; restore the audit log from your backup of the key store if you have one (exit code 1).\n`);
    const csv = await cli(['records', '--key-store', store.dir, '--format', 'csv']);
    assert.equal(csv.code, 1);
    assert.match(csv.err, /line 2 of .* is not a record/);
  });

  it('records: an audit.jsonl with no record at all (a binary file) is refused in one sentence, exit 2, nothing printed', async () => {
    const store = fixtureStore();
    fs.writeFileSync(store.auditPath, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) & 0xff)));
    const r = await cli(['records', '--key-store', store.dir]);
    assert.equal(r.code, 2, r.err);
    assert.equal(r.out, '');
    assert.match(r.err, new RegExp(`^pycom-secure records: ${store.auditPath.replace(/[/.]/g, '\\$&')} is not a key store's audit log: none of its \\d+ lines? is a record \\(one JSON object per line, with an id and a phase\\); restore it from your backup of the key store, or give the folder that holds the right audit\\.jsonl with --key-store DIR\\.\\n$`));
  });

  it('the damaged lines in words: runs of numbers, at most 8, a torn last line said as such', () => {
    const d = (lines: number[], last = false) => lines.map((line, i) => ({ line, last: last && i === lines.length - 1 }));
    assert.equal(damagedLinesPhrase('a.jsonl', []), '');
    assert.equal(damagedLinesPhrase('a.jsonl', d([5])), 'line 5 of a.jsonl is not a record');
    assert.equal(damagedLinesPhrase('a.jsonl', d([7], true)), 'line 7 of a.jsonl is not a record (a torn last line: a run was cut off while writing it)');
    assert.equal(damagedLinesPhrase('a.jsonl', d([2, 3, 4, 9])), 'lines 2-4 and 9 of a.jsonl are not records');
    assert.equal(damagedLinesPhrase('a.jsonl', d([1, 3, 5, 7, 9, 11, 13, 15, 17, 19])), 'lines 1, 3, 5, 7, 9, 11, 13, 15 and 2 more of a.jsonl are not records');
  });

  it('no output goes to a file named audit.jsonl: decrypt-flash-data --output into a key store is refused before anything is written', async () => {
    const store = fixtureStore();
    const dir = tmpDir('audit-out-');
    const data = path.join(dir, 'data.bin');
    fs.writeFileSync(data, Buffer.alloc(64, 0x5a));
    for (const cmd of ['decrypt-flash-data', 'encrypt-flash-data']) {
      const r = await cli([cmd, '--keyfile', store.sharedFlashKeyPath, '--address', '0x10000', '--output', store.auditPath, data]);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, `pycom-secure ${cmd}: Cannot write the output file ${store.auditPath}: its name audit.jsonl is that of a key store's audit log (board records and the evidence of every Burn Keys run), which this tool never writes over; choose another path for the output file.\n`);
      assert.equal(fs.existsSync(store.auditPath), false, 'nothing written');
      assert.deepEqual(fs.readdirSync(store.dir).filter((f) => f.includes('audit')), [], 'no temporary file left');
    }
    // An existing log is refused as before, and left as it was.
    const full = storeWithRecords();
    const before = fs.readFileSync(full.auditPath);
    const r = await cli(['decrypt-flash-data', '--keyfile', full.sharedFlashKeyPath, '--address', '0x10000', '--output', full.auditPath, data]);
    assert.equal(r.code, 2);
    assert.deepEqual(fs.readFileSync(full.auditPath), before);
  });

  it('the key evidence says once, in its line, which lines of the audit log it skipped', async () => {
    const store = fixtureStore();
    const { server, port } = await servedBurnedGpy(store, `audit-damaged-${Math.random()}`);
    try {
      fs.appendFileSync(store.auditPath, 'GARBAGE{\n');
      const n = fs.readFileSync(store.auditPath, 'utf8').trimEnd().split('\n').length;
      const r = await cli(['predict-boot', '--port', port, '--key-store', store.dir]);
      const evidence = r.err.split('\n').filter((l) => l.startsWith('Key evidence:'));
      assert.equal(evidence.length, 1, r.err);
      assert.match(evidence[0]!, new RegExp(`^Key evidence: the verified Burn Keys run \\S+ \\(\\S+\\) in \\S+ burned .* \\(line ${n} of \\S+audit\\.jsonl is not a record, so it was skipped\\)\\.$`));
      assert.equal(r.err.match(/is not a record/g)?.length, 1, 'said once');
    } finally {
      await server.close();
    }
  });
});
