import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { createMemoryPair } from '../../src/core/transport/memory';
import type { Transport } from '../../src/core/transport/transport';
import { connect, checkLoaderBaud, LOADER_BAUD_RATES } from '../../src/core/connect/connect';
import { withBoard } from '../../src/core/workflows/board';
import { realClock, type Clock } from '../../src/core/loader/clock';
import { writeFlash, worthCompressing, type RomFlashCommands } from '../../src/core/loader/flash';
import { captureOutput } from '../../src/core/transport/capture';
import { bootLogSettled } from '../../src/core/boot/boot-log';
import { writePlan, type FlashIo, type FlashProgressEvent } from '../../src/core/flash/writer';
import type { FlashPlan } from '../../src/core/flash/plan';
import { eraseMs, romWriteEstimate, TIMING_PROFILES } from '../../src/core/chip/flash-timing';
import { progressLine } from '../../src/cli/commands/firmware';
import { isUserError } from '../../src/core/errors';
import { cli } from './helpers/cli';

/** Issue 15: the baud users ask for, no work that cannot pay, an outcome-ended boot log, live progress. */
describe('speed: baud over socket://', () => {
  let server: SimServer;
  let dev: VirtualEsp32;
  let port: string;
  before(async () => {
    dev = new VirtualEsp32({ profile: 'GPY', seed: 'speed-baud' });
    server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    port = `socket://127.0.0.1:${server.port}`;
  });
  after(async () => {
    await server.close();
  });

  it('sends CHANGE_BAUDRATE over TCP: the virtual board reports the new rate and the link is verified at it', async () => {
    const reported: number[] = [];
    const off = dev.onUartBaud((b) => reported.push(b));
    try {
      const baud = await withBoard({ port, reset: 'none', baud: 921600 }, { info: () => undefined, warn: () => undefined }, async (s) => {
        assert.equal(dev.uartBaud, 921600);
        return s.conn.baud;
      });
      assert.equal(baud, 921600);
      assert.deepEqual(reported, [921600]);
    } finally {
      off();
    }
  });

  it('accepts rates above 921600 when asked (3000000), verified after the switch', async () => {
    const baud = await withBoard({ port, reset: 'none', baud: 3000000 }, { info: () => undefined, warn: () => undefined }, async (s) => {
      assert.equal(dev.uartBaud, 3000000);
      return s.conn.baud;
    });
    assert.equal(baud, 3000000);
  });

  it('device info --baud 921600 over socket:// says 921600', async () => {
    const r = await cli(['device', 'info', '--port', port, '--baud', '921600']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\(921600 baud\)/);
  });

  for (const bad of ['0', '99999999', 'fast', '9600.5']) {
    it(`--baud ${bad} is refused in one sentence naming the accepted rates, before the port is opened`, async () => {
      const before = dev.uartBaud;
      let connected = false;
      const off = dev.onText(() => {
        connected = true;
      });
      const r = await cli(['device', 'info', '--port', port, '--baud', bad]);
      off();
      assert.notEqual(r.code, 0);
      assert.match(r.err, new RegExp(`The baud rate "${bad.replace('.', '\\.')}" is not one this tool uses; choose one of 115200, 230400, 460800, 921600, 1500000, 2000000, 3000000`));
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      // A connection resets the served board into download mode (it prints its boot log): none happened.
      assert.equal(connected, false);
      assert.equal(dev.uartBaud, before);
    });
  }

  it('checkLoaderBaud takes numbers and option text alike', () => {
    for (const b of LOADER_BAUD_RATES) assert.equal(checkLoaderBaud(String(b)), b);
    assert.throws(() => checkLoaderBaud(-115200), (e: unknown) => isUserError(e) && e.code === 'E_BAUD');
  });
});

describe('speed: a rate the link does not carry falls back to 115200', () => {
  it('the host port refusing 3000000 after the chip switched: re-enters download mode and continues at 115200 with a warning', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'speed-fallback' });
    const { host, device } = createMemoryPair();
    dev.attach(device);
    dev.reset('normal');
    const setBaud = host.setBaud.bind(host);
    (host as { setBaud: Transport['setBaud'] }).setBaud = async (b) => {
      if (b > 921600) throw new Error('the adapter does not support this rate');
      return setBaud(b);
    };
    await host.open();
    const logged: string[] = [];
    const conn = await connect(host, { reset: 'classic', baud: 3000000, clock: realClock, syncTimeoutMs: 2000, log: (l) => logged.push(l) });
    try {
      assert.equal(conn.baud, 115200);
      assert.equal(dev.uartBaud, 115200);
      assert.ok(conn.warnings.some((w) => /did not hold at 3000000 baud; continuing at 115200/.test(w)), conn.warnings.join('\n'));
      assert.ok(logged.some((l) => /did not hold at 3000000/.test(l)));
    } finally {
      conn.loader.dispose();
      await host.close();
    }
  });
});

