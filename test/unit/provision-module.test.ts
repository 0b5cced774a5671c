import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { checkModuleFit, type ChipModuleFacts } from '../../src/core/boards/module-fit';
import { provision } from '../../src/core/workflows/provision';
import { scriptedUi, type ConfirmQuestion } from '../../src/core/workflows/ui-port';
import { isUserError } from '../../src/core/errors';
import { fixtureStore, flashMd5, secureBuild } from './flash-harness';

const MB = 0x100000;

function macOf(dev: VirtualEsp32): string {
  return Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** Every file under `dir` with its size: a key store that was not written to lists the same before and after. */
function listing(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => {
    const f = path.join(d.parentPath, d.name);
    return `${path.relative(dir, f)} ${fs.statSync(f).size}`;
  }).sort();
}

const chip = (o: Partial<ChipModuleFacts>): ChipModuleFacts => ({ flashSize: 8 * MB, revisionMajor: 1, packageCode: 0, name: '24:0a:c4:00:00:01', ...o });

describe('module fit: what the chip can say against the board catalog', () => {
  it('a GPy build fits an 8 MB revision-1 or revision-3 chip (GPy, and alike a LoPy4: the chip cannot tell them apart)', () => {
    assert.deepEqual(checkModuleFit('GPY', chip({}), 'build/GPY/release').candidates.map((m) => m.id), ['GPY']);
    assert.deepEqual(checkModuleFit('GPY', chip({ revisionMajor: 3 }), 'build/GPY/release').notes, []);
  });

  it('a 4 MB chip is refused for a GPy build, the sentence naming the sizes, what a 4 MB board is and what to do', () => {
    assert.throws(() => checkModuleFit('GPY', chip({ flashSize: 4 * MB, revisionMajor: 0 }), 'build/GPY/release'), (e: unknown) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'E_MODULE_FLASH_SIZE');
      assert.equal(e.message, '24:0a:c4:00:00:01 has 4 MB of flash but every GPy module has 8 MB, so it is not a GPy and build/GPY/release (GPy firmware) is not for it (a 4 MB board is a WiPy 2.0, LoPy or SiPy); use the build made for its own module (build/<BOARD>/release) instead; nothing was written.');
      return true;
    });
  });

  it('an 8 MB chip is refused for a SiPy build (4 MB modules only)', () => {
    assert.throws(() => checkModuleFit('SIPY', chip({}), 'b'), /has 8 MB of flash but every SiPy module has 4 MB, so it is not a SiPy .*\(an 8 MB board is a WiPy 3\.0, GPy, FiPy or LoPy4\)/);
  });

  it('WiPy: both modules fit (WiPy 3.0 8 MB rev 1, WiPy 2.0 4 MB rev 0); an 8 MB revision-0 chip fits neither', () => {
    assert.deepEqual(checkModuleFit('WIPY', chip({}), 'b').candidates.map((m) => m.id), ['WIPY']);
    assert.deepEqual(checkModuleFit('WIPY', chip({ flashSize: 4 * MB, revisionMajor: 0 }), 'b').candidates.map((m) => m.id), ['WIPY2']);
    assert.throws(() => checkModuleFit('WIPY', chip({ revisionMajor: 0 }), 'build/WIPY/release'), (e: unknown) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'E_MODULE_REVISION');
      assert.match(e.message, /^24:0a:c4:00:00:01 is ESP32 silicon revision 0, but WiPy modules with 8 MB are revision 1 or later \(Pycom's firmware picks its partition layout by it\), so it is not a WiPy and build\/WIPY\/release \(WiPy firmware\) would not boot right on it; use the build made for its own module/);
      return true;
    });
  });

  it('an unknown flash size and another package are notes, not refusals', () => {
    const fit = checkModuleFit('GPY', chip({ flashSize: undefined, packageCode: 1 }), 'b');
    assert.deepEqual(fit.candidates.map((m) => m.id), ['GPY']);
    assert.equal(fit.notes.length, 2);
    assert.match(fit.notes[0]!, /the flash id does not say the flash size, so it was not checked against the GPy modules' \(8 MB\)/);
    assert.match(fit.notes[1]!, /CHIP_PACKAGE 1\) is not the one the catalog gives GPy modules \(0\); that is not refused/);
  });
});

/**
 * The new-user trial's defect: `provision` without --board flashed a GPy build onto LoPy4s. Served
 * virtual boards of the catalog's profiles (GPY, LOPY4, LOPY) and the CLI as an operator runs it.
 */
