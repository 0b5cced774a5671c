import { strict as assert } from 'node:assert';
import { crc32Le } from '../../src/core/util/crc32';
import { makeBootInfo, parseBootInfo, pycomOtaSlot, IMG_ACT_FACTORY, IMG_STATUS_CHECK, IMG_STATUS_READY } from '../../src/core/ota/ota-slot';
import { writePartitionTable } from '../../src/core/partition/table';
import { layout } from '../../src/core/boards/catalog';
import { VirtualMicroPython } from '../../src/core/virtual/raw-repl';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { createMemoryPair } from '../../src/core/transport/memory';
import type { ModemSignals, Transport } from '../../src/core/transport/transport';
import { queryOtaSlot } from '../../src/core/ota/raw-repl';
import { askOtaSlot } from '../../src/core/ota/ask-slot';
import { classifyPicAnswer } from '../../src/core/connect/pic';
import { connect } from '../../src/core/connect/connect';
import { instantSleepClock } from '../../src/core/loader/clock';
import { fixtureApp, fixtureBootloader } from '../../scripts/make-fixture-firmware';
import { burnKeys } from './flash-harness';

const IMG_ACT_UPDATE1 = 1;
const TABLE_8MB = writePartitionTable(layout('8MB').entries, { md5: true });

/** A plaintext flash view holding Pycom's 1.20 8 MB table and `otadata` at 0x1FF000. */
function flashWith(otadata?: Uint8Array): (o: number, n: number) => Uint8Array {
  const mem = Buffer.alloc(0x200000 + 0x1000, 0xff);
  TABLE_8MB.copy(mem, 0x8000);
  if (otadata) Buffer.from(otadata).copy(mem, 0x1ff000);
  return (o, n) => mem.subarray(o, o + n);
}

describe('pycom.ota_slot(): Pycom 1.20 rule (updater.c updater_ota_next_slot_address)', () => {
  it('crc32_le(UINT32_MAX, ...) is zlib-style CRC-32 seeded with 0xFFFFFFFF', () => {
    assert.equal(crc32Le(0, Buffer.from('123456789')), 0xcbf43926);
    const info = makeBootInfo(IMG_ACT_UPDATE1, IMG_STATUS_READY);
    assert.equal(parseBootInfo(info).valid, true);
    const bad = Buffer.from(info);
    bad[12] ^= 1;
    assert.equal(parseBootInfo(bad).valid, false);
  });

  const cases: Array<[string, Uint8Array | undefined, number]> = [
    ['erased otadata (the bootloader makes it factory/ready): ota_0', undefined, 0x210000],
    ['factory running, ready: ota_0', makeBootInfo(IMG_ACT_FACTORY, IMG_STATUS_READY), 0x210000],
    ['ota_0 running, ready: factory', makeBootInfo(IMG_ACT_UPDATE1, IMG_STATUS_READY), 0x10000],
    ['ota_0 pending check: ota_0 again', makeBootInfo(IMG_ACT_UPDATE1, IMG_STATUS_CHECK), 0x210000],
    ['factory pending check: factory again', makeBootInfo(IMG_ACT_FACTORY, IMG_STATUS_CHECK), 0x10000],
    ['a record with a wrong CRC counts as factory/ready', Buffer.concat([makeBootInfo(IMG_ACT_UPDATE1, IMG_STATUS_READY).subarray(0, 36), Buffer.alloc(4)]), 0x210000],
  ];
  for (const [what, otadata, want] of cases) {
    it(what, () => {
      const r = pycomOtaSlot({ read: flashWith(otadata), chipRevision: 1 });
      assert.ok('slot' in r);
      assert.equal(r.slot, want);
    });
  }

  it('no table at 0x8000 is reported, not guessed', () => {
    const blank = Buffer.alloc(0x10000, 0xff);
    assert.deepEqual(pycomOtaSlot({ read: (o, n) => blank.subarray(o, o + n), chipRevision: 1 }), { error: 'no-table' });
  });
});

