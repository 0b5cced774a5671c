import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createHash } from 'node:crypto';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { createMemoryPair } from '../../src/core/transport/memory';
import { connect, type Connection } from '../../src/core/connect/connect';
import { identify, type ChipInfo } from '../../src/core/chip/identify';
import { instantSleepClock } from '../../src/core/loader/clock';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import type { BurnPlan } from '../../src/core/efuse/burn/plan';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog } from '../../src/core/audit/audit-log';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { predictBoot, type BootVerdict } from '../../src/core/boot/predict';
import { KeyStore } from '../../src/core/keystore/key-store';
import { romFlashIo } from '../../src/core/flash/rom-io';
import { planBootPredictor } from '../../src/core/boot/predict-plan';
import type { FlashIo } from '../../src/core/flash/writer';
import type { BoardId } from '../../src/core/boards/catalog';
import { writeSecureBuildDir, type SecureKeys } from '../../src/core/secure-build/process';
import { FIXTURE_IV, fixtureApp, fixtureBootloader, fixtureKeys } from '../../scripts/make-fixture-firmware';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import type { BoardSession } from '../../src/core/workflows/board';
import { cli } from './helpers/cli';

export const KEYS = fixtureKeys();

export function tmpDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A key store in a fresh folder holding `pem` as its signing key and `flashKey` as its shared flash key (0600). */
export function keyStoreWith(pem: string | Uint8Array, flashKey: Uint8Array): KeyStore {
  const store = new KeyStore(path.join(tmpDir('ks-'), 'secure'));
  store.ensureDir();
  fs.writeFileSync(store.signingKeyPath, pem, { mode: 0o600 });
  fs.writeFileSync(store.sharedFlashKeyPath, flashKey, { mode: 0o600 });
  return store;
}

/**
 * A Pycom firmware checkout as the editor finds it (esp32/Makefile) with a secure GPY build made
 * host-side with the fixture keys in esp32/build/GPY/release, and its key store in secure/ (the
 * fixture signing key and shared flash key).
 */
export function fixtureFirmwareProject(prefix: string, app: { size: number; seed: string } = { size: 24 * 1024, seed: 'fixture-app' }): { project: string; store: KeyStore } {
  const project = tmpDir(prefix);
  fs.mkdirSync(path.join(project, 'esp32'), { recursive: true });
  fs.writeFileSync(path.join(project, 'esp32', 'Makefile'), '# fixture\n');
  writeSecureBuildDir(path.join(project, 'esp32', 'build', 'GPY', 'release'), 'GPY', { bootloader: fixtureBootloader(), app: fixtureApp(app.size, app.seed), iv: FIXTURE_IV }, KEYS);
  const store = new KeyStore(path.join(project, 'secure'));
  store.ensureDir();
  fs.writeFileSync(store.signingKeyPath, KEYS.signingKeyPem, { mode: 0o600 });
  fs.writeFileSync(store.sharedFlashKeyPath, KEYS.flashKey, { mode: 0o600 });
  return { project, store };
}

/** A key store holding the fixture signing key and shared flash key. */
export function fixtureStore(): KeyStore {
  return keyStoreWith(KEYS.signingKeyPem, KEYS.flashKey);
}

/** A secure GPy build made host-side with `keys`: its bootloader embeds their signing key, as IDF links it. */
export function secureBuildWith(keys: SecureKeys): string {
  const dir = path.join(tmpDir('build-'), 'build', 'GPY', 'release');
  writeSecureBuildDir(dir, 'GPY', { bootloader: fixtureBootloader(undefined, keys.signingKey.publicKey), app: fixtureApp(24 * 1024, 'fixture-app'), iv: FIXTURE_IV }, keys);
  return dir;
}

/** A secure build directory (Era D names) for `board`, made host-side from the fixture images. */
export function secureBuild(board: BoardId, appSize = 24 * 1024, seed = 'fixture-app'): string {
  const dir = path.join(tmpDir('build-'), 'build', board, 'release');
  writeSecureBuildDir(dir, board, { bootloader: fixtureBootloader(), app: fixtureApp(appSize, seed), iv: FIXTURE_IV }, KEYS);
  return dir;
}

export interface Board {
  dev: VirtualEsp32;
  conn: Connection;
  info: ChipInfo;
  io: FlashIo;
  close(): void;
}

