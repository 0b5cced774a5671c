import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { BoardRecordWriter, readBoardRecords } from '../../src/core/audit/board-record';
import { readAudit } from '../../src/core/audit/audit-log';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import type { KeyStore } from '../../src/core/keystore/key-store';
import { flash } from '../../src/core/workflows/flash';
import { otaImage } from '../../src/core/workflows/ota';
import { bannerModule, recordedModule } from '../../src/core/workflows/module-evidence';
import { scriptedUi, type ConfirmQuestion } from '../../src/core/workflows/ui-port';
import type { BoardSession } from '../../src/core/workflows/board';
import { isUserError } from '../../src/core/errors';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { burnKeys, fixtureStore, flashMd5, KEYS, secureBuild, servedBurnedGpy, tmpDir, downloadSession } from './flash-harness';
import { cli } from './helpers/cli';

/**
 * A new-user trial: `flash` and `ota-image` took WiPy firmware for a board that the key store's
 * records (and, for ota-image --port, the banner of the firmware it had just started) say is a
 * GPy. A GPy with WiPy firmware boots, but without its LTE modem. The build's module is checked
 * against that evidence (workflows/module-evidence.ts) in the core workflows both front ends run.
 */

const BANNER = (name: string): string => `\r\nPycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; ${name} with ESP32\r\nType "help()" for more information.\r\n>>> `;

const auditText = (s: KeyStore): string => (fs.existsSync(s.auditPath) ? fs.readFileSync(s.auditPath, 'utf8') : '');

/** A provision (or flash) record of `mac` naming `board`, as those runs write it; returns its id. */
function recordBoard(store: KeyStore, mac: string, board: string, operation: 'provision' | 'flash' | 'ota-image' = 'provision'): string {
  const w = new BoardRecordWriter(store.auditPath, operation, mac, () => [], { board });
  w.end('ok');
  return w.id;
}

interface Rig { dev: VirtualEsp32; session: BoardSession; mac: string; close(): void }

/** A virtual GPy with the fixture keys burned (not recorded in any store), connected in download mode. */
async function burnedGpy(seed: string): Promise<Rig> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed });
  await burnKeys(dev);
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const { session, close } = await downloadSession(dev);
  return { dev, mac, session, close };
}

const planOf = (dir: string) => () => planFromBuild(findBuildOutputs(dir, { flashKey: KEYS.flashKey }), { flashSize: 0x800000 });

describe('module evidence: where a board\'s module is read from', () => {
  it('the banner names the catalog board by MICROPY_HW_BOARD_NAME; the last banner counts; no banner or an unknown name is no evidence', () => {
    assert.deepEqual(bannerModule(`ets Jun  8 2016 00:22:57\r\n${BANNER('GPy')}`), { board: 'GPY', kind: 'banner', source: 'the running firmware\'s banner "Pycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32"' });
    assert.equal(bannerModule(`${BANNER('LoPy')}PYB: soft reboot${BANNER('LoPy4')}`)!.board, 'LOPY4');
    assert.equal(bannerModule('raw REPL; CTRL-B to exit\r\n>'), undefined);
    assert.equal(bannerModule(BANNER('PyBoard')), undefined);
  });

  it('records: the latest provision or flash record naming a board counts; ota-image records (a file only) and other MACs do not', () => {
    const store = fixtureStore();
    assert.equal(recordedModule(store, '24:0a:c4:00:00:01'), undefined);
    recordBoard(store, '24:0a:c4:00:00:01', 'WIPY', 'provision');
    const id = recordBoard(store, '24:0a:c4:00:00:01', 'GPY', 'flash');
    recordBoard(store, '24:0a:c4:00:00:01', 'LOPY4', 'ota-image');
    recordBoard(store, '24:0a:c4:00:00:02', 'FIPY', 'provision');
    // A later run that failed before writing anything (trial 9: "nothing was burned") is no evidence.
    const failed = new BoardRecordWriter(store.auditPath, 'provision', '24:0a:c4:00:00:01', () => [], { board: 'FIPY' });
    failed.end('failed', {}, 'nothing was burned');
    const e = recordedModule(store, '24:0A:C4:00:00:01')!;
    assert.equal(e.board, 'GPY');
    assert.equal(e.recordId, id);
    assert.match(e.source, new RegExp(`^the key store's record ${id} \\(flash, started \\d{4}-`));
  });
});

