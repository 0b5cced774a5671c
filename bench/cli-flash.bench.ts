import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import type { BenchModule, BenchResult } from './bench';
import { median } from './bench';
import { eraseMs, flashReadMs, TIMING_PROFILES, uartMs, type TimingModel } from '../src/core/chip/flash-timing';
import { roundTripOverheadMs } from './round-trip';
import { writeSecureBuildDir } from '../src/core/secure-build/process';
import { findBuildOutputs } from '../src/core/firmware/outputs';
import { planFromBuild, type FlashPlan } from '../src/core/flash/plan';
import { KeyStore } from '../src/core/keystore/key-store';
import { buildImage, fixtureBootloader, fixtureKeys, FIXTURE_IV, prng } from '../scripts/make-fixture-firmware';

/**
 * What users run, measured: whole CLI processes (`node bin/pycom-secure.js flash ...`, process
 * start, connect, checks, config-sector backup, writes, MD5 verification and the boot log
 * included) against a `sim serve --timing-profile P` board over socket://, at 115200 and 921600
 * baud, several runs each (median and spread). The peer in the same run is Espressif's esptool-js
 * in ROM mode doing the same writes (bench/esptool-js-peer.ts, its own process).
 *
 * Floor = the payload's bytes on the wire at 10 bits per byte, plus the device's flash time under
 * the profile (erase at its granularity + 256-byte page programs). Protocol overhead (headers,
 * SLIP, replies, connect, MD5 and the rest) is reported separately: the server's per-connection
 * byte count minus the payload, at the final baud (the few bytes exchanged at 115200 before the
 * switch are counted at the fast rate, a slight undercount).
 *
 * The incremental case is a real one-byte source change: the app is rebuilt with one byte of one
 * segment changed, signed and encrypted again, and flashed with --incremental (it rewrites the
 * sector holding the change and the last sector, where the image hash and signature sit).
 *
 * BENCH_QUICK=1 (npm run bench:quick): a 256 KB app, 921600 only, 1 run each. BENCH_BAUDS=921600
 * (comma-separated) limits the rates.
 */
const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'bin', 'pycom-secure.js');

interface Proc {
  ms: number;
  code: number | null;
  out: string;
  err: string;
}

function run(args: string[]): Promise<Proc> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => resolve({ ms: performance.now() - t, code, out, err }));
  });
}

async function mustRun(args: string[]): Promise<Proc> {
  const r = await run(args);
  if (r.code !== 0) throw new Error(`bench: ${args.slice(1, 3).join(' ')} failed (${r.code}): ${r.err}${r.out}`);
  return r;
}

interface Server {
  url: string;
  /** Per-connection "bytes from the client, bytes to it, flash ms" reported by sim serve. */
  stats: Array<{ in: number; out: number; flashMs: number }>;
  stop(): Promise<void>;
}

/** Every server started, so a failed run stops them all (no sim serve left behind). */
const started: Server[] = [];

async function serve(state: string, profile: string | undefined): Promise<Server> {
  const args = [CLI, 'sim', 'serve', '--port', '0', '--state', state, ...(profile ? ['--timing-profile', profile] : [])];
  const p = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const stats: Server['stats'] = [];
  let errBuf = '';
  p.stderr.on('data', (d: Buffer) => {
    errBuf += d.toString();
    let nl;
    while ((nl = errBuf.indexOf('\n')) >= 0) {
      const line = errBuf.slice(0, nl);
      errBuf = errBuf.slice(nl + 1);
      const m = /connection closed: (\d+) bytes from the client, (\d+) bytes to it, (\d+) ms/.exec(line);
      if (m) stats.push({ in: Number(m[1]), out: Number(m[2]), flashMs: Number(m[3]) });
    }
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on ([\d.]+):(\d+)/.exec(out);
      if (m) resolve(`socket://${m[1]}:${m[2]}`);
    });
    p.on('close', (code) => reject(new Error(`sim serve exited (${code}): ${errBuf}`)));
  });
  const server: Server = {
    url,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        if (p.exitCode !== null || p.signalCode !== null) return resolve();
        p.once('close', () => resolve());
        p.kill('SIGTERM');
      }),
  };
  started.push(server);
  return server;
}