/** A fake ROM that records which write path each region took. */
function recordingLoader(): RomFlashCommands & { begins: string[]; written: Buffer[] } {
  const begins: string[] = [];
  const written: Buffer[] = [];
  return {
    port: 'fake',
    begins,
    written,
    async flashBegin() {
      begins.push('FLASH_BEGIN');
    },
    async flashData(block) {
      written.push(Buffer.from(block));
    },
    async flashDeflBegin() {
      begins.push('FLASH_DEFL_BEGIN');
    },
    async flashDeflData(block) {
      written.push(Buffer.from(block));
    },
    async flashMd5() {
      return '';
    },
    async readFlashSlow() {
      return Buffer.alloc(0);
    },
  };
}

describe('speed: compression decided per region from the data', () => {
  const ciphertext = randomBytes(0x9000);
  const plaintext = Buffer.alloc(0x9000, 0xff);
  Buffer.from('partition table text, repeated '.repeat(40)).copy(plaintext, 0);

  it('worthCompressing: random (ciphertext-like) data no, erased/plain data yes', () => {
    assert.equal(worthCompressing(ciphertext), false);
    assert.equal(worthCompressing(plaintext), true);
    assert.equal(worthCompressing(Buffer.alloc(0)), false);
  });

  it('writeFlash sends ciphertext with FLASH_BEGIN and plaintext with FLASH_DEFL_BEGIN; --no-compress sends both plain', async () => {
    const l = recordingLoader();
    // verify off: the fake ROM keeps nothing to hash.
    await writeFlash(l, 0x10000, ciphertext, { verify: false });
    await writeFlash(l, 0x8000, plaintext, { verify: false });
    await writeFlash(l, 0x8000, plaintext, { verify: false, compress: false });
    assert.deepEqual(l.begins, ['FLASH_BEGIN', 'FLASH_DEFL_BEGIN', 'FLASH_BEGIN']);
  });
});

