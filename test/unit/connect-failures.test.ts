import { strict as assert } from 'node:assert';
import type { ModemSignals, Transport, TransportCapabilities, Unsubscribe } from '../../src/core/transport/transport';
import { Listeners } from '../../src/core/transport/listeners';
import { connect } from '../../src/core/connect/connect';
import { classifyPicAnswer, picEnterDownload, picExitDownload } from '../../src/core/connect/pic';
import { enterDownloadMode } from '../../src/core/connect/download-mode';
import { analyzeBootLog } from '../../src/core/boot/boot-log';
import { mapSerialError, SerialTransport } from '../../src/core/transport/serial';
import { instantSleepClock } from '../../src/core/loader/clock';
import { isUserError } from '../../src/core/errors';
import { MESSAGES } from '../../src/core/connect/messages';
import { findUsbBoard } from '../../src/core/boards/usb-ids';

type Event = { write: number[] } | { bits: number } | { signals: ModemSignals } | { baud: number };

/** Records everything the host does; `respond` scripts what the "board" sends back. */
class RecordingTransport implements Transport {
  readonly url = '/dev/ttyFAKE0';
  readonly capabilities: TransportCapabilities = { modemLines: true, dataBits: true, baud: true };
  readonly events: Event[] = [];
  isOpen = true;
  baud = 115200;
  dataBits = 8;
  private readonly data = new Listeners<[Buffer]>();
  private readonly closed = new Listeners<[Error | undefined]>();
  constructor(private readonly respond: (bytes: Buffer, t: RecordingTransport) => Buffer | undefined = () => undefined) {}
  async open(): Promise<void> {}
  async close(): Promise<void> {}
  async write(d: Uint8Array): Promise<void> {
    this.events.push({ write: [...d] });
    const reply = this.respond(Buffer.from(d), this);
    if (reply) setImmediate(() => this.data.emit(reply));
  }
  emit(b: Buffer): void {
    this.data.emit(b);
  }
  onData(fn: (c: Buffer) => void): Unsubscribe {
    return this.data.add(fn);
  }
  onClose(fn: (e?: Error) => void): Unsubscribe {
    return this.closed.add(fn);
  }
  async flushInput(): Promise<void> {}
  async setBaud(b: number): Promise<void> {
    this.baud = b;
    this.events.push({ baud: b });
  }
  async setSignals(s: ModemSignals): Promise<void> {
    this.events.push({ signals: s });
  }
  async setDataBits(bits: 5 | 6 | 7 | 8): Promise<void> {
    this.dataBits = bits;
    this.events.push({ bits });
  }
  writes(): string[] {
    return this.events.flatMap((e) => ('write' in e ? [Buffer.from(e.write).toString('hex')] : []));
  }
}

/** A PIC that answers FW_VER (0x11) with `version` while the port runs at 5 data bits. */
function pic(version: number | undefined) {
  return (b: Buffer, t: RecordingTransport): Buffer | undefined => (t.dataBits === 5 && b.length === 1 && b[0] === 0x11 && version !== undefined ? Buffer.from([version & 0xff, version >> 8]) : undefined);
}

const fastPic = { clock: instantSleepClock, replyTimeoutMs: 200 };

describe('Pycom PIC protocol (the sequences of pypic.py in pycom-micropython-sigfox, byte for byte)', () => {
  it('enter: version check at 5 data bits, then the v0.9.3 sequence, then back to 8 bits', async () => {
    const t = new RecordingTransport(pic(12));
    assert.equal(await picEnterDownload(t, fastPic), 12);
    assert.deepEqual(t.writes(), ['11', '028c00df0000', '020c00df0000', '028e00fe0000', '020e00fe0000', '028e00df0000', '020e00df0000', '020e00ff2000', '028e00ff2000']);
    const bits = t.events.flatMap((e) => ('bits' in e ? [e.bits] : []));
    assert.deepEqual(bits, [5, 8]);
    const firstWrite = t.events.findIndex((e) => 'write' in e);
    assert.ok(t.events.findIndex((e) => 'bits' in e && e.bits === 5) < firstWrite, '5 data bits before the first byte');
  });

  it('exit: RA5 high, RC0 back to input, reset pulse', async () => {
    const t = new RecordingTransport(pic(6));
    await picExitDownload(t, fastPic);
    assert.deepEqual(t.writes(), ['11', '028c00df0000', '020c00ff2000', '028e00ff0100', '028e00df0000', '020e00df0000', '020e00ff2000', '028e00ff2000']);
  });

  it('PIC firmware below 6: says the board firmware must be updated, sends nothing else', async () => {
    const t = new RecordingTransport(pic(5));
    await assert.rejects(picEnterDownload(t, fastPic), (e: unknown) => isUserError(e) && e.code === 'E_PIC_FIRMWARE_OLD' && /update the expansion board firmware/.test(e.message));
    assert.deepEqual(t.writes(), ['11']);
    assert.equal(t.dataBits, 8, 'port back at 8 data bits');
  });

  it('no PIC answer: specific error', async () => {
    const t = new RecordingTransport(pic(undefined));
    await assert.rejects(picEnterDownload(t, fastPic), (e: unknown) => isUserError(e) && e.code === 'E_PIC_NO_ANSWER');
  });
});

