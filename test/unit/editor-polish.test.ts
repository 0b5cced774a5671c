import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildFirmware, burnKeys, interruptedBurnRun, rehearse, type FlowContext } from '../../src/extension/flows';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { KeyStore } from '../../src/core/keystore/key-store';
import { readAudit } from '../../src/core/audit/audit-log';
import { KEYS } from './flash-harness';
import { VirtualBoards } from '../../src/extension/virtual-boards';
import { tmpDir } from './flash-harness';
import { snapshotFromWords } from '../../src/extension/sources/efuse-snapshot';
import { keyRegisterBytes } from '../../src/core/efuse/burn/burn-keys';
import { fingerprint } from '../../src/core/util/fingerprint';
import { UiState } from '../../src/extension/state';
import { macPrompt, vscodeUi } from '../../src/extension/vscode-ui';

/** Editor fixes from a new-user trial: Build's failure notification, Rehearse and the selected port, prompts. */
describe('editor: Build Secure Firmware says how it ended, failure included', () => {
  const ctx = (code: number | undefined, reason?: string): FlowContext & { refreshed: number } => {
    const c = {
      log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never, refreshed: 0,
      virtuals: { find: () => undefined, list: () => [] } as never, runBuildTask: async () => code,
      lastBuildError: () => reason,
    } as unknown as FlowContext & { refreshed: number };
    c.refreshAll = () => { c.refreshed++; };
    return c;
  };
  beforeEach(() => { user.shown.length = 0; for (const k of Object.keys(settings)) delete settings[k]; });

  it('success: an information notification and the views refreshed', async () => {
    const c = ctx(0);
    assert.equal(await buildFirmware(c), true);
    assert.deepEqual(user.shown, [{ level: 'info', text: 'Pycom: the secure build finished; its outputs are in the Builds view.' }]);
    assert.equal(c.refreshed, 1);
  });

  it('make failed: an error notification that says so and where to look (not only the terminal)', async () => {
    const c = ctx(2);
    assert.equal(await buildFirmware(c), false);
    assert.deepEqual(user.shown, [{ level: 'error', text: 'Pycom: the secure build failed (make exited with 2); its output is in the build task\'s terminal, and compiler errors are in the Problems view.' }]);
    assert.equal(c.refreshed, 1);
  });

  it('refused before make ran: the error notification gives the task\'s reason', async () => {
    const c = ctx(1, 'Set pycom.board to the module you build for (WiPy, GPy).');
    assert.equal(await buildFirmware(c), false);
    assert.equal(user.shown.length, 1);
    assert.equal(user.shown[0]!.level, 'error');
    assert.equal(user.shown[0]!.text, 'Pycom: the secure build failed: Set pycom.board to the module you build for (WiPy, GPy) (also in the build task\'s terminal).');
  });
});

describe('editor: the typed-MAC box says what it does', () => {
  it('no "anything else aborts" (a wrong MAC keeps the box open): Escape cancels', async () => {
    const core = 'Type this board\'s MAC (24:0a:c4:00:00:01) to burn 3 step(s); eFuses cannot be unburned, anything else aborts.';
    assert.equal(macPrompt(core), 'Type this board\'s MAC (24:0a:c4:00:00:01) to burn 3 step(s); eFuses cannot be unburned; press Escape to cancel (nothing is burned until the MAC matches).');
    let seen: { prompt?: string; validateInput?: (v: string) => string | undefined } = {};
    user.type = (o) => { seen = o as typeof seen; return undefined; };
    try {
      assert.equal(await vscodeUi(fakeLog() as never).confirmMac!({ mac: '24:0a:c4:00:00:01', virtual: true, title: 't', prompt: core }), undefined);
    } finally {
      user.type = () => undefined;
    }
    assert.doesNotMatch(seen.prompt!, /anything else aborts/);
    assert.match(seen.prompt!, /press Escape to cancel/);
    assert.equal(seen.validateInput!('24:0a:c4:00:00:02'), 'That is not this board\'s MAC; type 24:0a:c4:00:00:01.');
    assert.equal(seen.validateInput!('24:0A:C4:00:00:01'), undefined);
  });
});

