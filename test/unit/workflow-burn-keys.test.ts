import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { burnKeys as editorBurnKeys, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';
import { generateMissingKeys } from '../../src/extension/keys-actions';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { interruptedOperations } from '../../src/core/audit/audit-log';
import { burnKeys, withBoard, scriptedUi, hardeningChoices, KeyStore, digestPrivateKey, readSigningKeyFile, readHardwareKeyFile, readAudit, HARDENING_FUSES, type BurnKeysOutcome } from '../../src/core';

/**
 * The one Burn Keys workflow, driven the three ways the product drives it: the CLI's and the
 * campaigns' scripted answers, and the editor's VS Code UI port (quick pick, input box, progress).
 */
describe('Burn Keys workflow (one implementation for the CLI, the editor and the campaigns)', function () {
  this.timeout(60_000);
  let dir: string;
  let store: KeyStore;
  let dev: VirtualEsp32;
  let server: SimServer;
  let url: string;

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wf-burn-'));
    store = new KeyStore(path.join(dir, 'secure'));
    generateMissingKeys(store.dir, false, fs.existsSync);
    dev = new VirtualEsp32({ profile: 'GPY', seed: `wf-burn-${Math.random()}` });
    server = await startSimServer(dev, { port: 0 });
    url = `socket://127.0.0.1:${server.port}`;
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: store.dir, baudRate: 115200, resetMode: 'auto' });
    user.shown.length = 0;
    user.asked.length = 0;
    user.pick = (items) => items[0];
    user.type = () => undefined;
  });
  afterEach(async () => {
    await server.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const keys = ({ threeFour }: { threeFour: boolean }) => ({
    flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'),
    secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), threeFour ? 192 : 256),
  });
  /** The CLI's and the campaigns' way: scripted answers (the MAC typed as shown). */
  const scripted = (hardening: boolean): Promise<BurnKeysOutcome> =>
    withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), (b) => burnKeys(b, { store, keys, hardening, showPlan: () => undefined }, scriptedUi()));
  const ctx = (): FlowContext & { log: ReturnType<typeof fakeLog> } => ({
    log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never,
    virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0,
  }) as never;
  const port = () => ({ path: url, virtual: true, board: 'GPy' });

  it('the editor closes a run cut off after its last burn (its old copy left it open for good)', async () => {
    assert.equal((await scripted(false)).kind, 'burned');
    // Cut off after the last burn, before the done line: remove the done line(s) of that run.
    const lines = fs.readFileSync(store.auditPath, 'utf8').split('\n').filter((l) => l && !/"phase":"done"/.test(l));
    fs.writeFileSync(store.auditPath, `${lines.join('\n')}\n`);
    const open = interruptedOperations(readAudit(store.auditPath).records);
    assert.equal(open.length, 1);
    const before = dev.efuse.rawWords().map((b) => [...b]);

    const c = ctx();
    assert.equal(await editorBurnKeys(c, port()), true);

    const records = readAudit(store.auditPath).records;
    assert.deepEqual(interruptedOperations(records), [], 'the interrupted run is closed');
    assert.ok(records.some((r) => r.id === open[0]!.id && r.phase === 'done' && /closed by later run/.test(r.message ?? '')));
    assert.deepEqual(dev.efuse.rawWords().map((b) => [...b]), before, 'nothing was burned');
    assert.ok(user.shown.some((m) => /nothing to do/.test(m.text) && /verified and closed/.test(m.text)), JSON.stringify(user.shown));
    assert.ok(!user.asked.some((a) => a.startsWith('type:')), 'no MAC is asked when nothing is burned');
  });

  it('the editor asks nothing on a board that already has every fuse, and says so', async () => {
    assert.equal((await scripted(true)).kind, 'burned');
    assert.equal(await editorBurnKeys(ctx(), port()), true);
    assert.deepEqual(user.asked, [], 'neither development/release nor the MAC was asked');
    assert.ok(user.shown.some((m) => /already has its keys burned and protected; nothing to do/.test(m.text)));
  });

  it('on a board burned with the development profile the editor asks nothing and says so first; Release is offered, not assumed', async () => {
    assert.equal((await scripted(false)).kind, 'burned');
    const before = dev.efuse.rawWords().map((b) => [...b]);
    assert.equal(await editorBurnKeys(ctx(), port()), true);
    assert.deepEqual(user.asked, [], 'neither development/release nor the MAC was asked');
    const said = user.shown.find((m) => /already has its keys burned and protected; nothing to do/.test(m.text));
    assert.ok(said, JSON.stringify(user.shown));
    assert.match(said.text, /download-mode crypto and JTAG are still open/);
    assert.deepEqual(dev.efuse.rawWords().map((b) => [...b]), before, 'nothing was burned');
    assert.equal(dev.efuse.rawField('JTAG_DISABLE'), 0n);
  });

  it('the editor burns what the plan shows once the MAC is typed, through the same workflow', async () => {
    user.type = (o) => {
      const mac = /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(o.title ?? '')![1]!;
      assert.equal(o.validateInput!('00:00:00:00:00:00'), `That is not this board's MAC; type ${mac}.`);
      assert.equal(o.validateInput!(mac), undefined);
      return mac;
    };
    assert.equal(await editorBurnKeys(ctx(), port()), true);
    assert.deepEqual(user.asked.map((a) => a.split(':')[0]), ['pick', 'type']);
    assert.ok(/VIRTUAL board/.test(user.asked[1]!));
    assert.equal(dev.efuse.rawField('ABS_DONE_0'), 1n);
    assert.equal(dev.efuse.rawField('JTAG_DISABLE'), 0n, 'Development burns no hardening fuse');
    const r = readAudit(store.auditPath).records;
    assert.ok(r.some((x) => x.phase === 'done' && x.result === 'ok'));
  });

  it('Escape at the MAC prompt burns nothing and says so; Escape at the profile burns nothing and says so', async () => {
    const before = dev.efuse.rawWords().map((b) => [...b]);
    assert.equal(await editorBurnKeys(ctx(), port()), false);
    assert.ok(user.shown.some((m) => m.text === 'Pycom: Burn Keys was cancelled; nothing was burned.'));
    user.shown.length = 0;
    user.pick = () => undefined;
    assert.equal(await editorBurnKeys(ctx(), port()), false);
    assert.ok(user.shown.some((m) => m.text === 'Pycom: Burn Keys was cancelled; nothing was burned.'));
    assert.deepEqual(dev.efuse.rawWords().map((b) => [...b]), before);
    assert.equal(fs.existsSync(store.auditPath), false, 'no audit record for a burn that never started');
  });

  it('a cancel in the progress stops before the first step and is reported, not thrown; a rerun resumes', async () => {
    user.type = (o) => /([0-9a-f]{2}(?::[0-9a-f]{2}){5})/.exec(o.title ?? '')![1];
    user.cancelProgress = true;
    try {
      assert.equal(await editorBurnKeys(ctx(), port()), false);
    } finally {
      user.cancelProgress = false;
    }
    assert.ok(user.shown.some((m) => m.level === 'warning' && /cancelled before/.test(m.text) && /run Burn Keys again to resume/.test(m.text)));
    assert.equal(dev.efuse.rawField('ABS_DONE_0'), 0n);
    assert.equal(interruptedOperations(readAudit(store.auditPath).records).length, 1);
    assert.equal(await editorBurnKeys(ctx(), port()), true);
    assert.deepEqual(interruptedOperations(readAudit(store.auditPath).records), []);
  });

  it('offers development first (the default) and release with each fuse\'s closes and cost', () => {
    const [dev0, rel] = hardeningChoices();
    assert.equal(dev0!.value, false);
    assert.equal(rel!.value, true);
    for (const f of HARDENING_FUSES) assert.ok(rel!.detail!.includes(`${f.name} closes: ${f.closes} (cost: ${f.cost})`), f.name);
  });
});