describe('provision and flash: the build\'s module is stated, confirmed or refused, and checked against each chip', function () {
  this.timeout(300_000);
  const boards: { dev: VirtualEsp32; server: SimServer; port: string; connections: number }[] = [];
  const build = secureBuild('GPY', 24 * 1024, 'module-app');
  const lopy4Build = secureBuild('LOPY4', 24 * 1024, 'module-app');

  before(async () => {
    for (const profile of ['GPY', 'LOPY4', 'LOPY']) {
      const dev = new VirtualEsp32({ profile, seed: `module-${profile}`, bootPredictor: bootPredictorForVirtual });
      const b = { dev, server: undefined as unknown as SimServer, port: '', connections: 0 };
      b.server = await startSimServer(dev, { port: 0, host: '127.0.0.1', onDisconnect: () => { b.connections++; } });
      b.port = `socket://127.0.0.1:${b.server.port}`;
      boards.push(b);
    }
  });
  after(async () => {
    for (const b of boards) await b.server.close();
  });
  const [gpy, lopy4, lopy] = [0, 1, 2].map((i) => () => boards[i]!);
  const snapshot = () => boards.map((b) => `${JSON.stringify(b.dev.efuse.rawWords().map(String))} ${flashMd5(b.dev)} ${b.connections}`);

  /** A refused run: exit 2, one line, no board opened, nothing burned or written, the key store as it was. */
  async function refused(argv: string[], message: RegExp): Promise<string> {
    const ks = fixtureStore();
    const storeBefore = listing(ks.dir);
    const before = snapshot();
    const r = await cli(argv.map((a) => (a === 'KS' ? ks.dir : a)));
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, message);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
    assert.deepEqual(snapshot(), before, 'no board was opened, burned or written');
    assert.deepEqual(listing(ks.dir), storeBefore, 'nothing was written to the key store');
    return r.err;
  }

  it('provision --board LOPY4 with a GPy build: refused before any board is opened, naming both and the fix', async () => {
    await refused(['provision', '--port', lopy4().port, '--build', build, '--board', 'LOPY4', '--key-store', 'KS', '--confirm-macs', macOf(lopy4().dev), '--json'],
      /is a build for GPy \(BOARD=GPY\), not for LoPy4 \(BOARD=LOPY4\): it holds .*gpy\.bin.* and no lopy4\.bin; give the folder of a LOPY4 build \(build\/LOPY4\/release\), or name GPY as the board \(--board GPY\) if that is the board you have\.$/m);
  });

  it('provision without --board and --json: refused, naming --board GPY; the plan line names the build\'s module', async () => {
    const err = await refused(['provision', '--port', lopy4().port, '--build', build, '--key-store', 'KS', '--confirm-macs', macOf(lopy4().dev), '--json'],
      /is for GPy modules and an ESP32 does not say which Pycom module it sits on, so the boards' module must be stated: if every board is a GPy, run it again with --board GPY; otherwise give the build made for their module \(build\/<BOARD>\/release\); no board was opened\./);
    assert.ok(err.includes(`GPy firmware (${build})`));
  });

  it('provision without --board and without a terminal (no --json): refused the same way', async () => {
    await refused(['provision', '--port', gpy().port, '--build', build, '--key-store', 'KS', '--confirm-macs', macOf(gpy().dev)], /run it again with --board GPY/);
  });

  it('flash --board LOPY4 with a GPy build: refused before the board is opened', async () => {
    await refused(['flash', '--port', lopy4().port, '--build', build, '--board', 'LOPY4', '--key-store', 'KS'], /is a build for GPy \(BOARD=GPY\), not for LoPy4 \(BOARD=LOPY4\)/);
  });

  it('flash of a GPy build onto a 4 MB LoPy: refused by flash size, nothing written, no record', async () => {
    const ks = fixtureStore();
    const flash = flashMd5(lopy().dev);
    const r = await cli(['flash', '--port', lopy().port, '--build', build, '--key-store', ks.dir]);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, new RegExp(`${macOf(lopy().dev)} has 4 MB of flash but every GPy module has 8 MB, so it is not a GPy and .* \\(GPy firmware\\) is not for it \\(a 4 MB board is a WiPy 2\\.0, LoPy or SiPy\\); use the build made for its own module`));
    assert.equal(flashMd5(lopy().dev), flash);
    assert.equal(fs.existsSync(ks.auditPath), false);
  });

  it('flash of a LoPy4 build onto an 8 MB board: the module fits, and the plan names the firmware and the chip', async () => {
    const r = await cli(['flash', '--port', lopy4().port, '--build', lopy4Build, '--board', 'lopy4', '--key-store', fixtureStore().dir, '--dry-run']);
    assert.ok(r.err.includes(`Firmware: LoPy4 firmware (${lopy4Build}) for ${macOf(lopy4().dev)} (8MB flash, ESP32-`), r.err);
    assert.doesNotMatch(r.err, /E_MODULE|is not a LoPy4/);
    // (The factory-fresh board then refuses the encrypted build for its own reason: its keys are not burned.)
    assert.match(r.err, /flash encryption is off on this chip, so it would be read as garbage; burn the keys first \(`pycom-secure efuse burn-keys`, which also turns flash encryption on\), then flash this build\./);
    assert.doesNotMatch(r.err, /plaintext build/, 'never advice to flash a plaintext secure bootloader on a board without keys');
  });

  it('provision --board GPY on a GPy and a 4 MB LoPy: the GPy finishes, the LoPy fails by flash size, untouched and without a record', async () => {
    const ks = fixtureStore();
    const lopyBefore = `${JSON.stringify(lopy().dev.efuse.rawWords().map(String))} ${flashMd5(lopy().dev)}`;
    const r = await cli(['provision', '--port', gpy().port, '--port', lopy().port, '--build', build, '--board', 'GPY', '--key-store', ks.dir, '--per-device-keys',
      '--confirm-macs', `${macOf(gpy().dev)},${macOf(lopy().dev)}`, '--boot-log-ms', '0', '--json']);
    assert.equal(r.code, 1, r.out + r.err);
    const ev = r.out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(ev[0], { type: 'firmware', board: 'GPY', boardName: 'GPy', buildDir: build, generation: 'D', message: `GPy firmware (${build}) for each approved board.` });
    const summary = ev[ev.length - 1] as { boards: { mac: string; state: string; message: string; rerunResumes?: boolean }[] };
    const [g, l] = [gpy(), lopy()].map((b) => summary.boards.find((x) => x.mac === macOf(b.dev))!);
    assert.equal(g!.state, 'finished', g!.message);
    assert.equal(l!.state, 'failed');
    assert.equal(l!.rerunResumes, false);
    assert.match(l!.message, /has 4 MB of flash but every GPy module has 8 MB, so it is not a GPy .*; provision it with the build made for its own module \(build\/<BOARD>\/release\); nothing was burned or written\.$/);
    assert.equal(`${JSON.stringify(lopy().dev.efuse.rawWords().map(String))} ${flashMd5(lopy().dev)}`, lopyBefore);
    assert.equal(fs.existsSync(ks.deviceFlashKeyPath(macOf(lopy().dev))), false, 'no key was made for the LoPy');
    const recs = JSON.parse((await cli(['records', '--key-store', ks.dir])).out) as { mac: string }[];
    assert.deepEqual(recs.map((x) => x.mac), [macOf(gpy().dev)]);
  });
});

