import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { verifyBoardFlash, type FlowContext } from '../../src/extension/flows';
import { currentBuildPlan } from '../../src/extension/flows/context';
import { UiState } from '../../src/extension/state';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog } from '../../src/core/audit/audit-log';
import { KeyStore } from '../../src/core/keystore/key-store';
import type { FlashPlan } from '../../src/core/flash/plan';
import { KEYS, fixtureFirmwareProject, flashMd5, tmpDir } from './flash-harness';

/**
 * "Pycom: Verify Board's Flash Against Build": the core's verifyFlash (the CLI's verify-flash
 * --build) on the selected board against the current build, the regions Flash Secure Firmware
 * would write; per-region lines and diagnoses in the log, the verdict in a notification; the
 * board is only read.
 */
describe('editor: Verify Board\'s Flash Against Build', function () {
  this.timeout(120_000);
  let server: SimServer;
  let dev: VirtualEsp32;
  let url: string;
  let store: KeyStore;
  let project: string;
  let plan: FlashPlan;
  const secrets = [KEYS.flashKey, KEYS.secureBootKey].map((k) => Buffer.from(k).toString('hex'));

  /** The plan's regions written straight into the board's flash (as a finished flash leaves them). */
  function flashWhole(): void {
    for (const r of plan.regions) {
      dev.flash.eraseRange(r.address, Math.ceil(r.data.length / 0x1000) * 0x1000);
      dev.flash.program(r.address, r.data);
    }
  }

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'editor-verify' });
    ({ project, store } = fixtureFirmwareProject('editor-verify-', { size: 40 * 1024, seed: 'editor-verify-app' }));
    const access = directAccess(dev.efuse);
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const burn = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: [] });
    // Burned by this key store: its audit log holds the verified run (the evidence for the protected keys).
    await executeBurnKeys(access, burn, { confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit: new AuditLog(store.auditPath) });
    server = await startSimServer(dev, { port: 0 });
    url = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    user.button = () => undefined;
  });
  beforeEach(() => {
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, firmwarePath: project, board: 'GPY', baudRate: 115200, resetMode: 'auto' });
    user.shown.length = 0;
    user.button = () => undefined;
    plan = currentBuildPlan(store, KEYS.flashKey, dev.flash.size);
    flashWhole();
  });

  const ctx = (): FlowContext & { log: ReturnType<typeof fakeLog> } => ({
    log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never,
    virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0,
  }) as never;
  const port = () => ({ path: url, virtual: true, board: 'GPy' });
  function assertNoKeys(c: { log: ReturnType<typeof fakeLog> }): void {
    const seen = [...c.log.lines, ...user.shown.map((m) => m.text)].join('\n').toLowerCase();
    for (const s of secrets) assert.ok(!seen.includes(s), 'no key bytes in the log or a notification');
  }

  it('a board holding the build: every region verify OK in the log, an information notification; the flash is unchanged', async () => {
    const c = ctx();
    const before = flashMd5(dev);
    const r = await verifyBoardFlash(c, port());
    assert.ok(r && r.ok, JSON.stringify(r?.regions.map((v) => v.differs)));
    assert.equal(r.regions.length, plan.regions.length);
    assert.equal(c.log.lines.filter((l) => /^info verify: .* at 0x[0-9a-f]+ \(.*\): verify OK \(digest matched\)$/.test(l)).length, plan.regions.length, c.log.lines.join('\n'));
    assert.match(c.log.lines.join('\n'), /Key evidence: the verified Burn Keys run/);
    const note = user.shown.at(-1)!;
    assert.equal(note.level, 'info');
    assert.match(note.text, new RegExp(`^Pycom: the flash of .* holds the current build \\(${plan.regions.length} regions, each matched by MD5\\)\\.$`));
    assert.equal(flashMd5(dev), before, 'nothing written');
    assertNoKeys(c);
  });

  it('an app sector changed on the board: the app differs there, with a diagnosis tested on the board; a warning names the app; nothing is written', async () => {
    const app = plan.regions.find((x) => x.role === 'app')!;
    // Another build's bytes in one sector of the app (ciphertext that is not this file's).
    dev.flash.eraseRange(app.address + 0x2000, 0x1000);
    dev.flash.program(app.address + 0x2000, Buffer.alloc(0x1000, 0x5a));
    const before = flashMd5(dev);
    const c = ctx();
    const r = await verifyBoardFlash(c, port());
    assert.ok(r && !r.ok);
    const bad = r.regions.filter((v) => v.differs.length);
    assert.deepEqual(bad.map((v) => [v.region.address, v.differs]), [[app.address, [[0x2000, 0x3000]]]]);
    const log = c.log.lines.join('\n');
    assert.match(log, new RegExp(`verify: ${path.basename(app.file).replace('.', '\\.')} at 0x10000 .*: differs in 0x12000-0x13000`));
    assert.match(log, /verify: {3}Diagnosis: \S/);
    const note = user.shown.at(-1)!;
    assert.equal(note.level, 'warning');
    assert.match(note.text, new RegExp(`differs from the current build in 1 of ${plan.regions.length} regions \\(${path.basename(app.file).replace('.', '\\.')} at 0x10000\\); the log says why\\.$`));
    assert.equal(flashMd5(dev), before, 'nothing written');
    assertNoKeys(c);
  });

  it('no build in the firmware checkout, or no checkout at pycom.firmwarePath: E_NO_BUILD naming what to do; nothing written', async () => {
    const checkout = tmpDir('editor-verify-nobuild-');
    fs.mkdirSync(path.join(checkout, 'esp32'), { recursive: true });
    fs.writeFileSync(path.join(checkout, 'esp32', 'Makefile'), '# fixture\n');
    settings['firmwarePath'] = checkout;
    const before = flashMd5(dev);
    await assert.rejects(verifyBoardFlash(ctx(), port()), (e: Error & { code?: string }) => e.code === 'E_NO_BUILD' && /run "Pycom: Build Secure Firmware" first/.test(e.message));
    settings['firmwarePath'] = tmpDir('editor-verify-empty-');
    await assert.rejects(verifyBoardFlash(ctx(), port()), (e: Error & { code?: string }) => e.code === 'E_NO_BUILD' && /^The setting pycom\.firmwarePath is ".*", but .* is not a Pycom firmware checkout/.test(e.message));
    assert.equal(flashMd5(dev), before);
  });

  it('while a flash runs: E_BUSY before any board is opened', async () => {
    const c = ctx();
    c.flashAbort = new AbortController();
    await assert.rejects(verifyBoardFlash(c, port()), (e: Error & { code?: string }) => e.code === 'E_BUSY' && /wait for it or cancel it/.test(e.message));
    assert.equal(c.log.lines.length, 0);
  });
});
