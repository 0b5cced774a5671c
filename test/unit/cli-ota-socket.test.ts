import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { makeBootInfo } from '../../src/core/ota/ota-slot';
import { encryptFlashData } from '../../src/core/crypto/flash-encryption';
import { fixtureStore, secureBuild, tmpDir, KEYS } from './flash-harness';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, { out: (l) => (out += l + '\n'), err: (l) => (err += l + '\n') });
  return { code, out, err };
}

/**
 * Issue 17: `ota-image --port` rehearsed end to end on a served virtual GPy, as the README shows
 * it: the board is asked (its firmware started from download mode, its MicroPython raw REPL
 * answering pycom.ota_slot() from its own encrypted partition table and otadata), and the image
 * is encrypted for the slot it named. Before that, a board with nothing to ask says why and to
 * pass --slot, and writes no file.
 */
describe('CLI: ota-image --port asks a served virtual GPy for its OTA slot', () => {
  let server: SimServer;
  let dev: VirtualEsp32;
  let port: string;
  const store = fixtureStore();
  const dir = secureBuild('GPY');
  const work = tmpDir('ota-socket-');

  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'cli-ota-socket', bootPredictor: bootPredictorForVirtual });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    port = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
  });

  const ota = (out: string): Promise<{ code: number; out: string; err: string }> => cli(['ota-image', '--board', 'GPY', '--build', dir, '--port', port, '--output', out, '--key-store', store.dir]);

  it('a factory-fresh board (empty flash, no keys): says there is no firmware to ask and to pass --slot; no file, nothing burned', async () => {
    const efuse = JSON.stringify(dev.efuse.rawWords());
    const out = path.join(work, 'fresh.bin');
    const r = await ota(out);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /No OTA slot could be read: the board is in download mode and its flash holds no bootloader at 0x1000, so there is no firmware to answer pycom\.ota_slot\(\); flash the firmware first \(pycom-secure flash\), or pass --slot ADDR\./);
    assert.ok(!fs.existsSync(out));
    assert.equal(JSON.stringify(dev.efuse.rawWords()), efuse);
  });

  it('keys burned, nothing flashed: the board is started, its boot failure is quoted, and --slot is named', async () => {
    const summary = JSON.parse((await cli(['efuse', 'summary', '--json', '--port', port])).out) as Record<string, { value: unknown }>;
    const mac = String(summary['MAC']!.value).split(' ')[0]!;
    const burn = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir]);
    assert.equal(burn.code, 0, burn.err);
    const out = path.join(work, 'unflashed.bin');
    const r = await ota(out);
    assert.notEqual(r.code, 0);
    assert.match(r.err, /No OTA slot could be read: told to run its firmware, the board printed "flash read err, 1000" \([^)]*\) and never reached MicroPython; flash a firmware that boots \(pycom-secure flash\), or pass --slot ADDR\./);
    assert.ok(!fs.existsSync(out));
  });

  it('after flashing the build: the board answers 0x210000 and the image is the one --slot 0x210000 makes', async () => {
    const f = await cli(['flash', '--port', port, '--build', dir, '--key-store', store.dir, '--boot-log-ms', '300']);
    assert.equal(f.code, 0, f.out + f.err);
    const out = path.join(work, 'ota.bin');
    const r = await ota(out);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.err, /The board is in download mode; starting its firmware to ask it for its OTA slot\./);
    assert.match(r.err, /The board says its next OTA slot is 0x210000\./);
    assert.match(r.out, /Wrote .*ota\.bin: \d+ bytes for slot 0x210000/);
    const byHand = path.join(work, 'by-hand.bin');
    const h = await cli(['ota-image', '--board', 'GPY', '--build', dir, '--slot', '0x210000', '--output', byHand, '--key-store', store.dir]);
    assert.equal(h.code, 0, h.err);
    assert.ok(fs.readFileSync(out).equals(fs.readFileSync(byHand)));
    const keyHex = Buffer.from(KEYS.flashKey).toString('hex');
    assert.ok(!r.out.includes(keyHex) && !r.err.includes(keyHex));
  });

  it('with ota_0 running (otadata, encrypted as the firmware writes it): the board answers 0x10000', async () => {
    // What Pycom's updater_write_boot_info leaves after an OTA to ota_0 that booted: encrypted for 0x1FF000.
    const record = Buffer.concat([makeBootInfo(1, 1), Buffer.alloc(24, 0xff)]);
    dev.flash.eraseRange(0x1ff000, 0x1000);
    dev.flash.program(0x1ff000, encryptFlashData(record, { key: KEYS.flashKey, address: 0x1ff000, flashCryptConf: 0xf }));
    const out = path.join(work, 'ota-factory.bin');
    const r = await ota(out);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.err, /The board says its next OTA slot is 0x10000\./);
    assert.match(r.out, /for slot 0x10000/);
  });
});