/** A transport that only delivers what the test pushes. */
function pushTransport(): { t: Transport; push: (s: string) => void } {
  const listeners = new Set<(c: Buffer) => void>();
  const t = {
    url: 'memory:push',
    onData(fn: (c: Buffer) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  } as unknown as Transport;
  return { t, push: (s) => listeners.forEach((fn) => fn(Buffer.from(s, 'latin1'))) };
}

/** A clock whose timers fire only when the test says so. */
function manualClock(): Clock & { fire: (ms: number) => void; armed: () => number[] } {
  const timers = new Set<{ ms: number; fn: () => void }>();
  return {
    sleep: () => Promise.resolve(),
    timer(ms, fn) {
      const t = { ms, fn };
      timers.add(t);
      return () => timers.delete(t);
    },
    fire(ms) {
      for (const t of [...timers]) if (t.ms === ms) {
        timers.delete(t);
        t.fn();
      }
    },
    armed: () => [...timers].map((t) => t.ms),
  };
}

describe('speed: boot-log capture ends on the line that settles the outcome', () => {
  const header = 'ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n';

  it('bootLogSettled: the MicroPython banner and failure lines settle it; a header, a key-generation line or a half line do not', () => {
    assert.equal(bootLogSettled(header), false);
    assert.equal(bootLogSettled(`${header}Pycom MicroPython 1.20.2.r4 [v1.11] on 2021-01-12; GPy with ESP32\n`), true);
    assert.equal(bootLogSettled(`${header}flash read err, 1000\n`), true);
    assert.equal(bootLogSettled(`${header}Generating new flash encryption key...\n`), false);
    // An earlier boot's failure does not settle the boot that followed it.
    assert.equal(bootLogSettled(`${header}flash read err, 1000\n${header}`), false);
  });

  it('stops at the banner line with the cap and silence timers still pending (no wall time involved)', async () => {
    const { t, push } = pushTransport();
    const clock = manualClock();
    const p = captureOutput(t, 5000, async () => push(header), { until: bootLogSettled, silenceMs: 1500, clock });
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(clock.armed().sort(), [1500, 5000]);
    push('Pycom MicroPython 1.20.2.r4 [v1.11] on 2021-01-12; GPy with ESP32');
    push('\r\nType "help()" for more information.\r\n');
    push('>>> late line\r\n');
    const text = await p;
    assert.match(text, /Pycom MicroPython 1\.20\.2\.r4/);
    assert.doesNotMatch(text, /late line/);
    assert.deepEqual(clock.armed(), [], 'both timers cancelled');
  });

  it('without an outcome line it ends on silence (the silence timer, not the cap)', async () => {
    const { t, push } = pushTransport();
    const clock = manualClock();
    const p = captureOutput(t, 5000, async () => push(header), { until: bootLogSettled, silenceMs: 1500, clock });
    await new Promise((r) => setImmediate(r));
    push('I (123) something unrecognised\r\n');
    clock.fire(1500);
    assert.match(await p, /something unrecognised/);
  });
});

describe('speed: progress within a region', () => {
  it('events in the middle of a region carry bytes, a rate and an ETA', async () => {
    const data = Buffer.alloc(0x40000, 0x5a);
    const plan = { regions: [{ address: 0x10000, file: 'app.bin', data, encrypted: true, role: 'app' }] } as unknown as FlashPlan;
    let t = 1000;
    const io: FlashIo = {
      async write(_address, d, o) {
        for (let done = 0x10000; done <= d.length; done += 0x10000) {
          t += 1000; // one second per 64 KiB on the fake clock
          o.onBytes?.(done);
        }
      },
      md5: async () => '',
      read: async () => new Uint8Array(0),
    };
    const events: FlashProgressEvent[] = [];
    await writePlan(plan, io, { onProgress: (e) => events.push(e), now: () => t });
    const mid = events.filter((e) => e.phase === 'write' && e.bytesDone < data.length);
    assert.ok(mid.length >= 3, JSON.stringify(events));
    // The first acknowledgement alone measures nothing (it is mostly the erase before it): no rate, no ETA.
    assert.equal(mid[0]!.throughput, 0);
    assert.equal(mid[0]!.etaSeconds, undefined);
    for (const e of mid.slice(1)) {
      assert.ok(e.bytesWritten > 0 && e.bytesWritten < data.length);
      assert.equal(e.throughput, 0x10000);
      assert.equal(e.etaSeconds, (data.length - e.bytesDone) / 0x10000);
    }
  });
});

describe('speed: rate and time left when a region waits for its erase', () => {
  it('the rate is the rate blocks are acknowledged at, and the time left counts the erase of the regions still to come', async () => {
    const a = Buffer.alloc(0x40000, 0x5a);
    const b = Buffer.alloc(0x40000, 0xa5);
    const plan = { regions: [{ address: 0x10000, file: 'a.bin', data: a, encrypted: true, role: 'app' }, { address: 0x100000, file: 'b.bin', data: b, encrypted: true, role: 'app' }] } as unknown as FlashPlan;
    let t = 0;
    const io: FlashIo = {
      async write(_address, d, o) {
        t += 8000; // the board erases the whole region before its first block: 8 s
        for (let done = 0x10000; done <= d.length; done += 0x10000) {
          t += 1000; // then one second per 64 KiB
          o.onBytes?.(done);
        }
      },
      md5: async () => '',
      read: async () => new Uint8Array(0),
    };
    const events: FlashProgressEvent[] = [];
    await writePlan(plan, io, { onProgress: (e) => events.push({ ...e, at: t } as FlashProgressEvent), now: () => t });
    // Each region says it is about to be erased before anything of it is written, with its size.
    const erases = events.filter((e) => e.phase === 'erase');
    assert.deepEqual(erases.map((e) => [e.address, e.eraseBytes, e.bytesWritten]), [[0x10000, 0x40000, 0], [0x100000, 0x40000, 0x40000]]);
    assert.ok(events.indexOf(erases[0]!) === 0, 'the first event of the run');
    const writes = events.filter((e) => e.phase === 'write');
    // From the second acknowledgement of the first region on, the rate is the link's, not diluted by the 8 s erase.
    for (const e of writes.slice(1)) assert.equal(e.throughput, 0x10000, JSON.stringify(e));
    // Everything left, as the fake board will actually take it: the rest of this region, then b's erase and blocks.
    const end = t;
    for (const e of writes.slice(1)) {
      const actual = (end - (e as FlashProgressEvent & { at: number }).at) / 1000;
      assert.ok(Math.abs(e.etaSeconds! - actual) < 1e-6, `ETA ${e.etaSeconds} s at ${e.bytesDone} bytes, actually ${actual} s left`);
    }
  });
});

describe('speed: time left before anything was measured', () => {
  it('the first events carry an estimate that counts the erase to come; measured figures replace it', async () => {
    const a = Buffer.alloc(0x40000, 0x5a);
    const b = Buffer.alloc(0x20000, 0xa5);
    const plan = { regions: [{ address: 0x10000, file: 'a.bin', data: a, encrypted: true, role: 'app' }, { address: 0x100000, file: 'b.bin', data: b, encrypted: true, role: 'app' }] } as unknown as FlashPlan;
    let t = 0;
    const io: FlashIo = {
      async write(_address, d, o) {
        t += 8000;
        for (let done = 0x10000; done <= d.length; done += 0x10000) {
          t += 1000;
          o.onBytes?.(done);
        }
      },
      md5: async () => '',
      read: async () => new Uint8Array(0),
    };
    // 1 s per 64 KiB written, 2 ms per erased byte's worth: easy figures to check.
    const estimate = { secondsPerByte: 1 / 0x10000, eraseSeconds: (_address: number, size: number) => size / 0x8000 };
    const events: FlashProgressEvent[] = [];
    await writePlan(plan, io, { onProgress: (e) => events.push(e), now: () => t, estimate });
    const [erase, firstAck] = events;
    // Before the first region's erase: all 6 x 64 KiB at the estimated rate, plus both regions' erase (8 s + 4 s).
    assert.equal(erase!.phase, 'erase');
    assert.equal(erase!.etaEstimated, true);
    assert.equal(erase!.etaSeconds, 6 + 8 + 4);
    // After the first acknowledgement (no rate yet): this region's erase is over, the next one's is not.
    assert.equal(firstAck!.phase, 'write');
    assert.equal(firstAck!.etaEstimated, true);
    assert.equal(firstAck!.etaSeconds, 5 + 4);
    // From the second acknowledgement on, the measured figures, not flagged as estimated.
    const measured = events.filter((e) => e.phase === 'write').slice(1);
    assert.ok(measured.length > 0);
    for (const e of measured) assert.equal(e.etaEstimated, undefined, JSON.stringify(e));
  });

  it('without an estimate nothing is said before the second acknowledgement (as before)', async () => {
    const data = Buffer.alloc(0x20000, 1);
    const plan = { regions: [{ address: 0x10000, file: 'a.bin', data, encrypted: true, role: 'app' }] } as unknown as FlashPlan;
    const io: FlashIo = { async write(_a, d, o) { o.onBytes?.(d.length); }, md5: async () => '', read: async () => new Uint8Array(0) };
    const events: FlashProgressEvent[] = [];
    await writePlan(plan, io, { onProgress: (e) => events.push(e), now: () => 0 });
    assert.equal(events[0]!.etaSeconds, undefined);
  });

  it('the ROM estimate: per 1 KiB block its request, reply and 4 page programs; the erase per 4 KiB sector', () => {
    const est = romWriteEstimate(TIMING_PROFILES.sector, 921600, 0x400);
    // (1050 + 14) bytes x 10 bits at 921600 baud + 4 x 0.7 ms, per 1024 bytes.
    const blockMs = ((1050 + 14) * 10 * 1000) / 921600 + 4 * 0.7;
    assert.ok(Math.abs(est.secondsPerByte - blockMs / 1024 / 1000) < 1e-12);
    // A 1.9 MB app at 0x10000: 464 sectors at 45 ms.
    assert.ok(Math.abs(est.eraseSeconds(0x10000, 1900096) - 464 * 0.045) < 1e-9);
  });

  it('the CLI line says "about" while the time left is an estimate', () => {
    const base = { phase: 'erase' as const, region: 3, regions: 3, file: '/b/gpy.bin_enc', address: 0x10000, bytesDone: 14560, bytesTotal: 1914656, bytesWritten: 14560, throughput: 0, eraseBytes: 1900096 };
    assert.equal(progressLine({ ...base, etaSeconds: 47.2, etaEstimated: true }), '[3/3] gpy.bin_enc @ 0x10000: erasing 1856 KiB, then writing it (1% of 1870 KiB done, about 48 s left)');
    assert.equal(progressLine({ ...base, phase: 'write', throughput: 71000, etaSeconds: 20.1 }), '[3/3] gpy.bin_enc @ 0x10000: 1% (14/1870 KiB, 69.3 KiB/s, 21 s left)');
  });
});

describe('speed: erase model profiles of the virtual board', () => {
  it('sector charges every 4 KiB sector; block64k uses 64 KiB blocks where they fit', () => {
    const s = TIMING_PROFILES.sector;
    const b = TIMING_PROFILES.block64k;
    assert.equal(eraseMs(s, 0x10000, 0x20000), 32 * s.sectorEraseMs);
    assert.equal(eraseMs(b, 0x10000, 0x20000), 2 * b.blockEraseMs);
    // 0x8000..0x31000: 8 sectors to the boundary, 2 blocks, then 1 sector.
    assert.equal(eraseMs(b, 0x8000, 0x29000), 9 * b.sectorEraseMs + 2 * b.blockEraseMs);
    assert.equal(eraseMs(b, 0x8000, 0xc00), b.sectorEraseMs);
  });
});
