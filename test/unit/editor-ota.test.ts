import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { prepareOta, otaSavePath, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';
import { randomBytes } from 'node:crypto';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { classifyContent } from '../../src/core/firmware/content';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog } from '../../src/core/audit/audit-log';
import { readBoardRecords } from '../../src/core/audit/board-record';
import { boardPlanFromBuild } from '../../src/core/secure-build/per-device';
import { fingerprint } from '../../src/core/util/fingerprint';
import type { KeyStore } from '../../src/core/keystore/key-store';
import { KEYS, fixtureStore, flashMd5, secureBuild, tmpDir } from './flash-harness';

/**
 * A board on TCP that runs MicroPython's raw REPL and answers `pycom.ota_slot()` with `answer`,
 * or (answer undefined) a board that says nothing, as one in download mode or a virtual board
 * without a REPL does.
 */
async function replBoard(answer: string | undefined): Promise<{ url: string; heard: () => string; close(): Promise<void> }> {
  let heard = '';
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
    s.on('data', (d) => {
      const text = d.toString('latin1');
      heard += text;
      if (answer === undefined) return;
      if (text.includes('\x01')) s.write('raw REPL; CTRL-B to exit\r\n>');
      if (text.includes('\x04')) s.write(`OK${answer}\r\n\x04\x04>`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `socket://127.0.0.1:${port}`,
    heard: () => heard,
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

describe('Prepare OTA Image in the editor asks the board for its next slot', function () {
  this.timeout(60_000);
  let project: string;
  let out: string;
  const ctx = (port?: string): FlowContext & { log: ReturnType<typeof fakeLog> } => {
    const state = new UiState();
    if (port) state.update({ port: { path: port, virtual: true, board: 'GPy' } });
    return { log: fakeLog(), state, panel: { show: () => undefined } as never, virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0 } as never;
  };

  beforeEach(() => {
    project = path.join(tmpDir('ota-editor-'), 'pycom-micropython-sigfox');
    fs.mkdirSync(path.join(project, 'esp32', 'build', 'GPY'), { recursive: true });
    fs.writeFileSync(path.join(project, 'esp32', 'Makefile'), '');
    fs.cpSync(secureBuild('GPY'), path.join(project, 'esp32', 'build', 'GPY', 'release'), { recursive: true });
    out = path.join(tmpDir('ota-out-'), 'next.bin');
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { firmwarePath: project, board: 'GPY', keyStorePath: fixtureStore().dir });
    user.shown.length = 0;
    user.asked.length = 0;
    user.picks.length = 0;
    user.pick = (items) => items[0];
    user.save = () => out;
  });

  it('offers the slot the board names first, says so, and writes the image encrypted for it', async () => {
    const board = await replBoard('2162688');
    try {
      await prepareOta(ctx(board.url));
    } finally {
      await board.close();
    }
    assert.match(board.heard(), /import pycom; print\(pycom\.ota_slot\(\)\)/, 'the board was asked over its raw REPL');
    const pick = user.picks[0]!;
    assert.deepEqual(pick.items.map((i) => i.label), ['0x210000', '0x10000'], 'the board\'s answer first, not 0x10000 factory');
    assert.match(pick.items[0]!.description!, /the board's next slot/);
    assert.equal(pick.placeHolder, 'GPy (virtual) says its next OTA slot is 0x210000: press Enter to use it.');
    const plain = decryptFlashData(fs.readFileSync(out), { key: KEYS.flashKey, address: 0x210000, flashCryptConf: 0xf });
    assert.equal(classifyContent(plain).kind, 'image', 'the file is the app encrypted for 0x210000');
    assert.ok(user.shown.some((m) => m.text === `Pycom: wrote next.bin (${fs.statSync(out).size} bytes) for slot 0x210000.`));
    // A shared-key store needs no MAC: the board was not put in download mode (no SLIP frame), and no board record was made.
    assert.ok(!board.heard().includes('\xc0'), 'no ROM loader command was sent');
    assert.equal(fs.existsSync(path.join(String(settings.keyStorePath), 'audit.jsonl')), false, 'no record');
  });

  it('a board that does not answer (download mode, no REPL) leaves the list with a placeholder saying so; Escape writes nothing', async () => {
    const board = await replBoard(undefined);
    user.pick = () => undefined;
    try {
      await prepareOta(ctx(board.url));
    } finally {
      await board.close();
    }
    const pick = user.picks[0]!;
    assert.deepEqual(pick.items.map((i) => i.label), ['0x10000', '0x210000']);
    assert.ok(!pick.items.some((i) => /next slot/.test(i.description ?? '')), 'no slot is claimed as the board\'s');
    assert.equal(pick.placeHolder, 'GPy (virtual) did not answer pycom.ota_slot() (download mode, or no MicroPython REPL): pick the slot it will write next.');
    assert.ok(!user.asked.some((a) => a.startsWith('save:')), 'no save dialog after Escape');
    assert.equal(fs.existsSync(out), false);
  });

  it('an answer that is not a slot of this build is not offered as the default, and the placeholder says what to check', async () => {
    const board = await replBoard('0x1A0000');
    user.pick = () => undefined;
    try {
      await prepareOta(ctx(board.url));
    } finally {
      await board.close();
    }
    assert.deepEqual(user.picks[0]!.items.map((i) => i.label), ['0x10000', '0x210000']);
    assert.match(user.picks[0]!.placeHolder!, /answered 0x1A0000, which is not a slot of this build: check the board's firmware/);
  });

  it('with no port selected it says the board was not asked', async () => {
    user.pick = () => undefined;
    await prepareOta(ctx());
    assert.match(user.picks[0]!.placeHolder!, /^No port is selected, so the board was not asked/);
  });

  it('the save dialog\'s default is a short name in the build\'s folder, or the workspace when that is too long to show whole', () => {
    assert.equal(otaSavePath('/w/fw/esp32/build/GPY/release', 'GPY', 0x210000, '/w'), '/w/fw/esp32/build/GPY/gpy-ota-0x210000.bin');
    const deep = `/home/someone/${'projects/'.repeat(6)}pycom-micropython-sigfox/esp32/build/GPY/release`;
    assert.equal(otaSavePath(deep, 'GPY', 0x210000, '/home/someone/ws'), '/home/someone/ws/gpy-ota-0x210000.bin');
    assert.equal(otaSavePath(deep, 'GPY', 0x210000, undefined), path.join(path.dirname(deep), 'gpy-ota-0x210000.bin'), 'no workspace: the build folder');
  });
  /**
   * A key store with per-device keys (devices/<MAC>/, as provision --per-device-keys leaves it) and
   * a served virtual GPy with its own key burned (the Burn Keys run in the store's audit log) and
   * the build re-encrypted for that key, so its firmware boots and answers pycom.ota_slot().
   */
  describe('a board with its own key (per-device key store)', () => {
    let dev: VirtualEsp32;
    let server: SimServer;
    let url: string;
    let mac: string;
    let own: Buffer;
    let store: KeyStore;
    const audit = (): string => (fs.existsSync(store.auditPath) ? fs.readFileSync(store.auditPath, 'utf8') : '');

    before(async () => {
      store = fixtureStore();
      dev = new VirtualEsp32({ profile: 'GPY', seed: 'editor-ota-own-key', bootPredictor: bootPredictorForVirtual });
      mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
      own = randomBytes(32);
      fs.mkdirSync(path.dirname(store.deviceFlashKeyPath(mac)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(store.deviceFlashKeyPath(mac), own, { mode: 0o600 });
      const access = directAccess(dev.efuse);
      const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: own, secureBootKey: KEYS.secureBootKey, hardening: false, history: [] });
      await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: own, secureBootKey: KEYS.secureBootKey, audit: new AuditLog(store.auditPath) });
      // The build (made with the store's build key) re-encrypted for the board's own key, as provision flashes it.
      const flashed = boardPlanFromBuild(secureBuild('GPY'), { board: 'GPY', flashSize: dev.flash.size, flashKey: own, buildKey: KEYS.flashKey }).plan;
      for (const r of flashed.regions) dev.flash.program(r.address, r.data);
      server = await startSimServer(dev, { port: 0 });
      url = `socket://127.0.0.1:${server.port}`;
    });
    after(async () => {
      await server.close();
      user.button = () => undefined;
    });
    beforeEach(() => {
      settings.keyStorePath = store.dir;
    });

    it('with its port selected: MAC and key evidence read from the board, slot asked, image encrypted with the board\'s own key, recorded for it', async () => {
      const flashBefore = flashMd5(dev);
      const c = ctx(url);
      await prepareOta(c);
      assert.ok(c.log.lines.includes(`info OTA: the board on ${url} is ${mac}`), c.log.lines.join('\n'));
      assert.ok(c.log.lines.some((l) => /^info OTA: Key evidence: the verified Burn Keys run /.test(l)), 'the burn record vouches for the key');
      // Then the slot, from the firmware started out of download mode.
      assert.deepEqual(user.picks[0]!.items.map((i) => i.label), ['0x210000', '0x10000']);
      assert.equal(user.picks[0]!.placeHolder, 'GPy (virtual) says its next OTA slot is 0x210000: press Enter to use it.');
      const data = fs.readFileSync(out);
      assert.equal(classifyContent(decryptFlashData(data, { key: own, address: 0x210000, flashCryptConf: 0xf })).kind, 'image', 'decrypts with the board\'s own key');
      assert.notEqual(classifyContent(decryptFlashData(data, { key: KEYS.flashKey, address: 0x210000, flashCryptConf: 0xf })).kind, 'image', 'not with the build key');
      const recs = readBoardRecords(store.auditPath, mac).filter((r) => r.operation === 'ota-image');
      assert.equal(recs.length, 1);
      assert.equal(recs[0]!.result, 'ok');
      assert.equal(recs[0]!.board, 'GPY');
      assert.equal(recs[0]!.keyEvidence, 'burn-record');
      assert.equal(recs[0]!.keyFingerprints['flash-key'], fingerprint(own));
      assert.deepEqual(recs[0]!.regions.map((r) => [r.address, r.file, r.length]), [[0x210000, out, data.length]]);
      assert.ok(!audit().includes(own.toString('hex')) && !c.log.lines.join('\n').includes(own.toString('hex')), 'the key itself is nowhere');
      assert.ok(user.shown.some((m) => m.text === `Pycom: wrote next.bin (${data.length} bytes) for slot 0x210000 with the key of ${mac}.`));
      assert.equal(flashMd5(dev), flashBefore, 'nothing was written to the board');
    });

    it('no port selected: refused naming "Pycom: Select Port" before anything is asked; no file, no record', async () => {
      const before = audit();
      await assert.rejects(prepareOta(ctx()), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_NEED_MAC');
        assert.equal(e.message, `The key store ${store.dir} holds per-device keys (devices/<MAC>/), so an OTA image must be made with the key of the board it is for, not the build key; select that board with "Pycom: Select Port" (its MAC is read from it), then run "Pycom: Prepare OTA Image" again; nothing was written.`);
        return true;
      });
      assert.deepEqual(user.asked, [], 'no pick, no save dialog');
      assert.equal(fs.existsSync(out), false);
      assert.equal(audit(), before);
    });

    it('another store\'s key for this MAC, which the board\'s flash contradicts: refused without the modal, the way on, no file, no record', async () => {
      const other = fixtureStore();
      fs.mkdirSync(path.dirname(other.deviceFlashKeyPath(mac)), { recursive: true, mode: 0o700 });
      fs.writeFileSync(other.deviceFlashKeyPath(mac), randomBytes(32), { mode: 0o600 });
      settings.keyStorePath = other.dir;
      const asked: string[] = [];
      user.button = (text) => (asked.push(text), 'Yes, this key store burned this board');
      await assert.rejects(prepareOta(ctx(url)), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_KEY_CONTRADICTED');
        assert.match(e.message, /does not decrypt with the key store's flash-encryption key [0-9a-f]{16} .*is not the one that burned this board; use the key store that burned it \(set pycom\.keyStorePath\); nothing was written\.$/);
        assert.doesNotMatch(e.message, /--trust-key-store|--key-store/);
        return true;
      });
      assert.deepEqual(asked, [], 'evidence against is not put to the user');
      assert.equal(user.picks.length, 0, 'refused before the slot pick');
      assert.equal(fs.existsSync(out), false);
      assert.equal(fs.existsSync(other.auditPath), false);
    });
  });
});