/**
 * `dev` attached over an in-memory link, reset into download mode and connected (115200 baud, no
 * reset lines): the session the workflows take, and `close` to let go of its loader.
 */
export async function downloadSession(dev: VirtualEsp32): Promise<{ session: BoardSession; close(): void }> {
  const { host, device } = createMemoryPair();
  dev.attach(device);
  dev.reset('download');
  await host.open();
  const conn = await connect(host, { reset: 'none', baud: 115200, clock: instantSleepClock, syncTimeoutMs: 2000 });
  const chip = await identify(conn);
  return { session: { transport: host, conn, chip }, close: () => conn.loader.dispose() };
}

export async function virtualBoard(profile = 'GPY', opts: { burn?: boolean; seed?: string } = {}): Promise<Board> {
  const dev = new VirtualEsp32({ profile, seed: opts.seed ?? 'flash-test' });
  if (opts.burn) await burnKeys(dev);
  const { session, close } = await downloadSession(dev);
  return { dev, conn: session.conn, info: session.chip, io: romFlashIo(session.conn.loader), close };
}

/** Burns the fixture keys, FLASH_CRYPT_CONFIG/CNT and ABS_DONE_0 with D's Burn Keys. */
export async function burnKeys(dev: VirtualEsp32): Promise<void> {
  const access = directAccess(dev.efuse);
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, hardening: false, history: [] });
  const audit = new AuditLog(path.join(tmpDir('audit-'), 'audit.jsonl'));
  await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: KEYS.flashKey, secureBootKey: KEYS.secureBootKey, audit });
}

export function flashMd5(dev: VirtualEsp32): string {
  return createHash('md5').update(dev.flash.read(0, dev.flash.size)).digest('hex');
}

export function predictor(dev: VirtualEsp32) {
  return planBootPredictor({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), flashSize: dev.flash.size, base: (o, n) => dev.flash.read(o, n), signingPublicKey: KEYS.signingKey.publicKey });
}

/** The boot prediction for the device's flash as it is now. */
export function bootNow(dev: VirtualEsp32): BootVerdict {
  return predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (o, n) => dev.flash.read(o, n), flashSize: dev.flash.size, signingPublicKey: KEYS.signingKey.publicKey });
}

/**
 * A virtual GPy (or another `profile`, e.g. WIPY2) served over socket:// whose keys the CLI burned
 * from `store` (so the store's audit log holds the evidence, as for a user's board). Close `server` when done.
 */
export async function servedBurnedGpy(store: KeyStore, seed: string, profile = 'GPY'): Promise<{ dev: VirtualEsp32; server: SimServer; port: string }> {
  const dev = new VirtualEsp32({ profile, seed, bootPredictor: bootPredictorForVirtual });
  const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
  const port = `socket://127.0.0.1:${server.port}`;
  const summary = JSON.parse((await cli(['efuse', 'summary', '--json', '--port', port])).out) as Record<string, { value: unknown }>;
  const mac = String(summary['MAC']!.value).split(' ')[0]!;
  const r = await cli(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir]);
  if (r.code !== 0) throw new Error(`burn-keys failed: ${r.err}`);
  return { dev, server, port };
}

/** Everything the virtual device prints while it resets into normal boot. */
export function normalBootText(dev: VirtualEsp32): string {
  let text = '';
  const off = dev.onText((t) => (text += t));
  try {
    dev.reset('normal');
  } finally {
    off();
  }
  return text;
}

/** Writes `data` at `offset` the way a low-level tool does (erase, program): no checks of this tool's. */
export function rawWrite(dev: VirtualEsp32, offset: number, data: Uint8Array): void {
  dev.flash.eraseRange(offset, Math.ceil(data.length / 0x1000) * 0x1000);
  dev.flash.program(offset, data);
}

/**
 * The Burn Keys plan for `keys` (default the fixture keys, no hardening) on `dev`'s fresh eFuses,
 * with the eFuse access and the MAC it was made for: for tests that burn it whole or cut it off.
 */
export async function fixtureBurnPlan(dev: VirtualEsp32, keys: { flashKey: Uint8Array; secureBootKey: Uint8Array } = KEYS): Promise<{ access: ReturnType<typeof directAccess>; mac: string; plan: BurnPlan }> {
  const access = directAccess(dev.efuse);
  const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
  const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: keys.flashKey, secureBootKey: keys.secureBootKey, hardening: false, history: [] });
  return { access, mac, plan };
}