describe('virtual MicroPython console (raw REPL as pyexec.c has it)', () => {
  const repl = (): VirtualMicroPython => new VirtualMicroPython({ boardName: 'GPy', otaSlot: () => 0x210000 });
  const text = (s: string): Buffer => Buffer.from(s, 'latin1');

  it('Ctrl-A enters raw mode, Ctrl-D runs the code: OK, output, 0x04, errors, 0x04, prompt', () => {
    const r = repl();
    assert.equal(r.input(text('\x01')), '\r\nraw REPL; CTRL-B to exit\r\n>');
    assert.equal(r.input(text('import pycom; print(pycom.ota_slot())')), '', 'raw mode does not echo');
    assert.equal(r.input(text('\x04')), 'OK2162688\r\n\x04\x04>');
    assert.equal(r.input(text('print(hex(pycom.ota_slot()))\x04')), 'OK0x210000\r\n\x04\x04>');
    assert.match(r.input(text('\x02')), /^\r\nPycom MicroPython [^\r]*; GPy with ESP32\r\nType "help\(\)" for more information\.\r\n>>> $/);
  });

  it('anything else gets a MicroPython error line on the error channel', () => {
    const r = repl();
    r.input(text('\x01'));
    const run = (code: string): string => r.input(text(`${code}\x04`));
    assert.equal(run('print(pycom.ota_slot())'), 'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\nNameError: name \'pycom\' isn\'t defined\r\n\x04>');
    assert.equal(run('x = 1'), 'OK\x04Traceback (most recent call last):\r\n  File "<stdin>", line 1\r\nSyntaxError: invalid syntax\r\n\x04>');
    assert.match(run('import machine'), /ImportError: no module named 'machine'/);
    assert.match(run('import pycom\npycom.heartbeat(False)'), /line 2, in <module>\r\nAttributeError: 'module' object has no attribute 'heartbeat'/);
    // Ctrl-C drops what was typed; an empty Ctrl-D is a soft reboot that forgets imports.
    r.input(text('print(1)\x03'));
    assert.equal(run(''), '\r\nPYB: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>');
    assert.match(run('print(pycom.ota_slot())'), /NameError/);
  });

  it('the friendly REPL echoes, runs a line on Enter and never answers a PIC FW_VER byte like a PIC', () => {
    const r = repl();
    assert.equal(r.input(Uint8Array.of(0x11)), '');
    assert.equal(classifyPicAnswer(Buffer.from(r.input(Uint8Array.of(0x03)), 'latin1')).kind, 'repl');
    assert.equal(r.input(text('import pycom\r')), 'import pycom\r\n>>> ');
    assert.equal(r.input(text('pycom.ota_slot()\r')), 'pycom.ota_slot()\r\n2162688\r\n>>> ');
  });
});

/** A GPy whose flash holds the fixture bootloader, Pycom's 8 MB table and app (plaintext), keys burned so no first-boot provisioning. */
async function plainBoard(otadata?: Uint8Array): Promise<{ dev: VirtualEsp32; host: Transport }> {
  const dev = new VirtualEsp32({ profile: 'GPY', seed: 'ota-repl', bootPredictor: bootPredictorForVirtual });
  dev.flash.program(0x1000, fixtureBootloader());
  dev.flash.program(0x8000, TABLE_8MB);
  dev.flash.program(0x10000, fixtureApp(8 * 1024));
  if (otadata) dev.flash.program(0x1ff000, otadata);
  const { host, device } = createMemoryPair();
  dev.attach(device);
  await host.open();
  return { dev, host };
}

describe('virtual ESP32: the console answers only while its firmware runs', () => {
  it('in download mode nothing answers the raw REPL, and SLIP reaches the loader; after a normal boot pycom.ota_slot() is read from the flash', async () => {
    const { dev, host } = await plainBoard(makeBootInfo(IMG_ACT_UPDATE1, IMG_STATUS_READY));
    dev.reset('download');
    assert.equal(dev.firmwareRunning, false);
    await assert.rejects(queryOtaSlot(host, { timeoutMs: 300 }), /did not answer in time while entering the raw REPL/);
    const conn = await connect(host, { reset: 'none', baud: 115200, attempts: 1, clock: instantSleepClock, syncTimeoutMs: 2000 });
    conn.loader.dispose();
    dev.reset('normal');
    assert.equal(dev.firmwareRunning, true);
    assert.equal(await queryOtaSlot(host, { timeoutMs: 2000 }), 0x10000);
    // The firmware reads otadata as it is when asked.
    dev.flash.eraseRange(0x1ff000, 0x1000);
    assert.equal(await queryOtaSlot(host, { timeoutMs: 2000 }), 0x210000);
    await host.close();
  });

  it('askOtaSlot on a running firmware also returns the banner it prints on leaving the raw REPL (its module: workflows/module-evidence.ts)', async () => {
    const { dev, host } = await plainBoard();
    dev.reset('normal');
    const asked = await askOtaSlot(host, { timeoutMs: 2000 });
    assert.equal(asked.started, false);
    assert.equal(asked.slot, 0x210000);
    assert.match(asked.banner ?? '', /^\r\nPycom MicroPython [^\r]*; GPy with ESP32\r\nType "help\(\)" for more information\.\r\n>>> $/);
    await host.close();
  });

  it('a boot that stops (no app) leaves no console', async () => {
    const { dev, host } = await plainBoard();
    dev.flash.eraseRange(0x10000, 0x1000);
    dev.reset('normal');
    assert.equal(dev.firmwareRunning, false);
    await assert.rejects(queryOtaSlot(host, { timeoutMs: 300 }), /did not answer in time/);
    await host.close();
  });
});

