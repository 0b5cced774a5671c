import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { checkBoardFlash, type FlowContext } from '../../src/extension/flows';
import { showError } from '../../src/extension/errors';
import { UiState } from '../../src/extension/state';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog, readAudit } from '../../src/core/audit/audit-log';
import { KeyStore } from '../../src/core/keystore/key-store';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { planFromBuild } from '../../src/core/flash/plan';
import { bootNow, KEYS, flashMd5, secureBuild, tmpDir } from './flash-harness';

/**
 * "Pycom: Check Board's Flash (Predict Boot)": the core's predictBootOnBoard (the CLI's
 * predict-boot --port) on the selected board, its answer in the log and a notification, in the
 * editor's words; the board is only read.
 */
describe('editor: Check Board\'s Flash predicts the boot of the connected board', function () {
  this.timeout(120_000);
  const APP = 0x10000;
  let server: SimServer;
  let dev: VirtualEsp32;
  let url: string;
  let store: KeyStore;
  let regions: { address: number; data: Uint8Array }[];
  const secrets = [KEYS.flashKey, KEYS.secureBootKey].map((k) => Buffer.from(k).toString('hex'));

  function storeAt(dir: string): KeyStore {
    const s = new KeyStore(dir);
    s.ensureDir();
    fs.writeFileSync(s.signingKeyPath, KEYS.signingKeyPem, { mode: 0o600 });
    fs.writeFileSync(s.sharedFlashKeyPath, KEYS.flashKey, { mode: 0o600 });
    return s;
  }
  /** The build's regions written straight into the board's flash (as a finished flash leaves them). */
  function flashWhole(): void {
    for (const r of regions) {
      dev.flash.eraseRange(r.address, Math.ceil(r.data.length / 0x1000) * 0x1000);
      dev.flash.program(r.address, r.data);
    }
  }
  /** As the ROM leaves a write of the app cut off after `n` bytes: the region erased, its first `n` bytes programmed. */
  function cutAppAt(n: number): void {
    const app = regions.find((r) => r.address === APP)!.data;
    dev.flash.eraseRange(APP, Math.ceil(app.length / 0x1000) * 0x1000);
    dev.flash.program(APP, app.subarray(0, n));
  }
  const auditText = (s: KeyStore): string => (fs.existsSync(s.auditPath) ? fs.readFileSync(s.auditPath, 'utf8') : '');

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'editor-predict' });
    store = storeAt(path.join(tmpDir('editor-predict-'), 'secure'));
    const access = directAccess(dev.efuse);
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: [] });
    // Burned by this key store: its audit log holds the verified run (the evidence for the protected keys).
    await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit: new AuditLog(store.auditPath) });
    regions = planFromBuild(findBuildOutputs(secureBuild('GPY', 200 * 1024, 'editor-predict-app')), { flashSize: 0x800000 }).regions;
    server = await startSimServer(dev, { port: 0 });
    url = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
    user.button = () => undefined;
    user.pick = (items) => items[0];
  });
  beforeEach(() => {
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, board: 'GPY', baudRate: 115200, resetMode: 'auto' });
    user.shown.length = 0;
    user.asked.length = 0;
    user.picks.length = 0;
    user.button = () => undefined;
    user.pick = (items) => items[0];
    flashWhole();
  });

  const ctx = (port?: string): FlowContext & { log: ReturnType<typeof fakeLog> } => {
    const state = new UiState();
    if (port) state.update({ port: { path: port, virtual: true, board: 'GPy' } });
    return { log: fakeLog(), state, panel: { show: () => undefined } as never, virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0 } as never;
  };
  /** Nothing secret in what the user saw: the log and every notification. */
  function assertNoKeys(c: { log: ReturnType<typeof fakeLog> }): void {
    const seen = [...c.log.lines, ...user.shown.map((m) => m.text)].join('\n').toLowerCase();
    for (const s of secrets) assert.ok(!seen.includes(s), 'no key bytes in the log or a notification');
  }

  it('a board with keys burned and a build flashed: it boots, said in the log and an information notification; the board is unchanged', async () => {
    const c = ctx(url);
    const flashBefore = flashMd5(dev);
    const efuseBefore = dev.efuse.rawWords().join(',');
    const r = await checkBoardFlash(c);
    assert.equal(r?.status, 'boots');
    assert.match(r!.headline, new RegExp(`^The board on ${url.replace(/[.]/g, '\\.')}: WILL BOOT\\. `));
    const note = user.shown.filter((m) => m.text.startsWith('Pycom: The board on'));
    assert.deepEqual(note.map((m) => [m.level, m.text]), [['info', `Pycom: ${r!.headline}`]]);
    assert.ok(c.log.lines.includes(`info ${r!.headline}`), 'the verdict is in the log');
    assert.ok(c.log.lines.some((l) => /^info {3}\| /.test(l)), 'with the boot log the chip would print');
    assert.ok(c.log.lines.some((l) => /Key evidence: the verified Burn Keys run \S+ .* burned the flash-encryption key [0-9a-f]+/.test(l)), 'the evidence is named, by fingerprint');
    assert.ok(!c.log.lines.some((l) => /Diagnosis:/.test(l)));
    assert.equal(flashMd5(dev), flashBefore, 'nothing written to the flash');
    assert.equal(dev.efuse.rawWords().join(','), efuseBefore, 'no eFuse burned');
    assert.equal(c.state.chip?.mac, Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':'), 'the Device view shows the board read');
    assertNoKeys(c);
  });

  it('an app cut off mid-write: names the partly written region and the editor\'s way forward, blames no key, writes nothing', async () => {
    cutAppAt(0x9000);
    assert.equal(bootNow(dev).boots, false);
    const c = ctx(url);
    const flashBefore = flashMd5(dev);
    const auditBefore = auditText(store);
    const r = await checkBoardFlash(c);
    assert.equal(r?.status, 'does-not-boot');
    assert.match(r!.headline, /: WILL NOT BOOT\. .*the app at 0x10000 was only partly written \(an interrupted flash/);
    const diagnosis = c.log.lines.find((l) => l.startsWith('info Diagnosis: '));
    assert.ok(diagnosis, c.log.lines.join('\n'));
    assert.match(diagnosis!, /^info Diagnosis: the app at 0x10000 was only partly written \(flash interrupted after 36864 bytes\): it starts as a valid image, but the flash is erased from 0x19000 on, where the image goes on; run "Pycom: Flash Secure Firmware" again to finish it \(the interrupted region is written again in full\)\.$/);
    assert.doesNotMatch(diagnosis!, /pycom-secure|--incremental|key/);
    const note = user.shown.filter((m) => m.text.startsWith('Pycom: The board on'));
    assert.deepEqual(note.map((m) => [m.level, m.text]), [['warning', `Pycom: ${r!.headline}`]]);
    assert.equal(flashMd5(dev), flashBefore, 'nothing written to the flash');
    assert.equal(auditText(store), auditBefore, 'nothing recorded');
    assertNoKeys(c);
  });

  it('no port selected: the pick is offered; Escape says no board was chosen, and nothing is read or written', async () => {
    const c = ctx();
    user.pick = () => undefined;
    const flashBefore = flashMd5(dev);
    const auditBefore = auditText(store);
    assert.equal(await checkBoardFlash(c), undefined);
    assert.deepEqual(user.picks.map((p) => p.title), ['Pycom: Check Board\'s Flash (Predict Boot)']);
    assert.deepEqual(user.shown, [{ level: 'info', text: 'Pycom: Check Board\'s Flash (Predict Boot): no board was chosen, so nothing was read; select one with "Pycom: Select Port", then run the command again.' }]);
    assert.equal(c.state.port, undefined, 'no port was selected by it');
    assert.equal(c.state.chip, undefined, 'no board was read');
    assert.equal(flashMd5(dev), flashBefore);
    assert.equal(auditText(store), auditBefore);
  });

  it('a board not in download mode (its firmware answers): one sentence with the way in, the download-mode help offered, nothing written', async () => {
    const heard: Buffer[] = [];
    const sockets = new Set<net.Socket>();
    const repl = net.createServer((s) => {
      sockets.add(s);
      s.on('data', (d) => {
        heard.push(d);
        s.write('\r\nPycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32\r\n>>> ');
      });
    });
    await new Promise<void>((res) => repl.listen(0, '127.0.0.1', res));
    const replUrl = `socket://127.0.0.1:${(repl.address() as net.AddressInfo).port}`;
    const c = ctx(replUrl);
    let error: unknown;
    try {
      await assert.rejects(checkBoardFlash(c), (e: Error & { code?: string }) => {
        error = e;
        assert.equal(e.code, 'E_RUNNING_FIRMWARE');
        assert.ok(e.message.startsWith(`The board on ${replUrl} is running its firmware (it printed "`), e.message);
        assert.match(e.message, /"\) instead of the ROM loader: make sure the device behind this address is in download mode \(a virtual device server starts in it\), then try again\.$/);
        return true;
      });
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => repl.close(() => res()));
    }
    // Nothing but the loader's SYNC (0x08) reached the port: no flash, memory or register command.
    const bytes = Buffer.concat(heard);
    const ops = new Set<number>();
    for (let i = 0; i + 2 < bytes.length; i++) if (bytes[i] === 0xc0 && bytes[i + 1] === 0x00) ops.add(bytes[i + 2]!);
    assert.deepEqual([...ops], [0x08]);
    const buttons: string[][] = [];
    user.button = (_t, b) => (buttons.push([...b]), undefined);
    await showError(c.log as never, 'Pycom: Check Board\'s Flash (Predict Boot)', error);
    assert.deepEqual(user.shown.map((m) => [m.level, m.text]), [['error', `Pycom: Check Board's Flash (Predict Boot): ${(error as Error).message}`]]);
    assert.deepEqual(buttons, [['How to enter download mode', 'Show Log']]);
    assert.equal(user.shown.filter((m) => m.text.startsWith('Pycom: The board on')).length, 0, 'no verdict');
  });

  it('no key store: cannot decide, naming the missing key store and the editor\'s setting; no folder or record is made', async () => {
    const missing = path.join(tmpDir('editor-predict-none-'), 'secure');
    settings.keyStorePath = missing;
    const c = ctx(url);
    const r = await checkBoardFlash(c);
    assert.equal(r?.status, 'undecided');
    assert.equal(r!.headline, `Cannot decide whether the board on ${url} will boot: `
      + `BLOCK1 is read-protected and the flash-encryption key is not known: there is no key store at ${missing}; set pycom.keyStorePath to the key store that burned this board, or import the key with "Pycom: Import Key". `
      + `BLOCK2 is read-protected and the secure boot key is not known: there is no key store at ${missing}; set pycom.keyStorePath to the key store that burned this board, or import its signing key with "Pycom: Import Key".`);
    assert.deepEqual(user.shown.filter((m) => m.text.startsWith('Pycom: Cannot decide')).map((m) => m.level), ['warning']);
    assert.ok(c.log.lines.includes(`info Cannot decide whether the board on ${url} will boot:`));
    assert.equal(fs.existsSync(missing), false, 'the key store folder was not created');
    assertNoKeys(c);
  });

  it('a key store without evidence for the board\'s keys: asked (modal); No cannot decide in the editor\'s words, Yes is recorded and answered', async () => {
    // A copy of the keys without the burn record (another workstation's copy of the store), and a
    // flash that cannot vouch for them either (its app was cut off, so the read-back finds no app that parses).
    cutAppAt(0x9000);
    const copy = storeAt(path.join(tmpDir('editor-predict-copy-'), 'secure'));
    settings.keyStorePath = copy.dir;
    const asked: string[] = [];
    user.button = (text) => (asked.push(text), undefined);
    const c = ctx(url);
    const no = await checkBoardFlash(c);
    assert.equal(no?.status, 'undecided');
    assert.match(asked[0]!, /is this key store the one whose keys were burned into this board/);
    assert.match(no!.headline, /nothing shows that this key store holds the board's keys .*use the key store that burned this board \(set pycom\.keyStorePath\), or answer Yes to the question about the key store if you are sure it is/);
    assert.doesNotMatch(no!.headline, /--key-store|--trust-key-store/);
    assert.equal(auditText(copy), '', 'a No records nothing');

    user.button = (_t, buttons) => buttons.find((b) => b.startsWith('Yes'));
    const yes = await checkBoardFlash(ctx(url));
    assert.equal(yes?.status, 'does-not-boot');
    assert.match(yes!.headline, /the app at 0x10000 was only partly written/);
    const acks = readAudit(copy.auditPath).records.filter((x) => x.operation === 'trust-key-store');
    assert.equal(acks.length, 1);
    assert.match(acks[0]!.message ?? '', /^predict-boot: confirmed that this key store holds/);
    assertNoKeys(c);
  });

  it('refused while a flash runs, before any board is opened', async () => {
    const c = ctx(url);
    c.flashAbort = new AbortController();
    await assert.rejects(checkBoardFlash(c), { code: 'E_BUSY', message: 'A flash is running; wait for it or cancel it in the Flash Progress tab, then check the board\'s flash.' });
    assert.equal(c.log.lines.length, 0, 'no board was opened');
    assert.equal(user.shown.length, 0);
  });
});
