import { user, settings, workspaceSettings, workspace, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { exportRecords, provisionBoards, stopProvisioning, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';
import { readSettings } from '../../src/extension/settings';
import { NEEDS_TRUST } from '../../src/extension/commands';
import { VirtualBoards } from '../../src/extension/virtual-boards';
import { KeyStore, readBoardRecords } from '../../src/core';
import { writeSecureBuildDir } from '../../src/core/secure-build/process';
import { productionPercent, type ProductionView } from '../../webview/src/protocol';
import { FIXTURE_IV, fixtureApp, fixtureBootloader } from '../../scripts/make-fixture-firmware';
import { KEYS, flashMd5, tmpDir } from './flash-harness';

type Item = { label: string; description?: string; picked?: boolean };

/**
 * Issue #14 in the editor: "Pycom: Provision Boards" driven through the VS Code stand-in on three
 * virtual GPys started from its own port pick, with per-device keys and the profile fixed by the
 * settings (the operator screen). Steps run in order on the same three boards.
 */
describe('editor: Provision Boards on three virtual boards in the window', function () {
  this.timeout(120_000);
  let virtuals: VirtualBoards;
  let store: KeyStore;
  let project: string;
  let buildDir: string;
  const log = fakeLog();
  const state = new UiState();
  const shownTabs: string[] = [];
  const productionSeen: ProductionView[] = [];
  state.onDidChange(() => { if (state.production && state.production !== productionSeen[productionSeen.length - 1]) productionSeen.push(state.production); });
  const ctx: FlowContext = {
    log: log as never, state, panel: { show: (t: string) => shownTabs.push(t) } as never,
    get virtuals() { return virtuals; }, refreshAll: () => undefined, runBuildTask: async () => 0,
  } as never;
  const macOf = (i: number): string => Array.from(virtuals.list()[i]!.dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const efuses = (i: number): string => JSON.stringify(virtuals.list()[i]!.dev.efuse.rawWords().map(String));
  /** What the operator does: per quick pick (by its title), the items to tick. */
  let answers: { ports: (items: readonly Item[]) => Item[]; approve: (items: readonly Item[]) => Item[] | undefined };

  before(() => {
    project = tmpDir('editor-prov-');
    fs.mkdirSync(path.join(project, 'esp32'), { recursive: true });
    fs.writeFileSync(path.join(project, 'esp32', 'Makefile'), '# fixture\n');
    buildDir = path.join(project, 'esp32', 'build', 'GPY', 'release');
    writeSecureBuildDir(buildDir, 'GPY', { bootloader: fixtureBootloader(), app: fixtureApp(24 * 1024, 'fixture-app'), iv: FIXTURE_IV }, KEYS);
    store = new KeyStore(path.join(project, 'secure'));
    store.ensureDir();
    fs.writeFileSync(store.signingKeyPath, KEYS.signingKeyPem, { mode: 0o600 });
    // The build key: the key the build was made with; with per-device keys it is never burned.
    fs.writeFileSync(store.sharedFlashKeyPath, KEYS.flashKey, { mode: 0o600 });
    virtuals = new VirtualBoards();
    for (const k of Object.keys(settings)) delete settings[k];
    // The operator screen: the workspace fixes key store, build, per-device keys and profile.
    Object.assign(settings, { keyStorePath: store.dir, firmwarePath: project, board: 'GPy', buildPath: buildDir, perDeviceKeys: true, hardening: 'off', baudRate: 921600, resetMode: 'auto', virtualBoardProfile: 'GPY' });
    user.pick = (items) => {
      const title = user.picks[user.picks.length - 1]?.title ?? '';
      if (/which ports/.test(title)) return answers.ports(items as readonly Item[]);
      if (/tick the MAC/.test(title)) return answers.approve(items as readonly Item[]);
      throw new Error(`unexpected quick pick: ${title}`);
    };
    user.type = (o) => (/how many virtual/.test(o.title ?? '') ? '3' : undefined);
    // The module question (a modal): the operator says yes unless a test says otherwise.
    user.button = (text, buttons) => (text === 'These boards are GPy modules?' ? buttons.find((b) => b === 'Yes, GPy modules') : undefined);
  });
  after(() => {
    virtuals.dispose();
    user.pick = (items) => items[0];
    user.type = () => undefined;
    user.save = () => undefined;
    user.button = () => undefined;
  });
  beforeEach(() => {
    user.shown.length = 0;
    user.asked.length = 0;
    user.picks.length = 0;
  });

  it('starts three virtual boards from the port pick, reads their MACs, and writes nothing when no MAC is ticked', async () => {
    answers = { ports: (items) => items.filter((i) => /Start virtual GPY boards/.test(i.label)), approve: () => [] };
    // The first pick starts the boards; the second comes back with them ticked and is accepted as is.
    let round = 0;
    const firstPorts = answers.ports;
    answers.ports = (items) => (round++ === 0 ? firstPorts(items) : items.filter((i) => i.picked));
    assert.equal(await provisionBoards(ctx), undefined);
    assert.equal(virtuals.list().length, 3);
    // Nothing asked about the profile: pycom.hardening fixes it.
    assert.deepEqual(user.asked.map((a) => a.replace(/\(.*\)/, '()')), [
      'pick: Pycom: Provision Boards: which ports?', 'type: Pycom: Provision Boards: how many virtual GPY boards?',
      'pick: Pycom: Provision Boards: which ports?', 'pick: Pycom: Provision Boards: tick the MAC of each GPy board to provision ()',
    ]);
    const second = user.picks[1]!.items as readonly Item[];
    for (const v of virtuals.list()) {
      const it = second.find((i) => i.description === v.url)!;
      assert.equal(it.picked, true, 'the new boards come back ticked');
      assert.match(it.label, /\$\(beaker\) GPy \(virtual\)/, 'virtual boards are marked');
    }
    const approval = user.picks[2]!;
    assert.deepEqual(approval.items.map((i) => i.label).sort(), [0, 1, 2].map(macOf).sort(), 'one item per board, labelled by its MAC');
    assert.ok((approval.items as readonly Item[]).every((i) => !i.picked), 'no MAC is ticked for the operator');
    assert.match((approval.items[0] as { detail?: string }).detail ?? '', /factory-fresh/);
    assert.match(approval.placeHolder ?? '', /per-device keys .* development/);
    assert.ok((approval.placeHolder ?? '').includes(`GPy firmware (${buildDir}) for each approved board`), 'the approval names the build\'s module');
    // Nothing was written: no eFuse burned, no key made, no record.
    for (let i = 0; i < 3; i++) assert.equal(virtuals.list()[i]!.dev.efuse.rawField('ABS_DONE_0'), 0n);
    assert.equal(fs.existsSync(path.join(store.dir, 'devices')), false);
    assert.equal(fs.existsSync(store.auditPath), false);
    const p = state.production!;
    assert.equal(p.phase, 'done');
    assert.deepEqual(p.rows.map((r) => r.outcome), ['untouched', 'untouched', 'untouched']);
    assert.ok(user.shown.some((m) => m.text === 'Pycom: no board was approved; nothing was written.'));
    assert.deepEqual(shownTabs, ['production']);
  });

  it('provisions the two ticked boards with their own keys and leaves the third untouched', async () => {
    const urls = virtuals.list().map((v) => v.url);
    answers = { ports: (items) => items.filter((i) => urls.includes(i.description ?? '')), approve: (items) => items.filter((i) => i.label !== macOf(2)) };
    const thirdEfuses = efuses(2);
    const thirdFlash = flashMd5(virtuals.list()[2]!.dev);
    const previous = state.production;
    productionSeen.length = 0;
    const out = (await provisionBoards(ctx))!;
    const seen = productionSeen.filter((v) => v !== previous);
    assert.equal(out.ok, true, JSON.stringify(out.boards));
    assert.deepEqual(out.boards.map((b) => b.mac), [macOf(0), macOf(1)], 'only the approved boards were given to the core');
    for (const b of out.boards) {
      assert.equal(b.state, 'finished', b.message);
      assert.equal(b.keyCreated, true);
      assert.equal(b.boot, 'booted');
    }
    assert.notEqual(out.boards[0]!.flashKeyFingerprint, out.boards[1]!.flashKeyFingerprint, 'each board has its own key');
    for (const i of [0, 1]) assert.ok(fs.existsSync(store.deviceFlashKeyPath(macOf(i))));
    assert.equal(fs.existsSync(store.deviceFlashKeyPath(macOf(2))), false, 'no key for the board not approved');
    assert.equal(efuses(2), thirdEfuses, 'the third board\'s eFuses are untouched');
    assert.equal(flashMd5(virtuals.list()[2]!.dev), thirdFlash, 'the third board\'s flash is untouched');

    // The Production tab: a row per board with state, MAC, progress and result; the overall bar at 100%.
    const p = state.production!;
    assert.equal(p.phase, 'done');
    assert.equal(p.result?.ok, true);
    assert.match(p.setup, /per-device keys/);
    assert.ok(p.setup.startsWith(`GPy firmware (${buildDir}) for each approved board`), p.setup);
    // The module was asked once, as a modal naming it, after the MACs were approved.
    assert.deepEqual(user.shown.filter((m) => /modules\?$/.test(m.text)).map((m) => `${m.level}: ${m.text}`), ['warning: These boards are GPy modules?']);
    assert.deepEqual(p.rows.map((r) => [r.mac, r.state, r.outcome]), [[macOf(0), 'finished', 'finished'], [macOf(1), 'finished', 'finished'], [macOf(2), 'unapproved', 'untouched']]);
    assert.equal(p.rows[0]!.flashKey, out.boards[0]!.flashKeyFingerprint);
    assert.equal(productionPercent(p), 100);
    // The rows moved through the states while it ran, and the progress of a board never went back.
    const states = new Set(seen.flatMap((v) => v.rows.filter((r) => r.mac === macOf(0)).map((r) => r.state)));
    for (const s of ['identified', 'burning', 'flashing', 'finished']) assert.ok(states.has(s), `row went through ${s}: ${[...states].join(', ')}`);
    const progress = seen.map((v) => v.rows[0]!.progress);
    assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
    assert.ok(progress.some((x) => x > 0.3 && x < 0.92), 'flash progress inside the row');
    // Fingerprints only, never key bytes, in what the panel gets and in the log.
    const keyHex = [KEYS.flashKey, fs.readFileSync(store.deviceFlashKeyPath(macOf(0)))].map((k) => Buffer.from(k).toString('hex'));
    for (const text of [JSON.stringify(seen), log.lines.join('\n')]) for (const k of keyHex) assert.ok(!text.includes(k));
    assert.ok(user.shown.some((m) => m.level === 'info' && /All 2 approved board\(s\) finished/.test(m.text)));
    assert.match(log.lines.join('\n'), /Burn Keys plan \(\d+ step\(s\) to burn\)/, 'each board\'s plan is in the log');
  });

  it('exports the records as JSON and CSV through the save dialog', async () => {
    const dir = tmpDir('records-');
    const saves: { title?: string }[] = [];
    user.save = (o) => { saves.push(o); return path.join(dir, `records.${/CSV/.test(o.title ?? '') ? 'csv' : 'json'}`); };
    const json = await exportRecords(ctx, 'json');
    const recs = JSON.parse(fs.readFileSync(json!, 'utf8')) as { mac: string; operation: string; result: string }[];
    assert.deepEqual(recs.filter((r) => r.operation === 'provision').map((r) => `${r.mac} ${r.result}`).sort(), [`${macOf(0)} ok`, `${macOf(1)} ok`].sort());
    // From the palette the format is asked.
    const pickBefore = user.pick;
    user.pick = (items) => items.find((i) => i.label === 'CSV');
    try {
      const csv = await exportRecords(ctx);
      const lines = fs.readFileSync(csv!, 'utf8').trim().split('\n');
      assert.match(lines[0]!, /^id,operation,mac,/);
      assert.equal(lines.length, readBoardRecords(store.auditPath).length + 1);
    } finally {
      user.pick = pickBefore;
    }
    assert.deepEqual(saves.map((s) => s.title), ['Export 2 board record(s) as JSON', 'Export 2 board record(s) as CSV']);
  });

  it('Stop: each board stops before its next step, nothing half-done; a rerun resumes and finishes all three', async () => {
    const urls = virtuals.list().map((v) => v.url);
    answers = { ports: (items) => items.filter((i) => urls.includes(i.description ?? '')), approve: (items) => [...items] };
    // The operator presses Stop as soon as the third board starts on its keys.
    // (The stand-in's listeners cannot be removed: this one disarms itself.)
    let armed = true;
    state.onDidChange(() => {
      if (armed && state.production?.rows.some((r) => r.mac === macOf(2) && r.state === 'keys')) {
        armed = false;
        stopProvisioning(ctx);
      }
    });
    const thirdEfuses = efuses(2);
    const out = (await provisionBoards(ctx))!;
    armed = false;
    assert.equal(out.ok, false, JSON.stringify(out.boards.map((b) => [b.mac, b.state, b.message])));
    const third = out.boards.find((b) => b.mac === macOf(2))!;
    assert.equal(third.state, 'failed');
    assert.match(third.message, /Burn Keys was cancelled before .*0 of \d+ step\(s\) burned/);
    assert.equal(efuses(2), thirdEfuses, 'stopped before its first eFuse step: nothing burned');
    assert.ok(productionSeen.some((v) => v.phase === 'stopping'), 'the tab said it was stopping');
    assert.match(state.production!.result!.text, new RegExp(`^Not finished \\(stopped\\): run "Pycom: Provision Boards" again to resume the (board|\\d boards) that stopped \\(\\d board\\(s\\) finished; records in ${store.auditPath.replace(/[.]/g, '\\.')}\\)\\.$`));
    assert.ok(user.shown.some((m) => m.level === 'warning' && m.text === `Pycom: ${state.production!.result!.text}`));
    // The rerun: the first two burn nothing (their eFuses were complete), the third finishes.
    const again = (await provisionBoards(ctx))!;
    assert.equal(again.ok, true, JSON.stringify(again.boards));
    const byMac = new Map(again.boards.map((b) => [b.mac, b]));
    for (const i of [0, 1]) assert.equal(byMac.get(macOf(i))!.burned, 0);
    assert.equal(byMac.get(macOf(2))!.state, 'finished');
    assert.equal(virtuals.list()[2]!.dev.efuse.rawField('ABS_DONE_0'), 1n);
  });

  it('a board a rerun cannot fix (burned with another store\'s key): the Production tab says so in provision\'s words, not "run again"', async () => {
    // Another key store (a shared key, no record of these boards): the first board's key block is read-protected with its own key.
    const other = new KeyStore(path.join(tmpDir('editor-prov-other-'), 'secure'));
    other.ensureDir();
    fs.writeFileSync(other.signingKeyPath, KEYS.signingKeyPem, { mode: 0o600 });
    fs.writeFileSync(other.sharedFlashKeyPath, KEYS.flashKey, { mode: 0o600 });
    const url = virtuals.list()[0]!.url;
    answers = { ports: (items) => items.filter((i) => i.description === url), approve: (items) => [...items] };
    const before = efuses(0);
    Object.assign(settings, { keyStorePath: other.dir, perDeviceKeys: false });
    let out;
    try {
      out = (await provisionBoards(ctx))!;
    } finally {
      Object.assign(settings, { keyStorePath: store.dir, perDeviceKeys: true });
    }
    assert.equal(out.ok, false);
    assert.equal(out.boards[0]!.state, 'failed');
    assert.equal(out.boards[0]!.rerunResumes, false, out.boards[0]!.message);
    const posted = state.production!.result!;
    assert.equal(posted.ok, false);
    assert.equal(posted.text, `Not finished: 1 board(s) need what their message says first (running again alone does not fix them) (0 board(s) finished; records in ${other.auditPath}).`);
    assert.ok(user.shown.some((m) => m.level === 'warning' && m.text === `Pycom: ${posted.text}`));
    assert.equal(state.production!.rows[0]!.message, out.boards[0]!.message, 'the row says what to fix');
    // Provision's own sentence for a read-protected block, in the editor's words: the CLI's command only where the editor has none.
    assert.match(out.boards[0]!.message, /is already read-protected .*; if espefuse or another workstation burned it, provision cannot finish this board: finish it from a terminal with `pycom-secure efuse burn-keys --keys-burned-elsewhere` \(its key then NOT verified\); nothing was burned\.$/);
    assert.doesNotMatch(out.boards[0]!.message, /provision command|--per-device-keys|--key-store/);
    assert.equal(efuses(0), before, 'nothing burned');
  });

  it('a board burned with its own key, run with pycom.perDeviceKeys off: the row names the setting and the command, not the CLI\'s flag', async () => {
    const url = virtuals.list()[0]!.url;
    answers = { ports: (items) => items.filter((i) => i.description === url), approve: (items) => [...items] };
    const before = efuses(0);
    const flash = flashMd5(virtuals.list()[0]!.dev);
    settings.perDeviceKeys = false;
    let out;
    try {
      out = (await provisionBoards(ctx))!;
    } finally {
      settings.perDeviceKeys = true;
    }
    const b = out.boards[0]!;
    assert.equal(b.state, 'failed');
    assert.equal(b.rerunResumes, false, b.message);
    assert.match(b.message, new RegExp(`the key store holds this board's own key \\(devices/${macOf(0).replace(/:/g, '-')}/\\): turn on pycom\\.perDeviceKeys and run "Pycom: Provision Boards" again; nothing was burned\\.$`, 'i'));
    assert.doesNotMatch(b.message, /--per-device-keys|provision command/);
    assert.equal(efuses(0), before, 'nothing burned');
    assert.equal(flashMd5(virtuals.list()[0]!.dev), flash, 'nothing written');
  });

  it('a no to "These boards are GPy modules?" stops the run before any board is written: nothing burned, no key, no record', async () => {
    const urls = virtuals.list().map((v) => v.url);
    answers = { ports: (items) => items.filter((i) => urls.includes(i.description ?? '')), approve: (items) => [...items] };
    const before = [0, 1, 2].map(efuses);
    const flashes = [0, 1, 2].map((i) => flashMd5(virtuals.list()[i]!.dev));
    const audit = fs.readFileSync(store.auditPath, 'utf8');
    const keys = fs.readdirSync(path.join(store.dir, 'devices')).sort();
    const asked: string[] = [];
    const button = user.button;
    user.button = (text) => { asked.push(text); return undefined; };
    try {
      await assert.rejects(provisionBoards(ctx), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_MODULE_NOT_CONFIRMED');
        assert.match(e.message, /^You did not confirm that the boards are GPy modules, so nothing was burned or written/);
        return true;
      });
    } finally {
      user.button = button;
    }
    assert.deepEqual(asked, ['These boards are GPy modules?']);
    assert.deepEqual([0, 1, 2].map(efuses), before);
    assert.deepEqual([0, 1, 2].map((i) => flashMd5(virtuals.list()[i]!.dev)), flashes);
    assert.equal(fs.readFileSync(store.auditPath, 'utf8'), audit);
    assert.deepEqual(fs.readdirSync(path.join(store.dir, 'devices')).sort(), keys);
    assert.equal(state.production!.phase, 'done');
    assert.match(state.production!.result!.text, /did not confirm that the boards are GPy modules/);
  });

  it('pycom.board naming another module than the build: refused before any port is picked, naming both settings', async () => {
    settings.board = 'LoPy4';
    try {
      await assert.rejects(provisionBoards(ctx), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_BUILD_BOARD');
        assert.equal(e.message, `GPy firmware (${buildDir}) is for GPy modules but pycom.board says LoPy4; set pycom.board to GPy (or auto) if the boards are GPy modules, or pycom.buildPath to a LoPy4 build.`);
        return true;
      });
    } finally {
      settings.board = 'GPy';
    }
    assert.deepEqual(user.asked, [], 'nothing was asked: no port pick');
  });

  it('refuses before any board is opened when the build in pycom.buildPath is missing', async () => {
    settings.buildPath = path.join(project, 'no-such-build');
    const before = [0, 1, 2].map(efuses);
    try {
      await assert.rejects(provisionBoards(ctx), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_NO_BUILD');
        assert.match(e.message, /pycom\.buildPath does not exist; build first/);
        return true;
      });
    } finally {
      settings.buildPath = buildDir;
    }
    assert.deepEqual(user.asked, [], 'nothing was asked: no port pick');
    assert.deepEqual([0, 1, 2].map(efuses), before);
  });

  it('an untrusted workspace cannot run it, nor choose its build, keys or profile', () => {
    assert.ok(NEEDS_TRUST.has('pycom.provisionBoards'));
    Object.assign(workspaceSettings, { buildPath: '/elsewhere/build', perDeviceKeys: false, hardening: 'on', keyStorePath: '/elsewhere/secure' });
    try {
      assert.deepEqual((({ buildPath, perDeviceKeys, hardening, keyStorePath }) => ({ buildPath, perDeviceKeys, hardening, keyStorePath }))(readSettings()),
        { buildPath: '/elsewhere/build', perDeviceKeys: false, hardening: 'on', keyStorePath: '/elsewhere/secure' }, 'a trusted workspace sets them (the operator screen)');
      workspace.isTrusted = false;
      const s = readSettings();
      assert.deepEqual({ buildPath: s.buildPath, perDeviceKeys: s.perDeviceKeys, hardening: s.hardening, keyStorePath: s.keyStorePath },
        { buildPath: buildDir, perDeviceKeys: true, hardening: 'off', keyStorePath: store.dir }, 'untrusted: the user\'s own values');
    } finally {
      workspace.isTrusted = true;
      for (const k of Object.keys(workspaceSettings)) delete workspaceSettings[k];
    }
  });

  it('a hand-edited pycom.hardening outside its values asks, the conservative choice', () => {
    settings.hardening = 'yes please';
    try {
      assert.equal(readSettings().hardening, 'ask');
    } finally {
      settings.hardening = 'off';
    }
  });
});
