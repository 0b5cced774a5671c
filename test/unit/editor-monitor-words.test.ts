import { user, settings, fakeLog, outputChannels } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import { monitorLines, serialMonitor, type FlowContext } from '../../src/extension/flows';
import { BOOT_LOG_HINTS } from '../../src/extension/flows/context';
import { UiState } from '../../src/extension/state';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { explainBootLog } from '../../src/core/boot/boot-log';
import { bootLogLines } from '../../src/core/workflows/flash';
import { keyFileLabel } from '../../src/core/flash/session';
import * as path from 'node:path';

/** What the board prints after an interrupted flash of its app (the boot model's lines, predict.ts). */
const CUT_APP = [
  'ets Jun  8 2016 00:22:57', '', 'rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)',
  'E (0) esp_image: the image is corrupt (checksum or hash)', 'E (0) boot: No bootable app partitions in the partition table',
].join('\r\n');

describe('boot-log explanations say to flash again, in each front end\'s words', () => {
  it('the CLI: "esp_image: the image is corrupt" is explained, and it and "No bootable app partitions" say to run the same flash again', () => {
    const ex = explainBootLog(CUT_APP);
    assert.equal(ex.verdict, 'failed');
    assert.deepEqual(ex.findings.map((f) => f.entry.id), ['app-corrupt', 'no-app']);
    assert.match(ex.summary, /^The board did not boot: "esp_image: the image is corrupt \(checksum or hash\)" means the app image does not check out: .*; an interrupted flash leaves the app cut short like this: run the same `pycom-secure flash` again to write it in full \(`pycom-secure predict-boot --port PORT` tells whether a region was cut off\)/);
    const lines = bootLogLines(CUT_APP, ex, { advice: true });
    assert.ok(lines.some((l) => /^✗ "No bootable app partitions in the partition table": no app partition holds a valid image \(after an interrupted flash this is the app left partly written: run the same `pycom-secure flash` again/.test(l)), lines.join('\n'));
    assert.ok(!lines.join('\n').includes('Pycom:'), 'no editor command in the CLI\'s words');
  });

  it('the editor: the same lines name "Pycom: Flash Secure Firmware" and Check Board\'s Flash, never the CLI', () => {
    const ex = explainBootLog(CUT_APP, BOOT_LOG_HINTS);
    assert.match(ex.summary, /run "Pycom: Flash Secure Firmware" again to write it in full \("Pycom: Check Board's Flash \(Predict Boot\)" tells whether a region was cut off\)/);
    const all = [ex.summary, ...ex.findings.map((f) => f.advice ?? '')].join('\n');
    assert.doesNotMatch(all, /pycom-secure|--port/);
    // A critical line's advice too (Burn Keys by the editor's name).
    const own = explainBootLog('I (0) flash_encrypt: Generating new flash encryption key...', BOOT_LOG_HINTS);
    assert.match(own.summary, /burn your keys first with "Pycom: Burn Keys"\.$/);
    assert.match(explainBootLog('I (0) flash_encrypt: Generating new flash encryption key...').summary, /burn your keys first with `pycom-secure efuse burn-keys`\.$/);
  });
});

describe('editor: the Serial Monitor says it is read-only and explains in the editor\'s words', () => {
  it('a capture ending at the REPL\'s >>> prompt: a line says the monitor cannot type there and where to instead', () => {
    const text = 'Pycom MicroPython 1.20.2.r6 [v1.11-c5a0a97] on 2021-10-28; GPy with ESP32\r\nType "help()" for more information.\r\n>>> ';
    const lines = monitorLines('socket://127.0.0.1:4000', text);
    assert.equal(lines[lines.length - 1], 'This monitor is read-only: it cannot type at the REPL\'s >>> prompt. For the REPL, open socket://127.0.0.1:4000 at 115200 baud in a serial terminal; the monitor has already released the port.');
    assert.ok(lines.some((l) => /The board booted/.test(l)));
    // No prompt, no such line.
    assert.ok(!monitorLines('socket://127.0.0.1:4000', CUT_APP).some((l) => /read-only/.test(l)));
    assert.ok(monitorLines('socket://127.0.0.1:4000', CUT_APP).some((l) => /run "Pycom: Flash Secure Firmware" again/.test(l)));
  });

  it('Open Serial Monitor on a blank in-window virtual board: the header says read-only, the advice names the editor\'s command', async () => {
    for (const k of Object.keys(settings)) delete settings[k];
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'monitor-words' });
    const url = 'virtual://monitor-words';
    const ctx = {
      log: fakeLog(), state: Object.assign(new UiState(), {}), panel: { show: () => undefined },
      virtuals: { find: (p: string) => (p === url ? { dev } : undefined), list: () => [] }, refreshAll: () => undefined, runBuildTask: async () => 0,
    } as never as FlowContext;
    ctx.state.update({ port: { path: url, virtual: true, board: 'GPy' } });
    user.shown.length = 0;
    const channel = (outputChannels['Pycom Serial Monitor'] ??= []);
    channel.length = 0;
    await serialMonitor(ctx);
    assert.match(channel[0]!, /^--- virtual:\/\/monitor-words at 115200 baud, .*: read-only, 5 s of what the board prints after a reset; nothing is sent to it ---$/);
    const text = channel.join('\n');
    assert.match(text, /flash read err, 1000/);
    assert.match(text, /"Pycom: Check Board's Flash \(Predict Boot\)" tells which/);
    assert.doesNotMatch(text, /pycom-secure/);
    assert.equal(user.shown.length, 0);
  });
});

describe('key file paths in the flash log resolve (keyFileLabel)', () => {
  it('relative to the base when inside it (the workspace, the CLI\'s folder), else absolute; never "../"', () => {
    assert.equal(keyFileLabel('/home/u/ws/secure/flash_encryption_key.bin', '/home/u/ws'), path.join('secure', 'flash_encryption_key.bin'));
    assert.equal(keyFileLabel('/home/u/ws/secure/flash_encryption_key.bin', '/opt/vscode'), '/home/u/ws/secure/flash_encryption_key.bin');
    assert.equal(keyFileLabel('/home/u/ws/secure/flash_encryption_key.bin', '/home/u/other'), '/home/u/ws/secure/flash_encryption_key.bin');
  });
});