/** A port without a PIC where MicroPython's REPL answers whatever arrives (issue #12 E). */
function repl(reply: Buffer) {
  return (): Buffer => reply;
}

describe('a PIC is reported only when it answered like one (issue #12 E)', () => {
  const REPL_REPLIES: [string, Buffer][] = [
    ['two backspaces (read as "PIC firmware 2056" before)', Buffer.from([0x08, 0x08])],
    ['a backspace and a space', Buffer.from([0x08, 0x20])],
    ['the REPL prompt', Buffer.from('\r\n>>> ')],
    ['the raw REPL banner', Buffer.from('raw REPL; CTRL-B to exit\r\n>')],
    ['the MicroPython banner', Buffer.from('Pycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32\r\n>>> ')],
  ];
  for (const [what, bytes] of REPL_REPLIES) {
    it(`${what}: says a MicroPython REPL answered, switches nothing, port back at 8 bits`, async () => {
      const t = new RecordingTransport(repl(bytes));
      await assert.rejects(picEnterDownload(t, fastPic), (e: unknown) => {
        assert.ok(isUserError(e), String(e));
        assert.equal(e.code, 'E_PIC_REPL_ANSWERED');
        assert.match(e.message, /^A MicroPython REPL answered on \/dev\/ttyFAKE0 .*not the expansion board's PIC, so the module was not switched to download mode: .*--reset none\.$/);
        assert.doesNotMatch(e.message, /PIC firmware \d/);
        return true;
      });
      assert.deepEqual(t.writes(), ['11'], 'nothing but the version request was sent');
      assert.equal(t.dataBits, 8);
    });
  }

  it('enter-download through a REPL: no "PIC firmware 2056", no "download mode" claim', async () => {
    const t = new RecordingTransport(repl(Buffer.from([0x08, 0x08])));
    await assert.rejects(enterDownloadMode(t, 'pic', undefined, instantSleepClock), (e: unknown) => isUserError(e) && e.code === 'E_PIC_REPL_ANSWERED' && !/2056/.test(e.message));
    assert.deepEqual(t.writes(), ['11']);
  });

  it('connect --reset pic through a REPL fails with what answered instead of logging a PIC version', async () => {
    const t = new RecordingTransport(repl(Buffer.from([0x08, 0x08])));
    const logged: string[] = [];
    await assert.rejects(connect(t, { reset: 'pic', clock: instantSleepClock, syncTimeoutMs: 20, attempts: 1, log: (l: string) => logged.push(l) }), (e: unknown) => isUserError(e) && e.code === 'E_PIC_REPL_ANSWERED');
    assert.deepEqual(logged.filter((l) => /PIC firmware/.test(l)), []);
  });

  it('other bytes, or a third byte after a 2-byte answer, are not a PIC either', async () => {
    for (const bytes of [Buffer.from([0x0c, 0x00, 0x0c]), Buffer.from([0x0c, 0x01]), Buffer.from([0x00, 0x00]), Buffer.from([0x55])]) {
      const t = new RecordingTransport(repl(bytes));
      await assert.rejects(picEnterDownload(t, fastPic), (e: unknown) => isUserError(e) && e.code === 'E_PIC_NOT_A_PIC' && e.message.includes(bytes.toString('hex').slice(0, 2)), bytes.toString('hex'));
      assert.deepEqual(t.writes(), ['11']);
    }
  });

  it('the classifier: exactly two bytes, high byte zero, non-zero version', () => {
    assert.deepEqual(classifyPicAnswer(Buffer.from([12, 0])), { kind: 'pic', version: 12 });
    assert.deepEqual(classifyPicAnswer(Buffer.alloc(0)), { kind: 'none' });
    assert.equal(classifyPicAnswer(Buffer.from([8, 8])).kind, 'repl');
    assert.equal(classifyPicAnswer(Buffer.from([12, 0, 0])).kind, 'other');
  });
});

function connectFails(t: Transport, reset: 'none' | 'classic', code: string, re?: RegExp): Promise<void> {
  return assert.rejects(connect(t, { reset, clock: instantSleepClock, syncTimeoutMs: 20, attempts: 2 }), (e: unknown) => {
    assert.ok(isUserError(e), String(e));
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  });
}

describe('download-mode entry failures name their cause', () => {
  it('silence: not in download mode, with the way in', async () => {
    await connectFails(new RecordingTransport(), 'none', 'E_NO_DATA', /P2 \(GPIO0\) to GND/);
  });

  it('5000 bytes of 0xC0 once, then silence: the device answered, but not as a ROM loader (not "sent nothing back"; third new-user trial)', async () => {
    let sent = false;
    const t = new RecordingTransport(() => (sent ? undefined : ((sent = true), Buffer.alloc(5000, 0xc0))));
    await connectFails(t, 'none', 'E_NOISE', /^The device on \/dev\/ttyFAKE0 answered, but not with ROM-loader replies \(only 0xC0 frame delimiters: c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 c0 … \(5000 bytes\)\): it is the wrong port, or the board is running its firmware instead of being in download mode \(or the baud rate or cable is wrong\); check the port with `pycom-secure device list`, connect P2 \(GPIO0\) to GND/);
  });

  it('boot log with boot:0x13 (SPI_FAST_FLASH_BOOT): wrong boot mode', async () => {
    const log = Buffer.from('ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n');
    let sent = false;
    const t = new RecordingTransport(() => (sent ? undefined : ((sent = true), log)));
    await connectFails(t, 'classic', 'E_WRONG_BOOT_MODE', /0x13/);
  });

  it('boot log says waiting for download but no sync reply: TX path down', async () => {
    const log = Buffer.from('rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n');
    let sent = false;
    const t = new RecordingTransport(() => (sent ? undefined : ((sent = true), log)));
    await connectFails(t, 'classic', 'E_TX_DOWN');
  });

  it('MicroPython REPL answering: running firmware', async () => {
    const t = new RecordingTransport(() => Buffer.from('\r\nPycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32\r\n>>> '));
    await connectFails(t, 'none', 'E_RUNNING_FIRMWARE', /MicroPython/);
  });

  it('port busy / permission denied / missing port map to their own messages', () => {
    const busy = mapSerialError(new Error('Error: Resource temporarily unavailable Cannot lock port'), '/dev/ttyACM0', 'open');
    assert.equal(busy.code, 'E_PORT_BUSY');
    assert.match(busy.message, /another program/);
    const perm = mapSerialError(Object.assign(new Error('Error: Permission denied, cannot open /dev/ttyACM0'), { code: 'EACCES' }), '/dev/ttyACM0', 'open');
    assert.equal(perm.code, 'E_PORT_PERMISSION');
    if (process.platform === 'linux') assert.match(perm.message, /dialout/);
    assert.equal(mapSerialError(new Error('Error: No such file or directory, cannot open /dev/ttyUSB9'), '/dev/ttyUSB9', 'open').code, 'E_PORT_NOT_FOUND');
  });

  it('a folder, a file or /dev/null given as the port is named as not a serial port, saying what it is (a real open, not "unplug and replug")', async () => {
    for (const [port, kind] of [['/dev/null', 'a device that is not a serial port'], [__filename, 'a regular file'], [__dirname, 'a folder']] as const) {
      const t = new SerialTransport(port);
      await assert.rejects(t.open(), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_NOT_A_PORT', e.message);
        assert.equal(e.message, `${port} is not a serial port (it is ${kind}): give the board's serial port (e.g. /dev/ttyACM0, /dev/ttyUSB0 or COM3); \`pycom-secure device list\` shows the ones that exist.`);
        return true;
      });
      assert.equal(t.isOpen, false);
    }
  });

  it('classic on a link without modem lines is refused with advice', async () => {
    const t = new RecordingTransport();
    (t as { capabilities: TransportCapabilities }).capabilities = { modemLines: false, dataBits: false, baud: false };
    await connectFails(t, 'classic', 'E_NO_MODEM_LINES', /--reset none/);
  });

  it('every message names a next step (one sentence with a colon or semicolon)', () => {
    for (const [code, tmpl] of Object.entries(MESSAGES)) {
      const text = tmpl({ port: 'P', howToEnter: 'do X' });
      assert.match(text, /[:;]/, code);
      assert.ok(text.endsWith('.'), code);
    }
  });
});

describe('boot log and USB ids', () => {
  it('parses the last boot line', () => {
    assert.deepEqual(analyzeBootLog('boot:0x3 (DOWNLOAD)\nwaiting for download\n...boot:0x13 (SPI_FAST_FLASH_BOOT)\n'), { kind: 'wrong-boot-mode', mode: 0x13 });
    assert.deepEqual(analyzeBootLog('rst:0x10 boot:0x13 (SPI_FAST_FLASH_BOOT)\nflash read err, 1000\nets_main.c 371'), { kind: 'flash-read-error', text: 'flash read err, 1000' });
    assert.equal(analyzeBootLog('random text'), undefined);
  });

  it('recognises Pycom boards and their download-mode strategy', () => {
    assert.equal(findUsbBoard(0x04d8, 0xf013)?.name, 'Pytrack');
    assert.equal(findUsbBoard(0x04d8, 0xef98)?.entry, 'pic');
    assert.equal(findUsbBoard(0x04d8, 0xed14)?.name, 'Pygate');
    assert.equal(findUsbBoard(0x0403, 0x6015)?.entry, 'none');
  });
});
