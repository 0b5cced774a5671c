import type { BenchModule, BenchResult } from './bench';
import { VirtualEsp32 } from '../src/core/virtual/device';
import { DEFAULT_TIMING, uartMs } from '../src/core/virtual/timing';
import type { DeviceTimeline } from '../src/core/virtual/timing';
import { createMemoryPair } from '../src/core/transport/memory';
import { connect } from '../src/core/connect/connect';
import { instantSleepClock } from '../src/core/loader/clock';
import { identify } from '../src/core/chip/identify';
import { romFlashIo } from '../src/core/flash/rom-io';
import { writePlan } from '../src/core/flash/writer';
import type { FlashPlan } from '../src/core/flash/plan';
import { secureSet } from '../src/core/secure-build/process';
import { fixtureApp, fixtureBootloader, fixtureKeys, FIXTURE_IV } from '../scripts/make-fixture-firmware';

/**
 * Full secure set for a GPy (digest at 0x0, partition table at 0x8000, a 1.9 MB app at 0x10000)
 * written to the virtual ESP32 with its timing model on, at 921600 baud over the memory pair.
 * Floor = every byte on the wire in both directions (compressed payload, packet headers, SLIP
 * framing and escapes, replies) at 10 bits per byte, plus the flash time the device charged
 * (sector erases and page programs). The ROM loader does each of those before replying and the
 * host waits for each reply, so nothing overlaps: the floor is a sum, and a ratio near 1 means
 * the client adds next to nothing of its own.
 */
const BAUD = 921600;
const APP_SIZE = 1_900_000;

export const flashBench: BenchModule = {
  name: 'flash (virtual GPy, timing model on, 921600 baud)',
  async run(): Promise<BenchResult[]> {
    const keys = fixtureKeys();
    const set = secureSet({ bootloader: fixtureBootloader(), layout: '8MB', app: fixtureApp(APP_SIZE, 'bench-app'), iv: FIXTURE_IV }, keys, []);
    const plan: FlashPlan = {
      regions: [
        { address: 0x0, file: 'bootloader-reflash-digest.bin_enc', data: set.digest, role: 'bootloader-digest', encrypted: true },
        { address: 0x8000, file: 'partitions_8MB.bin_enc', data: set.partitionTable, role: 'partition-table', encrypted: true },
        { address: 0x10000, file: 'gpy.bin_enc', data: set.app, role: 'app', encrypted: true },
      ],
    };
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'bench', timing: true });
    const { host, device } = createMemoryPair();
    dev.attach(device);
    dev.reset('download');
    await host.open();
    const conn = await connect(host, { reset: 'none', baud: BAUD, clock: instantSleepClock, syncTimeoutMs: 2000 });
    await identify(conn); // attaches the SPI flash, as the CLI does before writing
    let wire = 0;
    const write = host.write.bind(host);
    host.write = async (d: Uint8Array) => {
      wire += d.length;
      return write(d);
    };
    host.onData((d) => {
      wire += d.length;
    });
    const timeline = dev.timeline as DeviceTimeline;
    const io = romFlashIo(conn.loader);
    const total = plan.regions.reduce((s, r) => s + r.data.length, 0);

    wire = 0;
    const flashBefore = timeline.flashMs;
    let t = performance.now();
    await writePlan(plan, io, { compress: true });
    const fullMs = performance.now() - t;
    const wireMs = uartMs(DEFAULT_TIMING, wire, BAUD);
    const flashMs = timeline.flashMs - flashBefore;
    const floorMs = wireMs + flashMs;

    // One-sector change of the app (new ciphertext for one 4 KB sector), then an incremental reflash.
    const changed = new Uint8Array(set.app);
    for (let i = 0x80000; i < 0x81000; i++) changed[i] ^= 0xa5;
    const plan2: FlashPlan = { regions: plan.regions.map((r) => (r.role === 'app' ? { ...r, data: changed } : r)) };
    t = performance.now();
    const res = await writePlan(plan2, io, { compress: true, incremental: true });
    const incMs = performance.now() - t;
    conn.loader.dispose();
    const rewritten = res.reduce((s, r) => s + r.bytesWritten, 0);
    return [
      { name: `full secure set (${(total / 1e6).toFixed(2)} MB): time`, value: fullMs / 1000, unit: 's' },
      { name: `full secure set: floor (${(wire / 1e6).toFixed(2)} MB on the wire ${(wireMs / 1000).toFixed(1)} s + flash ${(flashMs / 1000).toFixed(1)} s)`, value: floorMs / 1000, unit: 's' },
      // Ratios as percentages: the runner prints one decimal, and 1.06× vs 1.10× must be told apart.
      { name: 'full secure set: time as % of the floor (wire both ways + flash)', value: (100 * fullMs) / floorMs, unit: '%', target: 110 },
      { name: `incremental after a one-sector change (${rewritten} bytes rewritten): time`, value: incMs / 1000, unit: 's' },
      { name: 'incremental after a one-sector change: time as % of the full flash', value: (100 * incMs) / fullMs, unit: '%', target: 10 },
    ];
  },
};
