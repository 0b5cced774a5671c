import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { DEVICES_DIR } from '../../src/core/keystore/key-store';
import { fixtureStore, flashMd5, secureBuild, tmpDir, KEYS } from './flash-harness';

function macOf(dev: VirtualEsp32): string {
  return Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

interface Summary {
  type: 'summary';
  ok: boolean;
  boards: { port: string; mac?: string; state: string; message: string; flashKeyFingerprint?: string; burned?: number; bytesWritten?: number; boot?: string }[];
  notSeen: string[];
}

function events(out: string): Array<Record<string, unknown>> {
  return out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
}

/**
 * Issue #14 acceptance: five `sim serve` boards over real sockets, four of them approved. One
 * provision run with per-device keys finishes the four (each its own key, records with distinct
 * fingerprints, predict-boot says each boots), leaves the fifth untouched and says so; a rerun
 * burns and writes nothing, it only verifies.
 */
describe('provision: five served virtual boards, four approved, per-device keys', function () {
  // Five boards provisioned in one process: slow on a loaded machine, not a timing assertion.
  this.timeout(300_000);
  const devs: VirtualEsp32[] = [];
  const servers: SimServer[] = [];
  const ports: string[] = [];
  const store = fixtureStore();
  const build = secureBuild('GPY');
  let fifthEfuse: string;
  let fifthFlash: string;

  before(async () => {
    for (let i = 0; i < 5; i++) {
      const dev = new VirtualEsp32({ profile: 'GPY', seed: `fleet-${i}`, bootPredictor: bootPredictorForVirtual });
      devs.push(dev);
      const s = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
      servers.push(s);
      ports.push(`socket://127.0.0.1:${s.port}`);
    }
    assert.equal(new Set(devs.map(macOf)).size, 5);
    fifthEfuse = JSON.stringify(devs[4]!.efuse.rawWords());
    fifthFlash = flashMd5(devs[4]!);
  });
  after(async () => {
    for (const s of servers) await s.close();
  });

  const approved = () => devs.slice(0, 4).map(macOf);
  const provisionArgs = () => [
    'provision', ...ports.flatMap((p) => ['--port', p]), '--build', build, '--board', 'GPY', '--key-store', store.dir,
    '--per-device-keys', '--confirm-macs', approved().join(','), '--boot-log-ms', '1500', '--json',
  ];

  it('finishes the four approved boards and leaves the fifth untouched, reported', async () => {
    const r = await cli(provisionArgs());
    assert.equal(r.code, 0, r.out + r.err);
    const ev = events(r.out);
    const summary = ev[ev.length - 1] as unknown as Summary;
    assert.equal(summary.type, 'summary');
    assert.equal(summary.ok, true);
    const finished = summary.boards.filter((b) => b.state === 'finished');
    assert.deepEqual(finished.map((b) => b.mac).sort(), approved().sort());
    for (const b of finished) {
      assert.ok(b.burned! > 0 && b.bytesWritten! > 0, b.message);
      assert.equal(b.boot, 'booted');
    }
    const fifth = summary.boards.find((b) => b.mac === macOf(devs[4]!))!;
    assert.equal(fifth.state, 'unapproved');
    assert.match(fifth.message, /not in the approved list; it was left untouched/);
    assert.ok(ev.some((e) => e['type'] === 'state' && e['state'] === 'unapproved' && e['mac'] === macOf(devs[4]!)));
    // Untouched: eFuses, flash and the key store (no key was made for it).
    assert.equal(JSON.stringify(devs[4]!.efuse.rawWords()), fifthEfuse);
    assert.equal(flashMd5(devs[4]!), fifthFlash);
    assert.ok(!fs.existsSync(path.join(store.dir, DEVICES_DIR, macOf(devs[4]!).replace(/:/g, '-'), 'flash_encryption_key.bin')));
    // Each approved board has its own key (0600), none the build key, and the eFuses say flash encryption and secure boot are on.
    for (const d of devs.slice(0, 4)) {
      const f = path.join(store.dir, DEVICES_DIR, macOf(d).replace(/:/g, '-'), 'flash_encryption_key.bin');
      assert.equal(fs.statSync(f).mode & 0o777, 0o600);
      assert.notDeepEqual(new Uint8Array(fs.readFileSync(f)), new Uint8Array(KEYS.flashKey));
    }
  });

  it('records: one per approved board, distinct key fingerprints, regions with SHA-256, no key bytes (JSON and CSV)', async () => {
    const r = await cli(['records', '--key-store', store.dir, '--format', 'json']);
    assert.equal(r.code, 0, r.err);
    const recs = JSON.parse(r.out) as Array<{ operation: string; mac: string; result: string; keyFingerprints: Record<string, string>; regions: { address: number; sha256: string }[]; efuseBefore?: unknown; efuseAfter?: unknown; firmware?: { generation: string }; end?: string; toolVersion: string; board?: string; chipRevision?: string }>;
    assert.deepEqual(recs.map((x) => x.operation), ['provision', 'provision', 'provision', 'provision']);
    assert.deepEqual(recs.map((x) => x.mac).sort(), approved().sort());
    assert.equal(new Set(recs.map((x) => x.keyFingerprints['flash-key'])).size, 4);
    for (const x of recs) {
      assert.equal(x.result, 'ok');
      assert.equal(x.board, 'GPY');
      assert.ok(x.chipRevision && x.toolVersion && x.end && x.efuseBefore && x.efuseAfter);
      assert.equal(x.firmware?.generation, 'D');
      assert.deepEqual(x.regions.map((g) => g.address), [0x0, 0x8000, 0x10000]);
      for (const g of x.regions) assert.match(g.sha256, /^[0-9a-f]{64}$/);
    }
    const log = fs.readFileSync(store.auditPath, 'utf8').toLowerCase();
    for (const d of devs.slice(0, 4)) {
      const key = fs.readFileSync(path.join(store.dir, DEVICES_DIR, macOf(d).replace(/:/g, '-'), 'flash_encryption_key.bin'));
      assert.ok(!log.includes(key.toString('hex')) && !log.includes(Buffer.from(key).reverse().toString('hex')));
    }
    const one = await cli(['records', '--key-store', store.dir, '--format', 'csv', '--mac', approved()[2]!.replace(/:/g, '-').toUpperCase()]);
    assert.equal(one.code, 0, one.err);
    const lines = one.out.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[0]!, /^id,operation,mac,board,/);
    assert.ok(lines[1]!.includes(approved()[2]!) && lines[1]!.includes(',provision,') && lines[1]!.includes(',ok,'));
  });

  it('predict-boot says each approved board boots (its own key picked by MAC)', async () => {
    for (const p of ports.slice(0, 4)) {
      const r = await cli(['predict-boot', '--port', p, '--key-store', store.dir]);
      assert.equal(r.code, 0, r.out + r.err);
      assert.match(r.out, /WILL BOOT/);
    }
  });

  it('verify-flash and ota-image --mac use the board\'s own key (the build re-encrypted for it)', async () => {
    const v = await cli(['verify-flash', '--port', ports[1]!, '--build', build, '--key-store', store.dir]);
    assert.equal(v.code, 0, v.out + v.err);
    assert.equal((v.out.match(/verify OK/g) ?? []).length, 3);
    const out = path.join(tmpDir('ota-'), 'ota.bin');
    const o = await cli(['ota-image', '--board', 'GPY', '--build', build, '--slot', '0x210000', '--output', out, '--key-store', store.dir, '--mac', approved()[1]!, '--json']);
    assert.equal(o.code, 0, o.out + o.err);
    const j = JSON.parse(o.out) as { flashKey: string; recordId: string; source: string };
    const rec = (JSON.parse((await cli(['records', '--key-store', store.dir, '--mac', approved()[1]!])).out) as { id: string; operation: string; keyFingerprints: Record<string, string> }[]);
    const prov = rec.find((x) => x.operation === 'provision')!;
    assert.equal(j.flashKey, prov.keyFingerprints['flash-key']);
    assert.match(j.source, /build key/);
    assert.ok(rec.some((x) => x.id === j.recordId && x.operation === 'ota-image'));
  });

  it('a rerun burns nothing and writes nothing: it verifies each board', async () => {
    const before = devs.map(flashMd5);
    const r = await cli(provisionArgs());
    assert.equal(r.code, 0, r.out + r.err);
    const summary = events(r.out).pop() as unknown as Summary;
    const finished = summary.boards.filter((b) => b.state === 'finished');
    assert.equal(finished.length, 4);
    for (const b of finished) {
      assert.equal(b.burned, 0, b.message);
      assert.equal(b.bytesWritten, 0, b.message);
      assert.match(b.message, /eFuses already complete, flash verified unchanged/);
    }
    assert.deepEqual(devs.map(flashMd5), before);
  });

  it('a burned board run without --per-device-keys: the hint names --per-device-keys, and the last line says what each unfinished board needs', async () => {
    const efuses = JSON.stringify(devs[0]!.efuse.rawWords());
    const flash = flashMd5(devs[0]!);
    const ghost = '24:0a:c4:ff:ff:fe';
    const r = await cli(['provision', '--port', ports[0]!, '--build', build, '--board', 'GPY', '--key-store', store.dir, '--confirm-macs', `${macOf(devs[0]!)},${ghost}`, '--boot-log-ms', '0']);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /run the same provision command again with --per-device-keys added; nothing was burned/);
    assert.doesNotMatch(r.out + r.err, /--keys-burned-elsewhere/);
    const last = r.out.trim().split('\n').pop()!;
    assert.match(last, /^Not finished: 1 board\(s\) need what their message says first/);
    assert.match(last, new RegExp(`${ghost} was never seen: plug that board in and give its port with --port`));
    assert.doesNotMatch(last, /run the same command again/);
    assert.equal(JSON.stringify(devs[0]!.efuse.rawWords()), efuses);
    assert.equal(flashMd5(devs[0]!), flash);
  });

  it('a burned board and a key store that never burned it: the hint is efuse burn-keys --keys-burned-elsewhere', async () => {
    const efuses = JSON.stringify(devs[1]!.efuse.rawWords());
    const r = await cli(['provision', '--port', ports[1]!, '--build', build, '--board', 'GPY', '--key-store', fixtureStore().dir, '--confirm-macs', macOf(devs[1]!), '--boot-log-ms', '0', '--json']);
    assert.equal(r.code, 1, r.out + r.err);
    const summary = events(r.out).pop() as unknown as Summary & { boards: { rerunResumes?: boolean }[] };
    assert.equal(summary.boards[0]!.state, 'failed');
    assert.equal(summary.boards[0]!.rerunResumes, false);
    assert.match(summary.boards[0]!.message, /provision cannot finish this board: finish it with `pycom-secure efuse burn-keys --keys-burned-elsewhere`/);
    assert.doesNotMatch(summary.boards[0]!.message, /run again with --keys-burned-elsewhere/);
    assert.equal(JSON.stringify(devs[1]!.efuse.rawWords()), efuses);
  });

  describe('bad input touches nothing', () => {
    const cases: Array<[string, string[], RegExp]> = [
      ['a list entry that is not a MAC', ['--confirm-macs', '24:0a:c4:12:34:56,24:0a:c4:zz'], /"24:0a:c4:zz" in --confirm-macs is not a MAC address; write each as six hex bytes/],
      ['an empty list', ['--confirm-macs', ' , '], /--confirm-macs is empty; give the MACs of the boards to provision/],
      ['a missing list file', ['--confirm-macs-file', '/nonexistent/approved.txt'], /approved MAC list.*\/nonexistent\/approved\.txt/],
      ['no list at all', [], /give the MACs you approve with --confirm-macs MAC,MAC,\.\.\. or --confirm-macs-file FILE/],
    ];
    for (const [what, extra, msg] of cases) {
      it(what, async () => {
        const ks = fixtureStore();
        const audit = fs.existsSync(ks.auditPath);
        const flashes = devs.map(flashMd5);
        const efuses = devs.map((d) => JSON.stringify(d.efuse.rawWords()));
        const r = await cli(['provision', '--port', ports[4]!, '--build', build, '--board', 'GPY', '--key-store', ks.dir, '--per-device-keys', ...extra]);
        assert.equal(r.code, 2, r.out + r.err);
        assert.match(r.err, msg);
        assert.equal(r.err.trim().split('\n').length, 1, r.err);
        assert.equal(fs.existsSync(ks.auditPath), audit);
        assert.ok(!fs.existsSync(path.join(ks.dir, DEVICES_DIR)));
        assert.deepEqual(devs.map(flashMd5), flashes);
        assert.deepEqual(devs.map((d) => JSON.stringify(d.efuse.rawWords())), efuses);
      });
    }
    it('a list file of MACs (one per line, comments) is read like --confirm-macs', async () => {
      const f = path.join(tmpDir('macs-'), 'approved.txt');
      fs.writeFileSync(f, `# line 7\n${macOf(devs[4]!).toUpperCase()}\n\n`);
      const ks = fixtureStore();
      const r = await cli(['provision', '--port', ports[0]!, '--build', build, '--board', 'GPY', '--key-store', ks.dir, '--confirm-macs-file', f, '--json']);
      // The board on ports[0] is not in this list: untouched; the approved one was not seen: not ok.
      assert.equal(r.code, 1, r.out + r.err);
      const summary = events(r.out).pop() as unknown as Summary;
      assert.equal(summary.boards[0]!.state, 'unapproved');
      assert.deepEqual(summary.notSeen, [macOf(devs[4]!)]);
    });
  });
});