/** The core workflow asks through the UI port; the scripted port answers as the CLI's terminal or the editor's modal would. */
describe('provision workflow: the module question through the UI port', function () {
  this.timeout(120_000);
  let dev: VirtualEsp32;
  let server: SimServer;
  let connections = 0;
  const build = secureBuild('GPY', 24 * 1024, 'module-wf-app');
  before(async () => {
    dev = new VirtualEsp32({ profile: 'LOPY4', seed: 'module-wf' });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1', onDisconnect: () => { connections++; } });
  });
  after(() => server.close());
  // An approved MAC that is not on the port: a run that gets past the question only identifies the board.
  const req = (o: { board?: 'GPY' | 'LOPY4'; confirmModule?: boolean } = {}) => ({
    ports: [{ port: `socket://127.0.0.1:${server.port}`, reset: 'auto' as const, baud: 115200 }], store: fixtureStore(), buildDir: build,
    perDeviceKeys: true, hardening: false, approvedMacs: ['24:0a:c4:ff:ff:01'], bootLog: false as const, ...o,
  });

  it('no board given: asks "These boards are GPy modules?"; a no refuses before any board is opened', async () => {
    const asked: ConfirmQuestion[] = [];
    const before = connections;
    await assert.rejects(provision(req(), scriptedUi({ confirm: (q) => { asked.push(q); return false; } })), (e: unknown) => {
      assert.ok(isUserError(e));
      assert.equal(e.code, 'E_MODULE_NOT_CONFIRMED');
      assert.equal(e.message, 'You did not confirm that the boards are GPy modules, so nothing was burned or written; provision them with the build made for their own module (build/<BOARD>/release).');
      return true;
    });
    assert.equal(asked.length, 1);
    assert.equal(asked[0]!.title, 'These boards are GPy modules?');
    assert.equal(asked[0]!.yes, 'Yes, GPy modules');
    assert.ok(asked[0]!.detail.includes(`GPy firmware (${build})`), asked[0]!.detail);
    assert.equal(connections, before, 'no board was opened');
  });

  it('a yes goes on to the boards; with the board given nothing is asked unless confirmModule says so', async () => {
    const asked: string[] = [];
    const ui = scriptedUi({ confirm: (q) => { asked.push(q.title); return true; } });
    const out = await provision(req(), ui);
    assert.deepEqual(out.boards.map((b) => b.state), ['unapproved']);
    await provision(req({ board: 'GPY' }), ui);
    assert.equal(asked.length, 1);
    await provision(req({ board: 'GPY', confirmModule: true }), ui);
    assert.deepEqual(asked, ['These boards are GPy modules?', 'These boards are GPy modules?']);
  });

  it('a front end that cannot ask is refused with its own hint', async () => {
    const before = connections;
    await assert.rejects(provision({ ...req(), moduleHint: (b) => `set the module to ${b}` }, scriptedUi()), /if every board is a GPy, set the module to GPY; otherwise/);
    assert.equal(connections, before);
  });
});
