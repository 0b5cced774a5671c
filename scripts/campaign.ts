/**
 * Fault-injection campaigns against the virtual ESP32 (issue 7): Burn Keys and flashing, each run
 * one random fault followed by the user's next action (the same command again), then the timed
 * variant at 115200 and 921600 baud. Prints the counts; exits 1 if any must-be-0 row is not 0.
 *
 *   npm run campaign                      # 1000 Burn Keys + 1000 flash runs + timed runs
 *   npm run campaign -- --seed S          # replay a printed seed
 *   npm run campaign -- --burn 200 --flash 200 --timed-burn 4 --timed-flash 2 --variant 50
 *
 * --provision N: rounds of the provisioning campaign (4 boards at once, a fault drawn per board;
 *   default 20).
 * --variant N: runs of Burn Keys and of flashing on a 3/4-coding GPy and on a 4 MB revision-0 LoPy.
 * --only 104,105: replay only these Burn Keys run numbers of the printed seed (the faults of every
 *   run are still drawn, so each replays the fault it had).
 *
 * Without the timing model the board answers in microseconds, so every loader timeout and every
 * delay fault is scaled by the same factor (--time-scale, default 0.1; printed). With the timing
 * model on (UART at 10 bits/byte, flash erase/program times) the loader's own timeouts are used.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runBurnCampaign } from '../test/campaign/burn';
import { runFlashCampaign, type FlashCampaignInputs } from '../test/campaign/flash';
import { runProvisionCampaign } from '../test/campaign/provision';
import { scaledClock } from '../test/campaign/clock';
import { formatCounters, type Counters } from '../test/campaign/outcome';
import { realClock } from '../src/core/loader/clock';
import { SYNC_TIMEOUT_MS } from '../src/core/loader/timeouts';
import { findBuildOutputs } from '../src/core/firmware/outputs';
import { planFromBuild } from '../src/core/flash/plan';
import { writeSecureBuildDir } from '../src/core/secure-build/process';
import { digestPrivateKey } from '../src/core/crypto/secure-boot-key';
import type { BoardId } from '../src/core/boards/catalog';
import { FIXTURE_IV, fixtureApp, fixtureBootloader, fixtureKeys } from './make-fixture-firmware';

export interface CampaignFirmwareOptions {
  /** The `make BOARD=` of the build (GPY: 8 MB layout; LOPY: 4 MB). */
  board?: BoardId;
  flashSize?: number;
  /** 192: keys for a chip with the 3/4 coding scheme (the first 24 bytes of the fixture flash key). */
  keylen?: 256 | 192;
  appSize?: number;
}

/** The fixture keys and two consecutive secure builds for `board` (the second with a changed app). */
export function campaignFirmware(opts: CampaignFirmwareOptions = {}): FlashCampaignInputs {
  const board = opts.board ?? 'GPY';
  const keylen = opts.keylen ?? 256;
  const fixture = fixtureKeys();
  const keys = { ...fixture, flashKey: fixture.flashKey.slice(0, keylen / 8), secureBootKey: digestPrivateKey(fixture.signingKey, keylen) };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'campaign-fw-'));
  const plan = (seed: string) => {
    const dir = path.join(root, seed, 'build', board, 'release');
    writeSecureBuildDir(dir, board, { bootloader: fixtureBootloader(), app: fixtureApp(opts.appSize ?? 24 * 1024, seed), iv: FIXTURE_IV }, keys);
    return planFromBuild(findBuildOutputs(dir), { flashSize: opts.flashSize ?? 0x800000 });
  };
  return {
    flashKey: keys.flashKey, secureBootKey: keys.secureBootKey, signingKeyPem: keys.signingKeyPem,
    signingPublicKey: keys.signingKey.publicKey, full: plan('app-v1'), next: plan('app-v2'),
  };
}

/** A signed build directory for the provisioning campaign (made with the fixture keys: the build key). */
export function provisionFirmware(workDir: string) {
  const keys = fixtureKeys();
  const buildDir = path.join(workDir, 'provision-build', 'build', 'GPY', 'release');
  writeSecureBuildDir(buildDir, 'GPY', { bootloader: fixtureBootloader(), app: fixtureApp(24 * 1024, 'provision-app'), iv: FIXTURE_IV }, keys);
  return { buildDir, signingKeyPem: keys.signingKeyPem, buildKey: keys.flashKey, signingPublicKey: keys.signingKey.publicKey };
}