describe('editor: Rehearse on Virtual Board keeps the selected port', function () {
  this.timeout(60_000);
  const virtuals = new VirtualBoards();
  after(() => { virtuals.dispose(); user.type = () => undefined; user.button = () => undefined; });

  it('the rehearsal runs on its own virtual board; the selected port (status bar, Flash, Burn Keys\' first entry) stays', async () => {
    for (const k of Object.keys(settings)) delete settings[k];
    Object.assign(settings, { keyStorePath: path.join(tmpDir('editor-rehearse-'), 'secure'), virtualBoardProfile: 'GPY', baudRate: 115200 });
    const state = new UiState();
    const selected = { path: '/dev/ttyACM7', virtual: false, board: 'GPy' };
    state.update({ port: selected });
    const log = fakeLog();
    const titles: string[] = [];
    // Burn Keys: Development, then Escape at the typed MAC: nothing burned, the rehearsal stops there.
    user.type = (o) => { titles.push(o.title ?? ''); return undefined; };
    // The key store folder does not exist yet: Generate Keys asks before creating it; yes.
    const asked: string[] = [];
    user.button = (text, buttons) => (asked.push(text), /^Create the key store folder /.test(text) ? buttons[0] : undefined);
    user.shown.length = 0;
    const c = { log, state, panel: { show: () => undefined } as never, virtuals, refreshAll: () => undefined, runBuildTask: async () => 0 } as unknown as FlowContext;
    await rehearse(c);
    assert.equal(virtuals.list().length, 1);
    const board = virtuals.list()[0]!;
    assert.deepEqual(state.port, selected);
    assert.equal(titles.length, 1);
    assert.match(titles[0]!, /^Burn Keys on the VIRTUAL board /);
    assert.ok(log.lines.some((l) => l.includes(`rehearsal: on ${board.url}; the selected port stays /dev/ttyACM7`)));
    // The rehearsal board is listed (Select Port can select it), not selected.
    assert.ok(state.ports.some((r) => r.path === board.url && r.virtual));
    assert.ok(user.shown.some((m) => /Burn Keys was cancelled; nothing was burned/.test(m.text)));
    assert.deepEqual(asked, [`Create the key store folder ${settings.keyStorePath}?`]);
  });
});

describe('editor: the eFuse inspector names a key block by one fingerprint, the key file\'s', () => {
  it('BLOCK1 in the field table and under "Raw blocks" give the same fingerprint, that of the key file burned', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);
    // The hardware holds the key file reversed (register order), as little-endian words.
    const reg = keyRegisterBytes(key);
    const block1 = Array.from({ length: 8 }, (_, i) => reg.readUInt32LE(i * 4));
    const words = [new Array<number>(7).fill(0), block1, new Array<number>(8).fill(0), new Array<number>(8).fill(0)];
    const snap = snapshotFromWords(words, 'test');
    const fp = fingerprint(key);
    assert.equal(snap.fields.find((f) => f.name === 'BLOCK1')!.value, `set, fingerprint ${fp}`);
    assert.equal(snap.fields.find((f) => f.name === 'BLOCK1')!.raw, `set, fingerprint ${fp}`);
    assert.equal(snap.blocks[1]!.hex, `key block, fingerprint ${fp}`);
    assert.equal(snap.fields.find((f) => f.name === 'BLOCK2')!.value, 'empty');
    assert.equal(snap.blocks[2]!.hex, 'key block, empty');
    // No key byte anywhere in the snapshot.
    assert.ok(!JSON.stringify(snap).includes(Buffer.from(key).toString('hex').slice(0, 16)));
    assert.ok(!JSON.stringify(snap).includes(reg.toString('hex').slice(0, 16)));
  });

  it('a read-protected key block says so (it reads as zeros, which is not "empty")', () => {
    const words = [new Array<number>(7).fill(0), new Array<number>(8).fill(0), new Array<number>(8).fill(0), new Array<number>(8).fill(0)];
    words[0]![0] = 1 << 16; // RD_DIS bit 0 (word 0 bits 16..19): BLOCK1 read-protected
    const snap = snapshotFromWords(words, 'test');
    assert.equal(snap.fields.find((f) => f.name === 'BLOCK1')!.value, 'read-protected');
    assert.equal(snap.blocks[1]!.hex, 'key block, read-protected');
  });
});

