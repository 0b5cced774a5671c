import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { BoardRecordWriter, boardRecordsCsv, endByBoot, latestBoardRecords, readBoardRecords, recordFlashProgress, recordKeyEvidence, sha256Hex } from '../../src/core/audit/board-record';
import { boardPlanFromBuild } from '../../src/core/secure-build/per-device';
import { decryptFlashData, encryptFlashData } from '../../src/core/crypto/flash-encryption';
import { classifyContent } from '../../src/core/firmware/content';
import { isUserError } from '../../src/core/errors';
import { KEYS, secureBuild, tmpDir } from './flash-harness';
import { cli } from './helpers/cli';

describe('board records (issue #14 point 3)', () => {
  it('folds a run\'s lines into one record; a run cut off is "interrupted"; --mac takes any spelling', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const a = new BoardRecordWriter(file, 'provision', '24:0a:c4:00:00:01', () => [], { board: 'GPY', port: 'socket://x:1' });
    a.add('flash', { regions: [{ address: 0x10000, file: 'gpy.bin_enc', sha256: 'ab'.repeat(32), length: 32 }] });
    a.add('flash', { regions: [{ address: 0x8000, file: 'partitions.bin_enc', sha256: 'cd'.repeat(32), length: 32 }] });
    a.end('ok', { efuseAfter: { x: 1 } });
    new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:02', () => []);
    const all = readBoardRecords(file);
    assert.deepEqual(all.map((r) => [r.operation, r.mac, r.result]), [['provision', '24:0a:c4:00:00:01', 'ok'], ['flash', '24:0a:c4:00:00:02', 'interrupted']]);
    assert.deepEqual(all[0]!.regions.map((g) => g.address), [0x10000, 0x8000]);
    assert.equal(all[0]!.board, 'GPY');
    assert.deepEqual(readBoardRecords(file, '24-0A-C4-00-00-02').map((r) => r.operation), ['flash']);
  });

  it('a region begun and never written is the one the run was cut off in: listed after the written ones, marked cutOff, and ":cut-off" in the CSV', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const w = new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:0a', () => []);
    const plan = { regions: [{ address: 0x0, file: 'digest.bin_enc', data: new Uint8Array(64).fill(1) }, { address: 0x10000, file: 'gpy.bin_enc', data: new Uint8Array(96).fill(2) }] };
    recordFlashProgress(w, plan, { phase: 'erase', address: 0x0 });
    recordFlashProgress(w, plan, { phase: 'write', address: 0x0 });
    recordFlashProgress(w, plan, { phase: 'done', address: 0x0, regionBytesWritten: 64 });
    recordFlashProgress(w, plan, { phase: 'erase', address: 0x10000 });
    // No end line: the process stopped (power, kill) in the app.
    const [rec] = readBoardRecords(file);
    assert.equal(rec!.result, 'interrupted');
    assert.deepEqual(rec!.regions, [
      { address: 0x0, file: 'digest.bin_enc', sha256: sha256Hex(plan.regions[0]!.data), length: 64, bytesWritten: 64 },
      { address: 0x10000, file: 'gpy.bin_enc', sha256: sha256Hex(plan.regions[1]!.data), length: 96, cutOff: true },
    ]);
    const row = boardRecordsCsv([rec!]).split('\n')[1]!;
    assert.ok(row.includes(`0x0:digest.bin_enc:${sha256Hex(plan.regions[0]!.data)} 0x10000:gpy.bin_enc:${sha256Hex(plan.regions[1]!.data)}:cut-off,`), row);
  });

  it('refuses to write a line holding a key it was told about, forwards or reversed', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const key = new Uint8Array(randomBytes(32));
    const w = new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:03', () => [key]);
    const before = fs.readFileSync(file, 'utf8');
    assert.throws(() => w.add('oops', { note: Buffer.from(key).reverse().toString('hex') }), /refusing to write key material/);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
  });

  it('CSV quotes commas, quotes and newlines (RFC 4180) and keeps one row per record', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const w = new BoardRecordWriter(file, 'provision', '24:0a:c4:00:00:04', () => []);
    w.end('failed', {}, 'the "port" went away,\nunplugged');
    const csv = boardRecordsCsv(readBoardRecords(file));
    assert.ok(csv.includes('"the ""port"" went away,\nunplugged"'));
    assert.equal(csv.split('\n')[0], 'id,operation,mac,board,port,chipRevision,result,boot,keyEvidence,error,start,end,toolVersion,firmwareGeneration,firmwareVersions,flashKey,secureBootKey,buildKey,regions,burnRuns,supersedes,supersededBy,burnedSteps');
  });
});