/** Waits until the server has reported `n` connections (it reports each when the client has gone). */
async function statsAt(s: Server, n: number): Promise<Server['stats'][number]> {
  for (let i = 0; i < 200 && s.stats.length < n; i++) await new Promise((r) => setTimeout(r, 10));
  return s.stats[n - 1] ?? { in: 0, out: 0, flashMs: 0 };
}

/** fixtureApp's segments, with one byte of the IROM segment changed when `change` is set (a one-byte source change). */
function app(size: number, change: boolean): Uint8Array {
  const seed = 'bench-app';
  const body = Math.max(256, size - 24 - 4 * 8 - 48);
  const q = Math.floor(body / 8) * 2;
  const irom = prng(`${seed}/irom`, Math.max(4, body - q - 1536));
  if (change) irom[irom.length >> 1] ^= 0x01;
  return buildImage(
    [
      { loadAddress: 0x3f400020, data: prng(`${seed}/drom`, q) },
      { loadAddress: 0x3ffb0000, data: prng(`${seed}/dram`, 512) },
      { loadAddress: 0x40080000, data: prng(`${seed}/iram`, 1024) },
      { loadAddress: 0x400d0018, data: irom },
    ],
    { entry: 0x40081000, flashSizeNibble: 3 },
  );
}

/** Floor of writing `regions` at `baud` under `t`: payload on the wire + erase + page programs, in ms. */
function floorMs(regions: FlashPlan['regions'], baud: number, t: TimingModel): { wire: number; flash: number; payload: number } {
  let wire = 0;
  let flash = 0;
  let payload = 0;
  for (const r of regions) {
    const start = r.address - (r.address % 0x1000);
    const len = r.address - start + r.data.length;
    payload += r.data.length;
    wire += uartMs(t, r.data.length, baud);
    flash += eraseMs(t, start, len) + Math.ceil(len / 256) * t.pageProgramMs;
  }
  return { wire, flash, payload };
}

const s = (ms: number): string => (ms / 1000).toFixed(2);
function spread(xs: number[]): string {
  return `median ${s(median(xs))} s, min ${s(Math.min(...xs))}, max ${s(Math.max(...xs))} (n=${xs.length})`;
}

export const cliFlashBench: BenchModule = {
  name: 'flash as users run it: whole CLI processes against sim serve over socket://',
  async run(): Promise<BenchResult[]> {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-bench-'));
    try {
      return await measure(work);
    } finally {
      await Promise.all(started.splice(0).map((srv) => srv.stop()));
      fs.rmSync(work, { recursive: true, force: true });
    }
  },
};