describe('askOtaSlot: a board in download mode', () => {
  it('with keys burned and an erased flash: started (FLASH_END on a port without reset lines), and the boot failure is quoted', async () => {
    const { dev, host } = await plainBoard();
    await burnKeys(dev);
    dev.flash.eraseRange(0, 0x400000);
    const noLines = new Proxy(host, {
      get(t, p) {
        if (p === 'capabilities') return { ...t.capabilities, modemLines: false };
        const v: unknown = Reflect.get(t, p, t);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    dev.reset('download');
    const notes: string[] = [];
    await assert.rejects(askOtaSlot(noLines, { timeoutMs: 300, bootMs: 300, note: (l) => notes.push(l) }), (e: Error) => {
      assert.match(e.message, /^No OTA slot could be read: told to run its firmware, the board printed "(flash read err, 1000|invalid header[^"]*)" \([^)]*\) and never reached MicroPython; flash a firmware that boots \(pycom-secure flash\), or pass --slot ADDR\.$/);
      return true;
    });
    assert.ok(notes.some((n) => /download mode; starting its firmware/.test(n)), notes.join('\n'));
    await host.close();
  });

  it('with an empty flash: says there is no firmware to ask, and changes nothing', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'ota-empty', bootPredictor: bootPredictorForVirtual });
    const { host, device } = createMemoryPair();
    dev.attach(device);
    await host.open();
    dev.reset('download');
    const efuse = JSON.stringify(dev.efuse.rawWords());
    await assert.rejects(askOtaSlot(host, { timeoutMs: 300, mode: 'none' }), (e: Error) => {
      assert.equal(e.message, 'No OTA slot could be read: the board is in download mode and its flash holds no bootloader at 0x1000, so there is no firmware to answer pycom.ota_slot(); flash the firmware first (pycom-secure flash), or pass --slot ADDR.');
      return true;
    });
    assert.equal(dev.state, 'download', 'not started');
    assert.equal(JSON.stringify(dev.efuse.rawWords()), efuse);
    await host.close();
  });

  it('with blank key blocks and a bootloader: refuses to start it (a secure bootloader would burn keys of its own), nothing burned', async () => {
    const { dev, host } = await plainBoard();
    dev.reset('download');
    const efuse = JSON.stringify(dev.efuse.rawWords());
    await assert.rejects(askOtaSlot(host, { timeoutMs: 300, mode: 'none' }), (e: Error) => {
      assert.match(e.message, /^No OTA slot could be read: the board is in download mode with no flash-encryption key \(BLOCK1\) and secure boot key \(BLOCK2\) burned, and starting its firmware could let a secure bootloader burn a key nobody knows, so it was not started; burn your keys first \(pycom-secure efuse burn-keys\), start the firmware yourself if it is not secure, or pass --slot ADDR\.$/);
      return true;
    });
    assert.equal(dev.state, 'download');
    assert.equal(JSON.stringify(dev.efuse.rawWords()), efuse);
    await host.close();
  });

  it('that comes back in download mode when started (P2 held low) says so', async () => {
    const { dev, host } = await plainBoard();
    await burnKeys(dev);
    dev.reset('download');
    // A P2-GND jumper: whatever the host does with DTR, GPIO0 is low whenever EN is released.
    const jumpered = new Proxy(host, {
      get(t, p) {
        if (p === 'setSignals') return (s: ModemSignals) => t.setSignals({ ...s, dtr: Boolean(s.dtr) || !s.rts });
        const v: unknown = Reflect.get(t, p, t);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(t) : v;
      },
    });
    await assert.rejects(askOtaSlot(jumpered, { timeoutMs: 300, bootMs: 500, mode: 'classic' }), (e: Error) => {
      assert.match(e.message, /^No OTA slot could be read: told to run its firmware, the board came back in download mode \("waiting for download": GPIO0\/P2 is held low\); remove the P2-GND wire and reset the board, or pass --slot ADDR\.$/);
      return true;
    });
    await host.close();
  });
});