describe('board records: the boot check and the key evidence', () => {
  it('a flash whose boot log says it does not boot is a failed record, the boot failure its error; the CSV has boot and keyEvidence', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const bad = new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:05', () => []);
    endByBoot(bad, { verdict: 'failed', summary: 'flash read err, 1000' }, { keyEvidence: recordKeyEvidence('acknowledged') });
    const good = new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:06', () => []);
    endByBoot(good, { verdict: 'boots', summary: 'MicroPython banner' }, { keyEvidence: recordKeyEvidence('burn-record') });
    const predicted = new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:07', () => []);
    endByBoot(predicted, undefined, { keyEvidence: recordKeyEvidence('flash-read-back') });
    const recs = readBoardRecords(file);
    assert.deepEqual(recs.map((r) => [r.result, r.boot, r.keyEvidence]), [['failed', 'failed', 'trust-key-store'], ['ok', 'boots', 'burn-record'], ['ok', 'predicted', 'read-back']]);
    assert.match(recs[0]!.error!, /does not boot: flash read err, 1000/);
    const rows = boardRecordsCsv(recs).trimEnd().split('\n');
    const head = rows[0]!.split(',');
    const cell = (row: number, col: string): string => rows[row]!.split(',')[head.indexOf(col)]!;
    assert.deepEqual([cell(1, 'result'), cell(1, 'boot'), cell(1, 'keyEvidence')], ['failed', 'failed', 'trust-key-store']);
    assert.deepEqual([cell(2, 'result'), cell(2, 'boot'), cell(2, 'keyEvidence')], ['ok', 'boots', 'burn-record']);
  });
});

describe('records: the key store folder', () => {
  it('refuses a key store folder that does not exist, naming it and --key-store, and creates nothing', async () => {
    const missing = path.join(tmpDir('rec-'), 'nope-store');
    const r = await cli(['records', '--key-store', missing]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.equal(r.out, '');
    assert.ok(r.err.includes(missing) && /does not exist/.test(r.err) && /--key-store DIR/.test(r.err), r.err);
    assert.equal(fs.existsSync(missing), false);
  });

  it('an existing key store with no runs yet gives an empty list', async () => {
    const r = await cli(['records', '--key-store', tmpDir('rec-')]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), []);
  });
});

