import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { flashFirmware, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog, readAudit } from '../../src/core/audit/audit-log';
import { KeyStore } from '../../src/core/keystore/key-store';
import { KEYS, fixtureFirmwareProject, flashMd5, fixtureBurnPlan } from './flash-harness';

/**
 * Issue 12 B in the editor: Flash Secure Firmware on a board whose keys are read-protected, with a
 * key store that has no burn record for it (a second workstation's copy) and an erased flash, asks
 * through the UI port's modal confirm; Cancel writes nothing, Yes is recorded in the audit log.
 */
describe('editor: Flash asks (modal) before trusting a key store without evidence', function () {
  this.timeout(60_000);
  let server: SimServer;
  let dev: VirtualEsp32;
  let url: string;
  let store: KeyStore;

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'editor-evidence' });
    const { access, mac, plan } = await fixtureBurnPlan(dev);
    // Burned from another workstation: the record is not in this store.
    await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey });
    server = await startSimServer(dev, { port: 0 });
    url = `socket://127.0.0.1:${server.port}`;
    let project: string;
    ({ project, store } = fixtureFirmwareProject('editor-ev-'));
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, firmwarePath: project, board: 'GPY', baudRate: 115200, resetMode: 'auto' });
  });
  after(async () => {
    await server.close();
    user.button = () => undefined;
  });
  const ctx = (): FlowContext => ({
    log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never,
    virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0,
  }) as never;
  const port = () => ({ path: url, virtual: true, board: 'GPy' });

  it('Cancel: refused with the reason, nothing written, nothing recorded', async () => {
    const asked: string[] = [];
    user.button = (text) => (asked.push(text), undefined);
    const before = flashMd5(dev);
    await assert.rejects(flashFirmware(ctx(), port()), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEY_EVIDENCE');
      assert.match(e.message, /answer Yes to the question about the key store/);
      assert.match(e.message, /use the key store that burned this board \(set pycom\.keyStorePath\)/);
      assert.doesNotMatch(e.message, /--trust-key-store|--key-store/);
      return true;
    });
    assert.equal(asked.length, 1);
    assert.match(asked[0]!, /is this key store the one whose keys were burned into this board/);
    assert.equal(flashMd5(dev), before);
    assert.equal(fs.existsSync(store.auditPath), false);
  });

  it('Yes: flashed, and the answer is in the audit log (fingerprints only)', async () => {
    user.button = (_text, buttons) => buttons[0];
    const c = ctx();
    assert.equal(await flashFirmware(c, port()), true);
    // The flash log names the key file by a path that resolves: here (no workspace folder, the store
    // outside the working folder) the absolute one, never "../../tmp/...".
    const said = (c.log as unknown as { lines: string[] }).lines.filter((l) => l.includes('Flash key: '));
    assert.equal(said.length, 1, said.join('\n'));
    assert.ok(said[0]!.includes(`Flash key: ${store.sharedFlashKeyPath}`), said[0]);
    const recs = readAudit(store.auditPath).records.filter((r) => r.operation === 'trust-key-store');
    assert.equal(recs.length, 1);
    assert.match(recs[0]!.message ?? '', /confirmed that this key store holds/);
    assert.ok(!fs.readFileSync(store.auditPath, 'utf8').includes(Buffer.from(KEYS.flashKey).toString('hex')));
  });

  it('pycom.keyStorePath mistyped (a new store with other keys): the flash contradicts its key, refused without the modal, nothing written', async () => {
    const asked: string[] = [];
    user.button = (text) => (asked.push(text), 'Yes, this key store burned this board');
    const other = new KeyStore(path.join(path.dirname(store.dir), 'secrue'));
    other.ensureDir();
    fs.writeFileSync(other.signingKeyPath, KEYS.signingKeyPem);
    fs.writeFileSync(other.sharedFlashKeyPath, new Uint8Array(32).fill(0x5b));
    settings.keyStorePath = other.dir;
    const before = flashMd5(dev);
    try {
      await assert.rejects(flashFirmware(ctx(), port()), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_KEY_CONTRADICTED');
        assert.match(e.message, /does not decrypt with the key store's flash-encryption key [0-9a-f]{16}/);
        assert.ok(e.message.includes(`so this key store (${other.dir}) is not the one that burned this board; use the key store that burned it (set pycom.keyStorePath); nothing was written.`), e.message);
        assert.doesNotMatch(e.message, /--trust-key-store|--key-store|answer Yes/);
        return true;
      });
    } finally {
      settings.keyStorePath = store.dir;
    }
    assert.deepEqual(asked, []);
    assert.equal(flashMd5(dev), before);
    assert.equal(fs.existsSync(other.auditPath), false);
  });
});

/**
 * A Burn Keys run cut off half-way, recorded in the workspace's key store: Flash Secure Firmware
 * names it first, in the editor's words (its own Burn Keys command, not the CLI's), and writes nothing.
 */
describe('editor: Flash on a board whose Burn Keys run was cut off names the editor\'s command to finish it', function () {
  this.timeout(60_000);
  let server: SimServer;
  let dev: VirtualEsp32;
  let url: string;
  let store: KeyStore;

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'editor-burn-cut' });
    let project: string;
    ({ project, store } = fixtureFirmwareProject('editor-cut-'));
    const { access, mac, plan } = await fixtureBurnPlan(dev);
    const ac = new AbortController();
    let started = 0;
    await assert.rejects(executeBurnKeys(access, plan, {
      confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit: new AuditLog(store.auditPath), signal: ac.signal,
      onProgress: (m) => { if (m.startsWith('Burning: ') && ++started === 4) ac.abort(); },
    }), /cancelled/i);
    server = await startSimServer(dev, { port: 0 });
    url = `socket://127.0.0.1:${server.port}`;
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, firmwarePath: project, board: 'GPY', baudRate: 115200, resetMode: 'auto' });
  });
  after(async () => {
    await server.close();
    user.button = () => undefined;
  });

  it('refused with "Pycom: Burn Keys", no question asked, nothing written or recorded', async () => {
    const asked: string[] = [];
    user.button = (text) => (asked.push(text), undefined);
    const before = flashMd5(dev);
    const lines = fs.readFileSync(store.auditPath, 'utf8');
    const ctx = {
      log: fakeLog(), state: new UiState(), panel: { show: () => undefined },
      virtuals: { find: () => undefined, list: () => [] }, refreshAll: () => undefined, runBuildTask: async () => 0,
    } as never as FlowContext;
    await assert.rejects(flashFirmware(ctx, { path: url, virtual: true, board: 'GPy' }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_BURN_UNFINISHED');
      assert.match(e.message, /^flash: Burn Keys run \S+ on [0-9a-f:]{17} \(started \S+\) was cut off after 4 of 6 steps, .*; run "Pycom: Burn Keys" again on this board to finish it before flash; nothing was written\.$/);
      assert.doesNotMatch(e.message, /pycom-secure|--|Provision Boards/);
      return true;
    });
    assert.deepEqual(asked, []);
    assert.equal(flashMd5(dev), before);
    assert.equal(fs.readFileSync(store.auditPath, 'utf8'), lines);
  });
});