describe('flash workflow: the build\'s module against the key store\'s records', function () {
  this.timeout(120_000);
  const wipy = secureBuild('WIPY', 24 * 1024, 'modid-wipy');
  const gpy = secureBuild('GPY', 24 * 1024, 'modid-gpy');

  it('a WiPy build for a board recorded as a GPy is refused in one sentence naming both, the record and the ways forward; nothing written, no override recorded', async () => {
    const rig = await burnedGpy('modid-refuse');
    try {
      const store = fixtureStore();
      const id = recordBoard(store, rig.mac, 'GPY');
      const before = flashMd5(rig.dev);
      const audit = auditText(store);
      await assert.rejects(flash(rig.session, { store, plan: planOf(wipy), bootLog: false, trustKeyStore: true }, scriptedUi()), (e: unknown) => {
        assert.ok(isUserError(e));
        assert.equal(e.code, 'E_MODULE_EVIDENCE');
        assert.match(e.message, new RegExp(`^flash: ${wipy.replace(/[.\\/]/g, '\\$&')} is WiPy firmware, but the key store's record ${id} \\(provision, [^)]+\\) says ${rig.mac} is a GPy \\(WiPy firmware does not drive a GPy's LTE\\); use the build made for its module \\(build/GPY/release\\), or if this board really is a WiPy, run it again with --override-module-evidence \\(recorded in the audit log\\); nothing was written\\.$`));
        return true;
      });
      assert.equal(flashMd5(rig.dev), before, 'nothing was written');
      // The key acknowledgement (--trust-key-store) came first; the module refusal adds no line.
      assert.deepEqual(readAudit(store.auditPath).records.filter((r) => r.operation === 'module-override'), []);
      assert.ok(auditText(store).startsWith(audit));
    } finally {
      rig.close();
    }
  });

  it('a build for the recorded module passes, and the record is named', async () => {
    const rig = await burnedGpy('modid-agree');
    try {
      const store = fixtureStore();
      const id = recordBoard(store, rig.mac, 'GPY');
      const lines: string[] = [];
      const r = await flash(rig.session, { store, plan: planOf(gpy), bootLog: false, trustKeyStore: true, dryRun: true }, scriptedUi({ log: (_l, t) => lines.push(t) }));
      assert.deepEqual(r.module?.agreed.map((e) => e.recordId), [id]);
      assert.deepEqual(r.module?.overridden, []);
      assert.ok(lines.some((l) => l.startsWith(`Module: GPy, as the key store's record ${id} (provision, `)), lines.join('\n'));
    } finally {
      rig.close();
    }
  });

  it('no record naming a module: today\'s behaviour, the WiPy build passes its checks', async () => {
    const rig = await burnedGpy('modid-none');
    try {
      const store = fixtureStore();
      const r = await flash(rig.session, { store, plan: planOf(wipy), bootLog: false, trustKeyStore: true, dryRun: true }, scriptedUi());
      assert.deepEqual(r.module, { agreed: [], overridden: [] });
    } finally {
      rig.close();
    }
  });

  it('overridden (the CLI\'s flag): written, and the override recorded naming the record it overrode', async () => {
    const rig = await burnedGpy('modid-override');
    try {
      const store = fixtureStore();
      const id = recordBoard(store, rig.mac, 'GPY');
      const before = flashMd5(rig.dev);
      const r = await flash(rig.session, { store, plan: planOf(wipy), bootLog: false, trustKeyStore: true, overrideModule: true }, scriptedUi());
      assert.deepEqual(r.module?.overridden.map((e) => e.recordId), [id]);
      assert.notEqual(flashMd5(rig.dev), before, 'written');
      const lines = readAudit(store.auditPath).records.filter((x) => x.operation === 'module-override');
      assert.equal(lines.length, 1);
      assert.equal(lines[0]!.mac, rig.mac);
      assert.match(lines[0]!.message!, new RegExp(`^flash: the operator said ${rig.mac} is a WiPy \\(.*\\), overriding the key store's record ${id} `));
    } finally {
      rig.close();
    }
  });

  it('the editor\'s way: asked (modal); no refuses with the editor\'s words, yes is recorded', async () => {
    const rig = await burnedGpy('modid-ask');
    try {
      const store = fixtureStore();
      recordBoard(store, rig.mac, 'GPY');
      const asked: ConfirmQuestion[] = [];
      const req = { store, plan: planOf(wipy), bootLog: false as const, trustKeyStore: true, dryRun: true, askModule: true, overrideModuleHint: 'run it again and answer Yes to the question about its module' };
      await assert.rejects(flash(rig.session, req, scriptedUi({ confirm: (q) => { asked.push(q); return false; } })), (e: unknown) => {
        assert.ok(isUserError(e));
        assert.equal(e.code, 'E_MODULE_EVIDENCE');
        assert.match(e.message, /or if this board really is a WiPy, run it again and answer Yes to the question about its module \(recorded in the audit log\); nothing was written\.$/);
        return true;
      });
      assert.equal(asked.length, 1);
      assert.equal(asked[0]!.title, `${rig.mac}: is this board a WiPy, not a GPy?`);
      assert.equal(asked[0]!.yes, 'Yes, it is a WiPy');
      assert.equal(readAudit(store.auditPath).records.filter((x) => x.operation === 'module-override').length, 0);
      const r = await flash(rig.session, req, scriptedUi({ confirm: () => true }));
      assert.equal(r.module?.overridden.length, 1);
      assert.equal(readAudit(store.auditPath).records.filter((x) => x.operation === 'module-override').length, 1);
    } finally {
      rig.close();
    }
  });
});