async function measure(work: string): Promise<BenchResult[]> {
  const quick = process.env['BENCH_QUICK'] === '1';
  const APP_SIZE = quick ? 256 * 1024 : 1_900_000;
  const RUNS = quick ? 1 : 3;
  // BENCH_BAUDS=921600 (comma-separated) measures only those rates.
  const BAUDS = process.env['BENCH_BAUDS'] ? process.env['BENCH_BAUDS'].split(',').map(Number) : quick ? [921600] : [115200, 921600];
  await bundlePeer(path.join(work, 'peer.js'));
  const keys = fixtureKeys();
  const store = new KeyStore(path.join(work, 'keys'));
  store.ensureDir();
  fs.writeFileSync(store.signingKeyPath, keys.signingKeyPem, { mode: 0o600 });
  fs.writeFileSync(store.sharedFlashKeyPath, keys.flashKey, { mode: 0o600 });
  const buildA = path.join(work, 'a', 'build', 'GPY', 'release');
  const buildB = path.join(work, 'b', 'build', 'GPY', 'release');
  writeSecureBuildDir(buildA, 'GPY', { bootloader: fixtureBootloader(), app: app(APP_SIZE, false), iv: FIXTURE_IV }, keys);
  writeSecureBuildDir(buildB, 'GPY', { bootloader: fixtureBootloader(), app: app(APP_SIZE, true), iv: FIXTURE_IV }, keys);
  const plan = planFromBuild(findBuildOutputs(buildA, { board: 'GPY', flashKey: keys.flashKey }), { flashSize: 8 * 1024 * 1024 });
  const pt = plan.regions.find((r) => r.role === 'partition-table')!;
  const total = plan.regions.reduce((n, r) => n + r.data.length, 0);
  const ks = ['--key-store', store.dir];

  // A board with the fixture keys burned by the CLI (so the store's audit log holds the evidence).
  const board = path.join(work, 'board.json');
  await mustRun([CLI, 'sim', 'reset-state', '--state', board, '--seed', 'bench']);
  {
    const srv = await serve(board, undefined);
    const summary = JSON.parse((await mustRun([CLI, 'efuse', 'summary', '--json', '--port', srv.url])).out) as Record<string, { value: unknown }>;
    const mac = String(summary['MAC']!.value).split(' ')[0]!;
    await mustRun([CLI, 'efuse', 'burn-keys', '--port', srv.url, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, ...ks]);
    await srv.stop();
  }

  const results: BenchResult[] = [];
  // The machine's own cost of a round trip between two processes (bench/round-trip.ts), per rate:
  // with it, the least time any client of the ROM's 1 KiB blocks could take here.
  const blocks = plan.regions.reduce((n, r) => n + Math.ceil((r.address % 0x1000 + r.data.length) / 0x400), 0);
  const roundTrip = new Map<number, number>();
  const profiles = quick ? ['sector'] : ['sector', 'block64k'];
  console.log(`  payload: ${plan.regions.map((r) => `${path.basename(r.file)} @ 0x${r.address.toString(16)} ${r.data.length} B`).join(', ')}`);
  for (const profile of profiles) {
    const model = TIMING_PROFILES[profile as keyof typeof TIMING_PROFILES];
    for (const baud of profile === 'sector' ? BAUDS : BAUDS.filter((b) => b === 921600)) {
      const state = path.join(work, `board-${profile}-${baud}.json`);
      fs.copyFileSync(board, state);
      const srv = await serve(state, profile);
      let conns = 0;
      const tag = `${profile}, ${baud} baud`;
      const full: number[] = [];
      const overhead: number[] = [];
      const peer: number[] = [];
      const small: number[] = [];
      const smallPeer: number[] = [];
      const inc: number[] = [];
      const incBytes: string[] = [];
      const fl = floorMs(plan.regions, baud, model);
      const smallFloor = floorMs([pt], baud, model);
      const peerArgs = (regions: FlashPlan['regions']) => [path.join(work, 'peer.js'), srv.url, String(baud), ...regions.flatMap((r) => [`0x${r.address.toString(16)}`, r.file])];
      for (let i = 0; i < RUNS; i++) {
        const r = await mustRun([CLI, 'flash', '--port', srv.url, '--baud', String(baud), '--build', buildA, ...ks]);
        full.push(r.ms);
        const st = await statsAt(srv, ++conns);
        overhead.push(uartMs(model, st.in + st.out - fl.payload, baud));
        peer.push((await mustRun(peerArgs(plan.regions))).ms);
        conns++;
        small.push((await mustRun([CLI, 'flash', '--port', srv.url, '--baud', String(baud), ...ks, `0x${pt.address.toString(16)}`, pt.file])).ms);
        conns++;
        smallPeer.push((await mustRun(peerArgs([pt]))).ms);
        conns++;
      }
      // Incremental: the board holds build A; alternate A -> B -> A, each a one-byte source change.
      await mustRun([CLI, 'flash', '--port', srv.url, '--baud', String(baud), '--build', buildA, ...ks]);
      conns++;
      for (let i = 0; i < RUNS; i++) {
        const r = await mustRun([CLI, 'flash', '--incremental', '--port', srv.url, '--baud', String(baud), '--build', i % 2 ? buildA : buildB, ...ks]);
        conns++;
        inc.push(r.ms);
        incBytes.push(/(\d+) of \d+ bytes written/.exec(r.out)?.[1] ?? '?');
      }
      await srv.stop();
      const floor = fl.wire + fl.flash;
      if (!roundTrip.has(baud)) {
        // One 1 KiB block as the board holds it: the frame on the wire (random data: ~8 SLIP escapes), 4 page programs, the reply.
        const holdMs = uartMs(model, 1058, baud) + 4 * model.pageProgramMs + uartMs(model, 14, baud);
        roundTrip.set(baud, await roundTripOverheadMs({ holdMs, requestBytes: 1058, replyBytes: 14, count: Math.min(300, Math.ceil(8000 / holdMs)) }));
      }
      const rt = roundTrip.get(baud)!;
      const md5Ms = plan.regions.reduce((n, r) => n + flashReadMs(model, r.data.length), 0);
      const least = floor + median(overhead) + md5Ms + blocks * rt;
      console.log(`  [${tag}] full set ${(total / 1e6).toFixed(2)} MB: ${spread(full)}; floor ${s(floor)} s (wire ${s(fl.wire)} + flash ${s(fl.flash)}); protocol bytes ${s(median(overhead))} s of wire; esptool-js ${spread(peer)}`);
      console.log(`  [${tag}] least possible with 1 KiB blocks here: floor + protocol bytes + MD5 ${s(md5Ms)} s + ${blocks} round trips at ${rt.toFixed(3)} ms (this machine, two processes, no pycom-secure code) = ${s(least)} s`);
      console.log(`  [${tag}] 3 KB write (${pt.data.length} B): ${spread(small)}; floor ${s(smallFloor.wire + smallFloor.flash)} s; esptool-js ${spread(smallPeer)}`);
      console.log(`  [${tag}] one-byte source change, --incremental: ${spread(inc)}; app bytes rewritten per run: ${incBytes.join(', ')}`);
      results.push(
        { name: `[${tag}] full secure set: whole CLI process, median`, value: median(full) / 1000, unit: 's' },
        { name: `[${tag}] full secure set: floor (payload on the wire + flash)`, value: floor / 1000, unit: 's' },
        { name: `[${tag}] full secure set: time / floor`, value: median(full) / floor, unit: 'x', ...(baud === 921600 ? { target: 1.05 } : {}) },
        { name: `[${tag}] full secure set: protocol bytes beyond the payload (wire time)`, value: median(overhead) / 1000, unit: 's' },
        { name: `[${tag}] full secure set: least possible here with 1 KiB blocks / floor`, value: least / floor, unit: 'x' },
        { name: `[${tag}] full secure set: esptool-js ROM mode (-z), median`, value: median(peer) / 1000, unit: 's' },
        { name: `[${tag}] full secure set: this tool / esptool-js`, value: median(full) / median(peer), unit: 'x', target: 1 },
        { name: `[${tag}] 3 KB write: time above its floor`, value: (median(small) - smallFloor.wire - smallFloor.flash) / 1000, unit: 's', target: 0.5 },
        { name: `[${tag}] 3 KB write: esptool-js, median`, value: median(smallPeer) / 1000, unit: 's' },
        { name: `[${tag}] one-byte source change: incremental / full`, value: median(inc) / median(full), unit: 'x', target: 0.06 },
      );
    }
  }
  return results;
}

/** Bundles the esptool-js peer to plain JavaScript (esbuild, as scripts/build.mjs does for the CLI). */
export async function bundlePeer(outFile: string): Promise<void> {
  const esbuild = await import('esbuild');
  await esbuild.build({ entryPoints: [path.join(__dirname, 'esptool-js-peer.ts')], bundle: true, platform: 'node', format: 'cjs', outfile: outFile, logLevel: 'warning' });
}