describe('docs/editor.md: commands hidden from the palette are documented as view buttons', () => {
  it('no command the palette hides (when: false) is in the Commands table; each is named as a view button', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const pkg = require('../../package.json') as { contributes: { commands: { command: string; title: string }[]; menus: { commandPalette: { command: string; when?: string }[] } } };
    const hidden = pkg.contributes.menus.commandPalette.filter((m) => m.when === 'false').map((m) => pkg.contributes.commands.find((c) => c.command === m.command)!.title);
    assert.ok(hidden.includes('Reveal Key Store') && hidden.includes('Refresh Devices'));
    const doc = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'editor.md'), 'utf8');
    const commands = doc.slice(doc.indexOf('## Commands'), doc.indexOf('\n## ', doc.indexOf('## Commands') + 1));
    const table = commands.split('\n').filter((l) => l.startsWith('|')).join('\n');
    const buttons = commands.split('\n\n').find((p) => /buttons in a view's title bar only, not in the command palette/.test(p)) ?? '';
    for (const t of hidden) {
      assert.ok(!table.includes(t), `${t} is in the Commands table, but the palette hides it`);
      assert.ok(buttons.includes(`**${t}**`), `${t} is not named as a view button`);
    }
  });
});

describe('editor: Burn Keys after a cancelled burn says it resumes the run, and does not ask the profile again', function () {
  this.timeout(60_000);
  after(() => { user.type = () => undefined; user.pick = (items) => items[0]; user.cancelProgress = false; });

  it('cancelled at the first step, then run again: "resuming run <id>", no Development/Release question, burned', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'editor-resume' });
    const server = await startSimServer(dev, { port: 0 });
    try {
      const store = new KeyStore(path.join(tmpDir('editor-resume-'), 'secure'));
      store.ensureDir();
      fs.writeFileSync(store.signingKeyPath, KEYS.signingKeyPem);
      fs.writeFileSync(store.sharedFlashKeyPath, KEYS.flashKey);
      for (const k of Object.keys(settings)) delete settings[k];
      Object.assign(settings, { keyStorePath: store.dir, baudRate: 115200, resetMode: 'auto' });
      const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
      const port = { path: `socket://127.0.0.1:${server.port}`, virtual: true, board: 'GPy' };
      const c = { log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never, virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0 } as unknown as FlowContext;
      user.type = () => mac;
      user.picks.length = 0;
      user.shown.length = 0;
      // First run: Development (the first choice), the MAC, then Cancel in the progress notification.
      user.pick = (items) => items[0];
      user.cancelProgress = true;
      assert.equal(await burnKeys(c, port), false);
      user.cancelProgress = false;
      assert.equal(user.picks.filter((p) => /Burn Keys/.test(p.title ?? '')).length, 1);
      const open = interruptedBurnRun(store.auditPath, mac);
      assert.ok(open, 'the cancelled run is open in the audit log');
      assert.equal(open.hardening, false);
      assert.equal(interruptedBurnRun(store.auditPath, '24:0a:c4:00:00:00'), undefined);
      // Second run: no profile question; it says it resumes that run first.
      user.picks.length = 0;
      user.shown.length = 0;
      user.pick = () => { throw new Error('the profile must not be asked again'); };
      assert.equal(await burnKeys(c, port), true);
      assert.equal(user.picks.length, 0);
      assert.match(user.shown[0]!.text, new RegExp(`^Pycom: resuming Burn Keys run ${open.id} on ${mac} \\(started .*, Development\\): the steps it burned are verified, not burned again`));
      assert.match(user.shown[1]!.text, /burned and verified \d+ step\(s\)/);
      const done = readAudit(store.auditPath).records.filter((r) => r.phase === 'done');
      assert.ok(done.some((r) => r.id === open.id), 'the resumed run is closed');
      assert.equal(interruptedBurnRun(store.auditPath, mac), undefined);
    } finally {
      await server.close();
    }
  });
});

describe('editor: physical eFuse words (a virtual board\'s own) of a read-protected key block', () => {
  it('name the key by the key file\'s fingerprint, marked read-protected, in the table and the raw blocks alike', () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 7) & 0xff);
    const reg = keyRegisterBytes(key);
    const words = [new Array<number>(7).fill(0), Array.from({ length: 8 }, (_, i) => reg.readUInt32LE(i * 4)), new Array<number>(8).fill(0), new Array<number>(8).fill(0)];
    words[0]![0] = 1 << 16;
    const snap = snapshotFromWords(words, 'test');
    assert.equal(snap.fields.find((f) => f.name === 'BLOCK1')!.value, `read-protected, fingerprint ${fingerprint(key)}`);
    assert.equal(snap.blocks[1]!.hex, `key block, read-protected, fingerprint ${fingerprint(key)}`);
  });
});
