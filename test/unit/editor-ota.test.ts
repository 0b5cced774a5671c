import { user, settings, fakeLog } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { prepareOta, otaSavePath, type FlowContext } from '../../src/extension/flows';
import { UiState } from '../../src/extension/state';
import { decryptFlashData } from '../../src/core/crypto/flash-encryption';
import { classifyContent } from '../../src/core/firmware/content';
import { KEYS, fixtureStore, secureBuild, tmpDir } from './flash-harness';

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
});