describe('ota-image workflow: the build\'s module against the records and the banner', function () {
  this.timeout(60_000);
  const wipy = secureBuild('WIPY', 24 * 1024, 'modid-ota-wipy');
  const gpy = secureBuild('GPY', 24 * 1024, 'modid-ota-gpy');
  const mac = '24:0a:c4:00:00:31';

  it('records naming another module: refused before the board is asked for its slot; no image, no record', async () => {
    const store = fixtureStore();
    const id = recordBoard(store, mac, 'GPY');
    const audit = auditText(store);
    const out = path.join(tmpDir('modid-ota-'), 'ota.bin');
    let asked = 0;
    await assert.rejects(otaImage({ store, mac, buildDir: wipy, board: 'WIPY', output: out, trustKeyStore: true, slot: async () => { asked++; return 0x210000; } }), (e: unknown) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'E_MODULE_EVIDENCE');
      assert.ok(e.message.startsWith(`ota-image: ${wipy} is WiPy firmware, but the key store's record ${id} (provision, `), e.message);
      assert.match(e.message, new RegExp(`says ${mac} is a GPy .*--override-module-evidence .*; nothing was written\\.$`));
      return true;
    });
    assert.equal(asked, 0, 'the board was not asked');
    assert.equal(fs.existsSync(out), false);
    // The key acknowledgement is the only line added (it comes first, as for flash).
    assert.deepEqual(readAudit(store.auditPath).records.slice(audit.split('\n').filter(Boolean).length).map((r) => r.operation), ['trust-key-store']);
  });

  it('the banner the board printed when asked names another module: refused, quoting the banner line; no image', async () => {
    const store = fixtureStore();
    const out = path.join(tmpDir('modid-ota-'), 'ota.bin');
    await assert.rejects(otaImage({ store, buildDir: wipy, board: 'WIPY', output: out, boardName: 'the board on socket://x', slot: async () => ({ slot: 0x210000, banner: BANNER('GPy') }) }), (e: unknown) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'E_MODULE_EVIDENCE');
      assert.equal(e.message, `ota-image: ${wipy} is WiPy firmware, but the running firmware's banner "Pycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32" says the board on socket://x is a GPy (WiPy firmware does not drive a GPy's LTE); use the build made for its module (build/GPY/release), or if this board really is a WiPy, run it again with --override-module-evidence (recorded in the audit log); nothing was written.`);
      return true;
    });
    assert.equal(fs.existsSync(out), false);
  });

  it('agreeing banner and record pass; no evidence passes; an override passes and is recorded for the MAC', async () => {
    const store = fixtureStore();
    const dir = tmpDir('modid-ota-');
    const ok = await otaImage({ store, buildDir: gpy, board: 'GPY', output: path.join(dir, 'a.bin'), slot: async () => ({ slot: 0x210000, banner: BANNER('GPy') }) });
    assert.equal(ok.module.agreed[0]!.kind, 'banner');
    const none = await otaImage({ store, buildDir: wipy, board: 'WIPY', output: path.join(dir, 'b.bin'), slot: 0x210000 });
    assert.deepEqual(none.module, { agreed: [], overridden: [] });
    recordBoard(store, mac, 'GPY');
    const over = await otaImage({ store, mac, buildDir: wipy, board: 'WIPY', output: path.join(dir, 'c.bin'), trustKeyStore: true, overrideModule: true, slot: async () => ({ slot: 0x210000, banner: BANNER('GPy') }) });
    assert.equal(over.module.overridden.length, 1);
    assert.ok(fs.existsSync(path.join(dir, 'c.bin')));
    const lines = readAudit(store.auditPath).records.filter((r) => r.operation === 'module-override');
    assert.equal(lines.length, 1, 'one override line: the banner is covered by the operator\'s word already given');
    assert.equal(lines[0]!.mac, mac);
  });
});