function argValue(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<number> {
  const seed = argValue('seed', `campaign-${Date.now().toString(36)}`);
  const burnRuns = Number(argValue('burn', '1000'));
  const flashRuns = Number(argValue('flash', '1000'));
  const timedBurn = Number(argValue('timed-burn', '20'));
  const timedFlash = Number(argValue('timed-flash', '10'));
  const variantRuns = Number(argValue('variant', '300'));
  const scale = Number(argValue('time-scale', '0.1'));
  const concurrency = Number(argValue('concurrency', '8'));
  const onlyArg = argValue('only', '');
  const only = onlyArg ? onlyArg.split(',').map((n) => Number(n.trim())) : undefined;
  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'campaign-'));
  const fw = campaignFirmware();
  const fast = { clock: scaledClock(scale), timeScale: scale, baud: 921600, syncTimeoutMs: 1000, concurrency };
  const burnOnly = only ? { only } : {};
  const all: Array<[string, Counters]> = [];
  const report = (title: string, c: Counters, extra: Array<[string, string | number]> = []): void => {
    all.push([title, c]);
    console.log(formatCounters(title, c, seed, extra) + '\n');
  };
  const t = (): number => Date.now();
  console.log(`Fault campaign, seed ${seed} (replay: npm run campaign -- --seed ${seed}); timeouts scaled by ${scale} where the timing model is off.\n`);

  let t0 = t();
  const burn = await runBurnCampaign({ ...fast, ...burnOnly, runs: burnRuns, seed: `${seed}/burn`, workDir, flashKey: fw.flashKey, secureBootKey: fw.secureBootKey, hardening: true });
  report(`Burn Keys (GPy, coding None, --hardening; timing model off)`, burn.counters, [['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);

  t0 = t();
  const flash = await runFlashCampaign({ ...fast, ...fw, runs: flashRuns, seed: `${seed}/flash` , workDir });
  report(`Flashing (GPy full secure set / incremental reflash; timing model off)`, flash.counters, [['  full secure flash runs', flash.byScenario.full], ['  incremental reflash runs', flash.byScenario.incremental], ['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);

  // The other board families: 3/4 coding (192-bit keys, 3/4-encoded blocks) and a 4 MB
  // revision-0 module (LoPy: 4 MB layout, the revision-0 boot path), each Burn Keys and flashing.
  const variants = [
    { title: 'GPy, coding 3/4 (192-bit keys)', profile: 'GPY', codingScheme: '3/4', fw: campaignFirmware({ board: 'GPY', keylen: 192 }) },
    { title: 'LoPy (4 MB, chip revision 0), coding None', profile: 'LOPY', codingScheme: 'none', fw: campaignFirmware({ board: 'LOPY', flashSize: 0x400000 }) },
  ] as const;
  for (const v of variantRuns > 0 ? variants : []) {
    t0 = t();
    const b = await runBurnCampaign({ ...fast, ...burnOnly, runs: variantRuns, seed: `${seed}/burn-${v.profile}-${v.codingScheme}`, workDir, profile: v.profile, codingScheme: v.codingScheme, flashKey: v.fw.flashKey, secureBootKey: v.fw.secureBootKey, hardening: true });
    report(`Burn Keys (${v.title}, --hardening; timing model off)`, b.counters, [['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);
    t0 = t();
    const f = await runFlashCampaign({ ...fast, ...v.fw, runs: variantRuns, seed: `${seed}/flash-${v.profile}-${v.codingScheme}`, workDir, profile: v.profile, codingScheme: v.codingScheme });
    report(`Flashing (${v.title}; timing model off)`, f.counters, [['  full secure flash runs', f.byScenario.full], ['  incremental reflash runs', f.byScenario.incremental], ['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);
    for (const r of [...b.records, ...f.records].filter((x) => x.end === 'other')) console.log(JSON.stringify(r));
  }

  for (const baud of [115200, 921600]) {
    const timed = { clock: realClock, timeScale: 1, baud, syncTimeoutMs: SYNC_TIMEOUT_MS, timing: true, concurrency: 5 };
    t0 = t();
    const b = await runBurnCampaign({ ...timed, runs: timedBurn, seed: `${seed}/timed-burn-${baud}`, workDir, flashKey: fw.flashKey, secureBootKey: fw.secureBootKey, hardening: true });
    report(`Burn Keys, timing model on, ${baud} baud (loader timeouts unscaled)`, b.counters, [['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);
    t0 = t();
    const f = await runFlashCampaign({ ...timed, ...fw, runs: timedFlash, seed: `${seed}/timed-flash-${baud}`, workDir });
    report(`Flashing, timing model on, ${baud} baud (loader timeouts unscaled)`, f.counters, [['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);
    for (const r of [...b.records, ...f.records].filter((x) => x.end === 'other')) console.log(JSON.stringify(r));
  }
  const provisionRounds = Number(argValue('provision', '20'));
  if (provisionRounds > 0) {
    t0 = t();
    // Unscaled loader timeouts: four boards share one event loop, so scaled-down timeouts would measure the host's load.
    const p = await runProvisionCampaign({ ...provisionFirmware(workDir), rounds: provisionRounds, boards: 4, seed: `${seed}/provision`, workDir, clock: realClock, syncTimeoutMs: SYNC_TIMEOUT_MS, baud: fast.baud });
    report('Provisioning (4 GPys at once, per-device keys, a fault per board, two reruns; timing model off, loader timeouts unscaled)', p.counters, [['wall time (s)', ((t() - t0) / 1000).toFixed(1)]]);
    for (const r of p.records.filter((x) => x.problems.length)) console.log(JSON.stringify(r));
  }
  for (const r of [...burn.records, ...flash.records].filter((x) => x.end === 'other')) console.log(JSON.stringify(r));
  fs.rmSync(workDir, { recursive: true, force: true });
  const bad = all.filter(([, c]) => c.other > 0 || Object.values(c.violations).some((v) => v > 0));
  console.log(bad.length ? `FAILED: ${bad.map(([n]) => n).join('; ')} (seed ${seed})` : `All must-be-0 rows are 0 (seed ${seed}).`);
  return bad.length ? 1 : 0;
}

if (require.main === module) {
  main().then((code) => process.exit(code), (e: unknown) => {
    console.error(e);
    process.exit(2);
  });
}