describe('boardPlanFromBuild: one build re-encrypted per board key', () => {
  const dir = secureBuild('GPY', 8 * 1024, 'per-device-plan');
  const boardKey = new Uint8Array(randomBytes(32));

  it('decrypts each encrypted output with the build key and encrypts it for the board key at the same address', () => {
    const r = boardPlanFromBuild(dir, { flashKey: boardKey, buildKey: KEYS.flashKey, flashSize: 0x800000 });
    assert.equal(r.reencrypted, true);
    for (const g of r.plan.regions) {
      const plain = decryptFlashData(g.data, { key: boardKey, address: g.address, flashCryptConf: 0xf });
      assert.notEqual(classifyContent(plain).kind, 'unknown', `0x${g.address.toString(16)}`);
      assert.deepEqual(plain, decryptFlashData(new Uint8Array(fs.readFileSync(g.file)), { key: KEYS.flashKey, address: g.address, flashCryptConf: 0xf }));
    }
    // Deterministic: the same build and key give the same bytes (a rerun writes nothing).
    const again = boardPlanFromBuild(dir, { flashKey: boardKey, buildKey: KEYS.flashKey, flashSize: 0x800000 });
    assert.deepEqual(again.plan.regions.map((g) => g.data), r.plan.regions.map((g) => g.data));
  });

  it('re-encrypts a partition table of 3152 bytes (3072 + a 68-byte signature block, padded to 16 as espsecure does), as real builds hold', () => {
    const real = tmpDir('per-device-3152');
    fs.cpSync(dir, real, { recursive: true });
    for (const name of ['partitions_4MB.bin_enc', 'partitions_8MB.bin_enc']) {
      const f = path.join(real, 'lib', name);
      const plain = decryptFlashData(new Uint8Array(fs.readFileSync(f)), { key: KEYS.flashKey, address: 0x8000, flashCryptConf: 0xf }).subarray(0, 3152);
      fs.writeFileSync(f, encryptFlashData(plain, { key: KEYS.flashKey, address: 0x8000, flashCryptConf: 0xf }));
    }
    const r = boardPlanFromBuild(real, { flashKey: boardKey, buildKey: KEYS.flashKey, flashSize: 0x800000 });
    assert.equal(r.reencrypted, true);
    const table = r.plan.regions.find((g) => g.address === 0x8000)!;
    const plain = decryptFlashData(table.data, { key: boardKey, address: 0x8000, flashCryptConf: 0xf });
    assert.deepEqual(plain.subarray(0, 3152), decryptFlashData(new Uint8Array(fs.readFileSync(table.file)), { key: KEYS.flashKey, address: 0x8000, flashCryptConf: 0xf }));
    assert.ok(plain.subarray(3152).every((b) => b === 0xff), 'padded with erased flash');
  });

  it('uses the build as it is when it decrypts with the board key', () => {
    const r = boardPlanFromBuild(dir, { flashKey: KEYS.flashKey, buildKey: KEYS.flashKey, flashSize: 0x800000 });
    assert.equal(r.reencrypted, false);
  });

  it('a build made with another key: E_BUILD_KEY naming both fingerprints', () => {
    let err: unknown;
    try {
      boardPlanFromBuild(dir, { flashKey: boardKey, buildKey: new Uint8Array(randomBytes(32)), flashSize: 0x800000 });
    } catch (e) {
      err = e;
    }
    assert.ok(isUserError(err) && err.code === 'E_BUILD_KEY', String(err));
    assert.match((err as Error).message, /neither with the board's key [0-9a-f]+ nor with the build key [0-9a-f]+; the build was made with another key/);
  });
});

describe('board records: a run cut off, then the board written again', () => {
  it('the next flash or provision of that board supersedes the interrupted run; the history keeps both; --latest is the board\'s state; old lines still parse', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const mac = '24:0a:c4:00:00:08';
    // A line as written before `supersedes` existed: an intent with no end.
    fs.writeFileSync(file, `${JSON.stringify({ id: 'old-cut', operation: 'flash', mac, phase: 'intent', time: '2026-01-01T00:00:00.000Z', record: { port: 'p' } })}\n`);
    const other = new BoardRecordWriter(file, 'flash', '24:0a:c4:00:00:09', () => []);
    const ota = new BoardRecordWriter(file, 'ota-image', mac, () => []);
    ota.end('ok');
    const cutAgain = new BoardRecordWriter(file, 'provision', mac, () => []);
    const done = new BoardRecordWriter(file, 'flash', mac, () => []);
    done.end('ok');
    const after = new BoardRecordWriter(file, 'flash', mac, () => []);
    after.end('ok');
    const recs = readBoardRecords(file);
    const by = (id: string) => recs.find((r) => r.id === id)!;
    assert.deepEqual([by('old-cut').result, by('old-cut').supersedes, by('old-cut').supersededBy], ['interrupted', undefined, cutAgain.id]);
    assert.deepEqual([by(cutAgain.id).result, by(cutAgain.id).supersedes, by(cutAgain.id).supersededBy], ['interrupted', 'old-cut', done.id]);
    assert.deepEqual([by(done.id).supersedes, by(done.id).supersededBy], [cutAgain.id, undefined]);
    // After a finished run there is nothing to supersede; another board's and an ota-image run take over nothing.
    assert.equal(by(after.id).supersedes, undefined);
    assert.equal(by(other.id).supersedes, undefined);
    assert.equal(by(ota.id).supersedes, undefined);
    assert.deepEqual(latestBoardRecords(recs).map((r) => r.id), [other.id, after.id]);
    const csv = boardRecordsCsv(recs).trimEnd().split('\n');
    const head = csv[0]!.split(',');
    const row = csv.find((l) => l.startsWith(`${cutAgain.id},`))!.split(',');
    assert.deepEqual([row[head.indexOf('supersedes')], row[head.indexOf('supersededBy')]], ['old-cut', done.id]);
  });

  it('a failed run (the link lost mid-write, or a board that did not boot) is superseded by the next run that writes the board, as an interrupted one is', () => {
    const file = path.join(tmpDir('rec-'), 'audit.jsonl');
    const mac = '24:0a:c4:00:00:0a';
    const failed = new BoardRecordWriter(file, 'flash', mac, () => []);
    failed.end('failed', {}, 'the link to the board was lost while writing gpy.bin_enc');
    const done = new BoardRecordWriter(file, 'flash', mac, () => []);
    done.end('ok');
    const recs = readBoardRecords(file);
    const by = (id: string) => recs.find((r) => r.id === id)!;
    assert.deepEqual([by(failed.id).result, by(failed.id).supersededBy], ['failed', done.id]);
    assert.equal(by(done.id).supersedes, failed.id);
    assert.deepEqual(latestBoardRecords(recs).map((r) => r.id), [done.id]);
  });
});