/** The trial's commands, against a served virtual GPy. */
describe('CLI: flash and ota-image refuse another module\'s build (a served virtual GPy)', function () {
  this.timeout(300_000);
  let server: SimServer | undefined;
  after(async () => server?.close());

  it('flash: a GPy flashed from this store, then a WiPy build refused (dry run too) naming the flash record; --override-module-evidence passes and is recorded', async () => {
    const store = fixtureStore();
    const served = await servedBurnedGpy(store, 'modid-cli-flash');
    server = served.server;
    const mac = Array.from(served.dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const gpy = secureBuild('GPY', 24 * 1024, 'modid-cli-gpy');
    const wipy = secureBuild('WIPY', 24 * 1024, 'modid-cli-wipy');
    const first = await cli(['flash', '--port', served.port, '--build', gpy, '--key-store', store.dir, '--boot-log-ms', '0', '--json']);
    assert.equal(first.code, 0, first.err);
    const recordId = (JSON.parse(first.out) as { recordId: string }).recordId;
    const before = flashMd5(served.dev);
    const audit = auditText(store);
    const r = await cli(['flash', '--port', served.port, '--build', wipy, '--key-store', store.dir, '--dry-run']);
    assert.equal(r.code, 2, r.out + r.err);
    assert.ok(r.err.includes(`is WiPy firmware, but the key store's record ${recordId} (flash, `), r.err);
    assert.match(r.err, /run it again with --override-module-evidence \(recorded in the audit log\); nothing was written\.\n$/);
    assert.doesNotMatch(r.out, /Dry run: every check passed/);
    assert.equal(flashMd5(served.dev), before);
    assert.equal(auditText(store), audit);
    const over = await cli(['flash', '--port', served.port, '--build', wipy, '--key-store', store.dir, '--dry-run', '--override-module-evidence']);
    assert.equal(over.code, 0, over.err);
    assert.match(over.out, /Dry run: every check passed; nothing was written\./);
    assert.ok(over.err.includes(`Module: flash: the operator said ${mac} is a WiPy`), over.err);
    assert.equal(readAudit(store.auditPath).records.filter((x) => x.operation === 'module-override' && x.mac === mac).length, 1);
  });

  it('flash ADDR FILE (trial 7): the app file\'s Pycom name (wipy.bin_enc) or --board names the module, checked against the records; nothing written when refused', async () => {
    const store = fixtureStore();
    const served = await servedBurnedGpy(store, 'modid-cli-pairs');
    const mac = Array.from(served.dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    try {
      const gpy = secureBuild('GPY', 24 * 1024, 'modid-pairs-gpy');
      const wipy = secureBuild('WIPY', 24 * 1024, 'modid-pairs-wipy');
      const first = await cli(['flash', '--port', served.port, '--build', gpy, '--key-store', store.dir, '--boot-log-ms', '0']);
      assert.equal(first.code, 0, first.err);
      const before = flashMd5(served.dev);
      const r = await cli(['flash', '--port', served.port, '--key-store', store.dir, '--boot-log-ms', '0', '0x10000', path.join(wipy, 'wipy.bin_enc')]);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /flash: wipy\.bin_enc is WiPy firmware, but the key store's record \S+ \(flash, started [^)]*\) says [0-9a-f:]{17} is a GPy/);
      assert.match(r.err, /nothing was written\.\n$/);
      assert.equal(flashMd5(served.dev), before);
      // --board is the operator's word for single files: a GPy app under another name is checked as the module it names.
      const renamed = path.join(tmpDir('modid-pairs-'), 'app.bin_enc');
      fs.copyFileSync(path.join(wipy, 'wipy.bin_enc'), renamed);
      const named = await cli(['flash', '--port', served.port, '--key-store', store.dir, '--boot-log-ms', '0', '--board', 'LOPY4', '0x10000', renamed]);
      assert.equal(named.code, 2, named.out + named.err);
      assert.match(named.err, /given for --board LOPY4\) is LoPy4 firmware, but the key store's record/);
      assert.equal(flashMd5(served.dev), before);
      // --board that contradicts the app file's own Pycom name (trial 8): refused, the file is not called the other module's firmware.
      const contra = await cli(['flash', '--port', served.port, '--key-store', store.dir, '--boot-log-ms', '0', '--board', 'WIPY', '0x10000', path.join(gpy, 'gpy.bin_enc')]);
      assert.equal(contra.code, 2, contra.out + contra.err);
      assert.match(contra.err, /flash: gpy\.bin_enc is GPy firmware by its Pycom name, but --board WIPY names a WiPy; give --board GPY, or the WiPy app \(wipy\.bin_enc\); nothing was written\.\n$/);
      assert.equal(flashMd5(served.dev), before);
      // The module the records name passes, and the record of the write names it.
      const ok = await cli(['flash', '--port', served.port, '--key-store', store.dir, '--boot-log-ms', '0', '--json', '0x10000', path.join(gpy, 'gpy.bin_enc')]);
      assert.equal(ok.code, 0, ok.err);
      const id = (JSON.parse(ok.out) as { recordId: string }).recordId;
      assert.equal(readBoardRecords(store.auditPath, mac).find((x) => x.id === id)?.board, 'GPY');
    } finally {
      await served.server.close();
    }
  });

  it('provision (trial 7): a board the records name a GPy is refused for a WiPy build, its own new record never taken as evidence; --override-module-evidence provisions it and is recorded', async () => {
    const store = fixtureStore();
    const served = await servedBurnedGpy(store, 'modid-cli-prov');
    const mac = Array.from(served.dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    try {
      const gpy = secureBuild('GPY', 24 * 1024, 'modid-prov-gpy');
      const wipy = secureBuild('WIPY', 24 * 1024, 'modid-prov-wipy');
      const first = await cli(['flash', '--port', served.port, '--build', gpy, '--key-store', store.dir, '--boot-log-ms', '0']);
      assert.equal(first.code, 0, first.err);
      const before = flashMd5(served.dev);
      const recordsBefore = readBoardRecords(store.auditPath, mac).length;
      const r = await cli(['provision', '--port', served.port, '--build', wipy, '--board', 'WIPY', '--key-store', store.dir, '--confirm-macs', mac, '--boot-log-ms', '0']);
      assert.notEqual(r.code, 0, r.out + r.err);
      assert.match(r.out + r.err, /is WiPy firmware, but the key store's record \S+ \(flash, started [^)]*\) says [0-9a-f:]{17} is a GPy/);
      assert.doesNotMatch(r.out + r.err, /Module: WiPy, as the key store's record/);
      assert.equal(flashMd5(served.dev), before);
      assert.equal(readBoardRecords(store.auditPath, mac).length, recordsBefore, 'no provision record is begun for a refused board');
      const over = await cli(['provision', '--port', served.port, '--build', wipy, '--board', 'WIPY', '--key-store', store.dir, '--confirm-macs', mac, '--boot-log-ms', '0', '--override-module-evidence']);
      assert.equal(over.code, 0, over.out + over.err);
      assert.equal(readAudit(store.auditPath).records.filter((x) => x.operation === 'module-override' && x.mac === mac).length, 1);
      assert.equal(readBoardRecords(store.auditPath, mac).pop()?.board, 'WIPY');
    } finally {
      await served.server.close();
    }
  });

  it('ota-image --port: the firmware it starts says "GPy with ESP32", so a WiPy build is refused quoting that line; no image', async () => {
    const store = fixtureStore();
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'modid-cli-ota', bootPredictor: bootPredictorForVirtual });
    await burnKeys(dev);
    // GPy firmware put on it elsewhere (no record in this store): only its banner says what it is.
    for (const g of planOf(secureBuild('GPY', 24 * 1024, 'modid-cli-ota-gpy'))().regions) {
      dev.flash.eraseRange(g.address, Math.ceil(g.data.length / 0x1000) * 0x1000);
      dev.flash.program(g.address, g.data);
    }
    const s = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    try {
      const out = path.join(tmpDir('modid-cli-ota-'), 'ota-y.bin');
      const wipy = secureBuild('WIPY', 24 * 1024, 'modid-cli-ota-wipy');
      const r = await cli(['ota-image', '--board', 'WIPY', '--build', wipy, '--port', `socket://127.0.0.1:${s.port}`, '--output', out, '--key-store', store.dir, '--trust-key-store']);
      assert.equal(r.code, 2, r.out + r.err);
      assert.match(r.err, /The board says its next OTA slot is 0x210000\./);
      assert.match(r.err, /ota-image: .* is WiPy firmware, but the running firmware's banner "Pycom MicroPython [^"]*; GPy with ESP32" says [0-9a-f:]{17} is a GPy \(WiPy firmware does not drive a GPy's LTE\); use the build made for its module \(build\/GPY\/release\), or if this board really is a WiPy, run it again with --override-module-evidence/);
      assert.equal(fs.existsSync(out), false);
      assert.doesNotMatch(auditText(store), /"operation":"ota-image"/);
    } finally {
      await s.close();
    }
  });
});
