import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { firmwarePathProblem, flashFirmware, generateKeys, keyStoreSettingProblem, type FlowContext } from '../../src/extension/flows';
import { withDevice } from '../../src/extension/device';
import { keysNodes } from '../../src/extension/trees/keys-nodes';
import { buildsNodes } from '../../src/extension/trees/builds-nodes';
import { UiState } from '../../src/extension/state';
import { tmpDir } from './flash-harness';

/** Settings named in messages: each bad setting is refused naming the setting, its value and what to do. */
describe('editor: messages about a bad setting name the setting', () => {
  let root: string;
  const ctx = (): FlowContext => ({
    log: fakeLog(), state: new UiState(), panel: { show: () => undefined } as never,
    virtuals: { find: () => undefined, list: () => [] } as never, refreshAll: () => undefined, runBuildTask: async () => 0,
  }) as never;

  beforeEach(() => {
    root = tmpDir('editor-settings-');
    for (const k of Object.keys(settings)) delete settings[k];
    user.shown.length = 0;
  });

  it('pycom.baudRate not a loader rate: refused naming the setting and the rates, before the port is opened', async () => {
    let opened = false;
    await assert.rejects(withDevice('/dev/does-not-exist', { baudRate: 12345, resetMode: 'auto' }, () => undefined, async () => { opened = true; }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_BAUD');
      assert.equal(e.message, 'The setting pycom.baudRate is 12345, which is not a rate this tool uses: set pycom.baudRate to one of 115200, 230400, 460800, 921600, 1500000, 2000000, 3000000; nothing was sent to the board.');
      return true;
    });
    assert.equal(opened, false);
  });

  it('pycom.keyStorePath at a missing folder: the Keys view says so (not "empty"), naming the setting and the path', () => {
    const missing = path.join(root, 'no-such-store');
    settings.keyStorePath = missing;
    const p = keyStoreSettingProblem(false)!;
    assert.equal(p.kind, 'missing');
    assert.match(p.text, /^The setting pycom\.keyStorePath is ".*no-such-store", but .*no-such-store does not exist: set pycom\.keyStorePath to the folder that holds your keys, or run "Pycom: Generate Keys"/);
    const [n] = keysNodes(undefined, p);
    assert.equal(n!.label, 'pycom.keyStorePath: no such folder');
    assert.equal(n!.tooltip, p.text);
    assert.equal(fs.existsSync(missing), false);
  });

  it('the default key store folder not made yet is an empty store for the Keys view, but Flash refuses it naming the setting', async () => {
    settings.keyStorePath = 'secure';
    assert.equal(keyStoreSettingProblem(false), undefined, 'no workspace: nothing to resolve');
    settings.keyStorePath = path.join(root, 'secure');
    assert.equal(keyStoreSettingProblem(true)!.kind, 'missing');
  });

  it('Flash with pycom.keyStorePath at a missing folder: refused naming the setting and the path; nothing created, no board opened', async () => {
    const missing = path.join(root, 'gone');
    settings.keyStorePath = missing;
    const c = ctx();
    await assert.rejects(flashFirmware(c, { path: '/dev/does-not-exist', virtual: false }), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_KEY_STORE');
      assert.match(e.message, /^The setting pycom\.keyStorePath is ".*gone", but .*gone does not exist: .*; nothing was written\.$/);
      assert.doesNotMatch(e.message, /no flash-encryption key for this board/);
      return true;
    });
    assert.equal(fs.existsSync(missing), false);
    assert.equal(c.state.flash!.state, 'failed');
    assert.match(c.state.flash!.result!.text, /^The setting pycom\.keyStorePath/);
  });

  it('pycom.keyStorePath at a file: Generate Keys refuses naming the setting; the file is untouched and no key written', async () => {
    const file = path.join(root, 'store-is-a-file');
    fs.writeFileSync(file, 'not a folder\n');
    settings.keyStorePath = file;
    await assert.rejects(generateKeys(ctx()), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_NO_DIR');
      assert.match(e.message, /^The setting pycom\.keyStorePath is ".*store-is-a-file" \(.*\), which is a file, not a folder: set pycom\.keyStorePath to the folder that holds your keys \(or to a new folder for Generate Keys\); no key was generated\.$/);
      return true;
    });
    assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder\n');
    assert.deepEqual(fs.readdirSync(root), ['store-is-a-file']);
    assert.equal(keysNodes(undefined, keyStoreSettingProblem(false))[0]!.label, 'pycom.keyStorePath is a file');
    assert.equal(user.shown.length, 0);
  });

  it('pycom.keyStorePath at a folder that does not exist (mistyped): Generate Keys asks, naming the setting and the folder; Cancel makes nothing', async () => {
    const typo = path.join(root, 'secrue');
    settings.keyStorePath = typo;
    const asked: { text: string; buttons: readonly string[] }[] = [];
    user.button = (text, buttons) => (asked.push({ text, buttons }), undefined);
    try {
      const c = ctx();
      assert.equal(await generateKeys(c), false);
      assert.equal(asked.length, 1);
      assert.equal(asked[0]!.text, `Create the key store folder ${typo}?`);
      assert.deepEqual(asked[0]!.buttons, ['Create Folder and Generate Keys']);
      assert.equal(fs.existsSync(typo), false, 'no folder made');
      assert.deepEqual(fs.readdirSync(root), []);
      assert.ok((c.log as unknown as { lines: string[] }).lines.some((l) => l.includes(`${typo} was not created and no key was generated`)));
      assert.ok(!user.shown.some((m) => /generated/.test(m.text)), 'no key announced');
    } finally {
      user.button = () => undefined;
    }
  });

  it('pycom.keyStorePath at a new folder, and the user says create it: the folder and the keys are made (0600)', async () => {
    const fresh = path.join(root, 'keys', 'store');
    settings.keyStorePath = fresh;
    user.button = (text, buttons) => (/^Create the key store folder /.test(text) ? buttons[0] : undefined);
    try {
      assert.equal(await generateKeys(ctx()), true);
    } finally {
      user.button = () => undefined;
    }
    const pem = path.join(fresh, 'secure_boot_signing_key.pem');
    assert.ok(fs.existsSync(pem));
    assert.equal(fs.statSync(pem).mode & 0o777, 0o600);
    assert.ok(user.shown.some((m) => /^Pycom: generated signing key [0-9a-f]{16}/.test(m.text)));
  });

  it('pycom.firmwarePath wrong: the Builds view says it is set to X and X does not exist / is no Pycom firmware (not "set pycom.firmwarePath")', () => {
    settings.firmwarePath = path.join(root, 'nowhere');
    assert.match(firmwarePathProblem()!, /^The setting pycom\.firmwarePath is ".*nowhere", but .*nowhere does not exist: set pycom\.firmwarePath to your pycom-micropython-sigfox checkout/);
    fs.mkdirSync(path.join(root, 'not-firmware'));
    settings.firmwarePath = path.join(root, 'not-firmware');
    const text = firmwarePathProblem()!;
    assert.match(text, /^The setting pycom\.firmwarePath is ".*not-firmware", but .*not-firmware is not a Pycom firmware checkout \(no esp32\/Makefile in it or in a folder above it\): set pycom\.firmwarePath/);
    const [n] = buildsNodes(undefined, text);
    assert.equal(n!.label, 'pycom.firmwarePath: no Pycom firmware there');
    assert.equal(n!.tooltip, text);
    fs.mkdirSync(path.join(root, 'not-firmware', 'esp32'));
    fs.writeFileSync(path.join(root, 'not-firmware', 'esp32', 'Makefile'), '# fixture\n');
    assert.equal(firmwarePathProblem(), undefined);
    settings.firmwarePath = '';
    assert.equal(firmwarePathProblem(), undefined);
  });
});
