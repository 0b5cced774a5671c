import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BenchModule, BenchResult } from './bench';
import { VirtualEsp32 } from '../src/core/virtual/device';
import { createMemoryPair } from '../src/core/transport/memory';
import { instantSleepClock } from '../src/core/loader/clock';
import { KeyStore } from '../src/core/keystore/key-store';
import { writeSecureBuildDir } from '../src/core/secure-build/process';
import { provision } from '../src/core/workflows/provision';
import type { BoardTarget } from '../src/core/workflows/board';
import { fixtureApp, fixtureBootloader, fixtureKeys, FIXTURE_IV } from '../scripts/make-fixture-firmware';

/**
 * Issue #14: boards are independent, so N boards on N ports must take about as long as one. Each
 * run provisions fresh timed virtual GPys (timing model on: UART bytes at 921600 baud, eFuse
 * programming, sector erases and page programs all take their time) from one signed build, with
 * per-device keys (one host-side re-encryption per board), Burn Keys and the full flash; no boot
 * log. Reported: wall time of 1, 4 and 16 boards, the ratios to one board (targets 1.3x and 1.6x),
 * and the host CPU time per board (what would serialise the boards if it grew).
 */
const BAUD = 921600;
const APP_SIZE = 512 * 1024;

async function run(n: number, buildDir: string, keysPem: Uint8Array): Promise<{ wallMs: number; cpuMs: number }> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prov-'));
  const store = new KeyStore(path.join(tmp, 'secure'));
  store.ensureDir();
  const keys = fixtureKeys();
  fs.writeFileSync(store.signingKeyPath, keysPem, { mode: 0o600 });
  fs.writeFileSync(store.sharedFlashKeyPath, keys.flashKey, { mode: 0o600 });
  const targets: BoardTarget[] = [];
  const macs: string[] = [];
  for (let i = 0; i < n; i++) {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: `bench-prov-${n}-${i}`, timing: true });
    const { host, device } = createMemoryPair();
    dev.attach(device);
    dev.reset('download');
    await host.open();
    macs.push(Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':'));
    targets.push({ port: `virtual-${i}`, reset: 'none', baud: BAUD, transport: host, opened: true, clock: instantSleepClock, syncTimeoutMs: 2000 });
  }
  const cpu = process.cpuUsage();
  const t = performance.now();
  const out = await provision({ ports: targets, store, buildDir, board: 'GPY', perDeviceKeys: true, hardening: false, approvedMacs: macs, bootLog: false }, { info: () => undefined, warn: () => undefined });
  const wallMs = performance.now() - t;
  const used = process.cpuUsage(cpu);
  if (!out.ok) throw new Error(`provision bench: ${out.boards.filter((b) => b.state !== 'finished').map((b) => b.message).join('; ')}`);
  fs.rmSync(tmp, { recursive: true, force: true });
  return { wallMs, cpuMs: (used.user + used.system) / 1000 };
}

export const provisionBench: BenchModule = {
  name: `provision (timed virtual GPys, ${BAUD} baud, per-device keys, ${APP_SIZE / 1024} KiB app)`,
  async run(): Promise<BenchResult[]> {
    const keys = fixtureKeys();
    const buildDir = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'bench-prov-build-')), 'build', 'GPY', 'release');
    writeSecureBuildDir(buildDir, 'GPY', { bootloader: fixtureBootloader(), app: fixtureApp(APP_SIZE, 'bench-prov-app'), iv: FIXTURE_IV }, keys);
    const one = await run(1, buildDir, keys.signingKeyPem);
    const four = await run(4, buildDir, keys.signingKeyPem);
    const sixteen = await run(16, buildDir, keys.signingKeyPem);
    return [
      { name: '1 board: time', value: one.wallMs / 1000, unit: 's' },
      { name: '4 boards in parallel: time', value: four.wallMs / 1000, unit: 's' },
      { name: '16 boards in parallel: time', value: sixteen.wallMs / 1000, unit: 's' },
      // Ratios as percentages of one board's time: the runner prints one decimal.
      { name: '4 boards / 1 board', value: (four.wallMs / one.wallMs) * 100, unit: '%', target: 130 },
      { name: '16 boards / 1 board', value: (sixteen.wallMs / one.wallMs) * 100, unit: '%', target: 160 },
      { name: 'host CPU per board (16 boards)', value: sixteen.cpuMs / 16, unit: 'ms' },
      { name: 'host CPU per board (1 board)', value: one.cpuMs, unit: 'ms' },
    ];
  },
};
