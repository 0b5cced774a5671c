/**
 * The bad-input matrix (issue 7): each bad input the product meets, run against a virtual board,
 * with the message the user actually gets and whether the board (eFuses and flash) was left
 * untouched. `npx tsx scripts/bad-input-matrix.ts` rewrites docs/bad-input-matrix.md; the unit
 * test fails when the committed file differs from what the runs produce.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { isUserError } from '../src/core/errors';
import { VirtualEsp32 } from '../src/core/virtual/device';
import { directAccess } from '../src/core/efuse/controller-access';
import { readEfuses } from '../src/core/efuse/access';
import { planBurnKeys, type BurnKeysInput } from '../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../src/core/efuse/burn/execute';
import { AuditLog } from '../src/core/audit/audit-log';
import { BoardRecordWriter } from '../src/core/audit/board-record';
import { field, withField } from '../src/core/efuse/fields';
import { digestPrivateKey } from '../src/core/crypto/secure-boot-key';
import { readHardwareKeyFile, readSigningKeyFile } from '../src/core/keys/key-files';
import { readEspImage } from '../src/core/image/esp-image';
import { parsePartitionTable } from '../src/core/partition/table';
import { findBuildOutputs } from '../src/core/firmware/outputs';
import { planFromBuild, planFromPairs } from '../src/core/flash/plan';
import { checkPlan } from '../src/core/flash/checks';
import { createMemoryPair } from '../src/core/transport/memory';
import { connect } from '../src/core/connect/connect';
import { scaledClock } from '../test/campaign/clock';
import { digestSecureBootloader } from '../src/core/crypto/bootloader-digest';
import { identify } from '../src/core/chip/identify';
import { KeyStore } from '../src/core/keystore/key-store';
import { flash } from '../src/core/workflows/flash';
import { otaImage } from '../src/core/workflows/ota';
import { withBoard } from '../src/core/workflows/board';
import { scriptedUi } from '../src/core/workflows/ui-port';
import { FIXTURE_IV, fixtureApp, fixtureBootloader, fixtureKeys } from './make-fixture-firmware';
import { encryptFor, writeSecureBuildDir } from '../src/core/secure-build/process';
import { boardPlanFromBuild } from '../src/core/secure-build/per-device';
import type { BoardId } from '../src/core/boards/catalog';
import { burnKeys } from '../src/core/workflows/burn-keys';
import { LOCK_FILE } from '../src/core/keystore/lock';
import { layout } from '../src/core/boards/catalog';
import { writePartitionTable, type PartitionEntry } from '../src/core/partition/table';
import { transportFromUrl } from '../src/core/transport/open';
import { provision } from '../src/core/workflows/provision';
import { parsePkcs11Uri } from '../src/core/keys/pkcs11-uri';
import { writeFileAtomic } from '../src/core/util/atomic-file';
import type { BoardSession } from '../src/core/workflows/board';

export const MATRIX_DOC = path.join(__dirname, '..', 'docs', 'bad-input-matrix.md');

interface Case {
  input: string;
  /** The board's state before the bad input (taken before the "untouched" digest). */
  setup?(ctx: Ctx): Promise<void>;
  run(ctx: Ctx): Promise<unknown>;
}

interface Ctx {
  dev: VirtualEsp32;
  dir: string;
  mac: string;
}

const K = fixtureKeys();

function file(ctx: Ctx, name: string, content: Uint8Array | string): string {
  const f = path.join(ctx.dir, name);
  fs.writeFileSync(f, content);
  return f;
}

/** Burns the case's board (recorded in `store`'s audit log when given; cancelled after `cutAfter` steps when given). */
async function burnWith(ctx: Ctx, over: Partial<BurnKeysInput>, confirm?: string, store?: KeyStore, cutAfter?: number): Promise<unknown> {
  const access = directAccess(ctx.dev.efuse);
  const input: BurnKeysInput = { target: { chip: 'ESP32', revision: 1, mac: ctx.mac }, flashKey: K.flashKey, secureBootKey: K.secureBootKey, hardening: false, history: [], ...over };
  const plan = planBurnKeys(await readEfuses(access), input);
  const ac = new AbortController();
  let started = 0;
  return executeBurnKeys(access, plan, {
    confirmMac: confirm ?? ctx.mac, flashKey: input.flashKey!, secureBootKey: input.secureBootKey!,
    ...(store ? { audit: new AuditLog(store.auditPath) } : {}),
    ...(cutAfter !== undefined ? { signal: ac.signal, onProgress: (m: string) => { if (m.startsWith('Burning: ') && ++started === cutAfter) ac.abort(); } } : {}),
  });
}

/** Makes the case's board one with the 3/4 eFuse coding scheme (CODING_SCHEME 1), as `sim serve --coding-scheme 3/4`. */
function threeFour(c: Ctx): void {
  c.dev.efuse.setRaw(withField(c.dev.efuse.rawWords(), field('CODING_SCHEME'), 1));
}

/** Runs `fn` on a board session over an in-memory link to the case's virtual board. */
async function onBoard<T>(c: Ctx, fn: (b: BoardSession) => Promise<T>): Promise<T> {
  const { host, device } = createMemoryPair('/dev/ttyACM0');
  c.dev.attach(device);
  c.dev.reset('download');
  await host.open();
  const conn = await connect(host, { reset: 'none', baud: 115200, clock: scaledClock(0.1), syncTimeoutMs: 2000 });
  try {
    return await fn({ transport: host, conn, chip: await identify(conn) });
  } finally {
    conn.loader.dispose();
  }
}

/** Burn Keys through the workflow the CLI and the editor run, on a key store in the case's folder. */
function burnKeysWith(c: Ctx, store: KeyStore): Promise<unknown> {
  return onBoard(c, (b) => burnKeys(b, { store, keys: () => ({ flashKey: K.flashKey, secureBootKey: K.secureBootKey }), hardening: false, showPlan: () => undefined }, scriptedUi()));
}

/** A plaintext partition table at 0x8000 checked against a board with encryption off and 8 MB of flash. */
function checkTable(c: Ctx, entries: PartitionEntry[]): Promise<unknown> {
  return checkPlan(planFromPairs([{ address: 0x8000, file: file(c, 'partitions.bin', writePartitionTable(entries)) }]), { chip: { flashEncryption: false, secureBoot: false, flashCryptConf: 0xf, flashSize: 0x800000 } });
}

const EIGHT_MB = layout('8MB').entries;

/** Keys burned (flash encryption on) and Pycom's 8 MB table on the board, encrypted with the fixture key. */
async function encryptedEightMb(c: Ctx): Promise<void> {
  await burnWith(c, {});
  c.dev.flash.program(0x8000, encryptFor(writePartitionTable(EIGHT_MB), 0x8000, K.flashKey));
}

/** 4 KiB of random-looking bytes (deterministic): no image, table or digest image at any address. */
const RND_4K = Buffer.concat(Array.from({ length: 128 }, (_, i) => createHash('sha256').update(`rnd4k ${i}`).digest()));

/** A board's own (per-device) flash key, other than the build key K.flashKey. */
const OWN_KEY = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);

/** A key store with the fixture keys and a secure build for `board` made with them, in the case's folder. */
function buildAndStore(c: Ctx, board: BoardId): { store: KeyStore; buildDir: string } {
  const store = new KeyStore(path.join(c.dir, 'secure'));
  store.ensureDir();
  fs.writeFileSync(store.signingKeyPath, K.signingKeyPem, { mode: 0o600 });
  fs.writeFileSync(store.sharedFlashKeyPath, K.flashKey, { mode: 0o600 });
  const buildDir = path.join(c.dir, 'build', board, 'release');
  writeSecureBuildDir(buildDir, board, { bootloader: fixtureBootloader(), app: fixtureApp(8 * 1024, 'matrix-app'), iv: FIXTURE_IV }, K);
  return { store, buildDir };
}

/** provision of the board's own MAC with a build for `built`, through a UI port that cannot ask. */
async function provisionWith(c: Ctx, built: BoardId, o: { board?: BoardId }): Promise<unknown> {
  const { store, buildDir } = buildAndStore(c, built);
  const { host, device } = createMemoryPair('/dev/ttyACM0');
  c.dev.attach(device);
  return provision({ ports: [{ port: '/dev/ttyACM0', reset: 'none', baud: 115200, transport: host }], store, buildDir, ...o, perDeviceKeys: true, hardening: false, approvedMacs: [c.mac], bootLog: false }, scriptedUi());
}

export const CASES: Case[] = [
  { input: 'Flash-encryption key file of the wrong length (16 bytes)', run: async (c) => readHardwareKeyFile(file(c, 'short.bin', new Uint8Array(16).fill(7)), 'flash-encryption') },
  { input: 'PEM signing key given as the flash-encryption key', run: async (c) => readHardwareKeyFile(file(c, 'key.pem', K.signingKeyPem), 'flash-encryption') },
  { input: 'Key file that does not exist', run: async (c) => readHardwareKeyFile(path.join(c.dir, 'missing.bin'), 'flash-encryption') },
  { input: 'Signing key file that is not a PEM key', run: async (c) => readSigningKeyFile(file(c, 'garbage.pem', 'hello\n')) },
  { input: 'Burn Keys: flash key of all zeros', run: (c) => burnWith(c, { flashKey: new Uint8Array(32) }) },
  { input: 'Burn Keys: the same file for both keys', run: (c) => burnWith(c, { secureBootKey: K.flashKey }) },
  { input: 'Burn Keys: the 64-byte public key as secure boot key', run: (c) => burnWith(c, { secureBootKey: new Uint8Array(64).map((_, i) => i + 1) }) },
  { input: 'Burn Keys: confirmation MAC of another board', run: (c) => burnWith(c, {}, '24:0a:c4:00:00:01') },
  { input: 'Burn Keys: chip is not an original ESP32', run: (c) => burnWith(c, { target: { chip: 'ESP32-S2', revision: 0, mac: c.mac } }) },
  { input: 'Burn Keys: unknown chip revision', run: (c) => burnWith(c, { target: { chip: 'ESP32', revision: 7, mac: c.mac } }) },
  { input: 'Image file that is not an ESP32 image', run: async () => readEspImage(new Uint8Array(64).fill(0x41), 'The app image') },
  { input: 'Image file that is a flash-encryption key (a 32-byte copy of flash_encryption_key.bin): no byte of it quoted', run: async () => readEspImage(K.flashKey, 'The app image') },
  { input: 'flash 0x10000 secure/flash_encryption_key.bin (a key file given as the file to flash)', run: async (c) => {
    const store = new KeyStore(path.join(c.dir, 'secure'));
    store.ensureDir();
    fs.writeFileSync(store.sharedFlashKeyPath, K.flashKey, { mode: 0o600 });
    // As the CLI does: the ADDR FILE pairs are read before the board is opened.
    const plan = planFromPairs([{ address: 0x10000, file: store.sharedFlashKeyPath }]);
    return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false }, scriptedUi()));
  } },
  { input: 'Partition table file of random bytes', run: async () => parsePartitionTable(new Uint8Array(3072).fill(0x11), 'the partition table') },
  { input: 'Build directory without secure outputs', run: async (c) => {
    const d = path.join(c.dir, 'build', 'GPY', 'release');
    fs.mkdirSync(d, { recursive: true });
    return findBuildOutputs(d);
  } },
  { input: 'Flash plan: an encrypted file but no flash-encryption key in the key store', run: async (c) => checkPlan(planFromPairs([{ address: 0x10001, file: file(c, 'app.bin', new Uint8Array(4096).fill(0xe9)) }]), { chip: { flashEncryption: false, secureBoot: false, flashCryptConf: 0xf } }) },
  { input: 'Flash plan: the plaintext secure bootloader digest at 0x0 on a board whose key blocks are empty', run: async (c) => {
    const digest = digestSecureBootloader(fixtureBootloader(), K.secureBootKey, FIXTURE_IV).output;
    return checkPlan(planFromPairs([{ address: 0x0, file: file(c, 'digest.bin', digest) }]), { chip: { flashEncryption: false, secureBoot: false, flashCryptConf: 0xf, emptyKeyBlocks: { blk1: true, blk2: true } } });
  } },
  { input: 'Flash with a key store that did not burn this board (read-protected keys, no burn record, erased flash, no --trust-key-store)',
    setup: async (c) => {
      await burnWith(c, {});
    },
    run: async (c) => {
      // Another workstation's store: another flash key, the same signing key, no audit log.
      const store = new KeyStore(path.join(c.dir, 'secure'));
      store.ensureDir();
      fs.writeFileSync(store.signingKeyPath, K.signingKeyPem);
      fs.writeFileSync(store.sharedFlashKeyPath, new Uint8Array(32).fill(0x5b));
      const plan = planFromPairs([{ address: 0x10000, file: file(c, 'app.bin_enc', new Uint8Array(4096).fill(0x11)) }]);
      return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false }, scriptedUi()));
    } },
  { input: 'Flash with a key store the board\'s flash contradicts (read-protected keys, the bootloader at 0x1000 written with another store\'s flash key; --trust-key-store given)',
    setup: async (c) => {
      await burnWith(c, {});
      // The store that burned the board flashed its bootloader (encrypted with its key).
      c.dev.flash.program(0x1000, encryptFor(fixtureBootloader(), 0x1000, K.flashKey));
    },
    run: async (c) => {
      // A mistyped key store path where new keys were generated: another flash key, the same signing key.
      const store = new KeyStore(path.join(c.dir, 'secrue'));
      store.ensureDir();
      fs.writeFileSync(store.signingKeyPath, K.signingKeyPem);
      fs.writeFileSync(store.sharedFlashKeyPath, new Uint8Array(32).fill(0x5b));
      const plan = planFromPairs([{ address: 0x10000, file: file(c, 'app.bin_enc', new Uint8Array(4096).fill(0x11)) }]);
      return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false, trustKeyStore: true }, scriptedUi()));
    } },
  { input: 'Flash with per-device keys after the board\'s own key file was moved away (the store\'s verified burn record names another flash key than the shared one it falls back to; --trust-key-store given)',
    setup: async (c) => {
      const store = new KeyStore(path.join(c.dir, 'secure'));
      store.ensureDir();
      fs.writeFileSync(store.signingKeyPath, K.signingKeyPem);
      fs.writeFileSync(store.sharedFlashKeyPath, new Uint8Array(32).fill(0x5b));
      // The board's own key (K.flashKey) was burned and recorded; its file is gone from devices/<MAC>/.
      fs.mkdirSync(path.dirname(store.deviceFlashKeyPath(c.mac)), { recursive: true });
      await burnWith(c, {}, undefined, store);
    },
    run: async (c) => {
      const store = new KeyStore(path.join(c.dir, 'secure'));
      const plan = planFromPairs([{ address: 0x10000, file: file(c, 'app.bin_enc', new Uint8Array(4096).fill(0x11)) }]);
      return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false, trustKeyStore: true }, scriptedUi()));
    } },
  { input: 'Flash after a Burn Keys run cut off after 5 of its 6 steps (ABS_DONE_0 not burned; --trust-key-store given)',
    setup: async (c) => {
      const store = new KeyStore(path.join(c.dir, 'secure'));
      store.ensureDir();
      fs.writeFileSync(store.signingKeyPath, K.signingKeyPem);
      fs.writeFileSync(store.sharedFlashKeyPath, K.flashKey);
      await burnWith(c, {}, undefined, store, 5).catch(() => undefined);
    },
    run: async (c) => {
      const store = new KeyStore(path.join(c.dir, 'secure'));
      const plan = planFromPairs([{ address: 0x10000, file: file(c, 'app.bin_enc', new Uint8Array(4096).fill(0x11)) }]);
      return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false, trustKeyStore: true }, scriptedUi()));
    } },
  { input: 'Burn Keys with a key store that did not burn this board (its keys read- and write-protected, burned from another key store; no record in this one)',
    setup: async (c) => {
      await burnWith(c, {});
    },
    run: async (c) => burnKeysWith(c, new KeyStore(path.join(c.dir, 'secrue'))) },
  { input: 'Burn Keys --keys-burned-elsewhere with a flash key the board\'s flash contradicts (its keys read- and write-protected, the bootloader at 0x1000 written with another flash key)',
    setup: async (c) => {
      await burnWith(c, {});
      c.dev.flash.program(0x1000, encryptFor(fixtureBootloader(), 0x1000, K.flashKey));
    },
    run: async (c) => {
      const store = new KeyStore(path.join(c.dir, 'secure'));
      const other = Uint8Array.from({ length: 32 }, (_, i) => (i * 29 + 0x5b) & 0xff);
      return onBoard(c, (b) => burnKeys(b, { store, keys: () => ({ flashKey: other, secureBootKey: K.secureBootKey }), hardening: false, keysBurnedElsewhere: true, showPlan: () => undefined }, scriptedUi()));
    } },
  { input: '--baud 0 (any rate not in the list this tool uses: 99999999, "fast")', run: async (c) => {
    const { host, device } = createMemoryPair('/dev/ttyACM0');
    c.dev.attach(device);
    return withBoard({ port: '/dev/ttyACM0', reset: 'none', baud: 0, transport: host }, scriptedUi(), async () => undefined);
  } },
  { input: 'Signing key PEM with text after its END line', run: async (c) => readSigningKeyFile(file(c, 'trailing.pem', K.signingKeyPem + 'appended by a broken copy\n')) },
  { input: 'Signing key PEM holding two key blocks', run: async (c) => readSigningKeyFile(file(c, 'two.pem', String(K.signingKeyPem) + String(K.signingKeyPem))) },
  { input: 'Burn Keys with the key store\'s audit.jsonl a symbolic link to a file outside the store', run: async (c) => {
    const store = new KeyStore(path.join(c.dir, 'secure'));
    store.ensureDir();
    fs.writeFileSync(path.join(c.dir, 'elsewhere.jsonl'), '');
    fs.symlinkSync(path.join(c.dir, 'elsewhere.jsonl'), store.auditPath);
    return burnKeysWith(c, store);
  } },
  { input: 'Burn Keys on a key store another process holds (another Burn Keys run on this machine)', run: async (c) => {
    const store = new KeyStore(path.join(c.dir, 'secure'));
    store.ensureDir();
    // Process 1 always runs: a live holder on this host.
    fs.writeFileSync(path.join(store.dir, LOCK_FILE), JSON.stringify({ pid: 1, host: os.hostname(), command: 'Burn Keys on 24:0a:c4:00:00:01', since: '2026-01-01T00:00:00.000Z' }));
    return burnKeysWith(c, store);
  } },
  { input: 'Partition table with overlapping app partitions (factory 0x10000 size 0x1B0000, ota_0 at 0x100000)', run: (c) =>
    checkTable(c, EIGHT_MB.map((e) => (e.label === 'factory' ? { ...e, size: 0x1b0000 } : e.label === 'ota_0' ? { ...e, offset: 0x100000 } : e))) },
  { input: 'Partition table whose last app partition ends past the 8 MB flash', run: (c) => checkTable(c, EIGHT_MB.map((e) => (e.label === 'ota_0' ? { ...e, size: 0x700000 } : e))) },
  { input: 'Partition table with an app partition not on a 64 KB boundary', run: (c) => checkTable(c, EIGHT_MB.map((e) => (e.label === 'ota_0' ? { ...e, offset: 0x211000 } : e))) },
  { input: 'Partition table with two partitions of one name', run: (c) => checkTable(c, EIGHT_MB.map((e) => (e.label === 'ota_0' ? { ...e, label: 'factory' } : e))) },
  { input: 'provision with a malformed MAC in --confirm-macs (24:0a:c4:12:34:zz)', run: async (c) => {
    const store = new KeyStore(path.join(c.dir, 'secure'));
    const { host, device } = createMemoryPair('/dev/ttyACM0');
    c.dev.attach(device);
    return provision({ ports: [{ port: '/dev/ttyACM0', reset: 'none', baud: 115200, transport: host }], store, buildDir: c.dir, perDeviceKeys: true, hardening: false, approvedMacs: ['24:0a:c4:12:34:zz'], bootLog: false }, scriptedUi());
  } },
  { input: 'provision --board LOPY4 with a GPy build (build/GPY/release)', run: async (c) => provisionWith(c, 'GPY', { board: 'LOPY4' }) },
  { input: 'provision without --board where it cannot ask "These boards are GPy modules?" (--json, no terminal)', run: async (c) => provisionWith(c, 'GPY', {}) },
  { input: 'Burn Keys on a board with the 3/4 eFuse coding scheme (192-bit key blocks)', setup: async (c) => threeFour(c), run: async (c) => burnKeysWith(c, new KeyStore(path.join(c.dir, 'secure'))) },
  { input: 'flash --build onto a 3/4-coding board whose 192-bit keys an older version of this tool burned', setup: async (c) => {
    threeFour(c);
    await burnWith(c, { flashKey: K.flashKey.subarray(0, 24), secureBootKey: digestPrivateKey(K.signingKey, 192) });
  }, run: async (c) => {
    const { store, buildDir } = buildAndStore(c, 'GPY');
    store.saveDeviceFlashKey(c.mac, K.flashKey.subarray(0, 24));
    return onBoard(c, (b) => flash(b, { store, trustKeyStore: true, plan: ({ flashKey, flashSize }) => boardPlanFromBuild(buildDir, { ...(flashKey ? { flashKey } : {}), ...(flashSize !== undefined ? { flashSize } : {}), buildKey: K.flashKey }).plan, bootLog: false }, scriptedUi()));
  } },
  { input: 'flash of a SiPy build (4 MB modules) onto an 8 MB board', run: async (c) => {
    const { store, buildDir } = buildAndStore(c, 'SIPY');
    return onBoard(c, (b) => flash(b, { store, plan: ({ flashKey, flashSize }) => boardPlanFromBuild(buildDir, { ...(flashKey ? { flashKey } : {}), ...(flashSize !== undefined ? { flashSize } : {}) }).plan, bootLog: false }, scriptedUi()));
  } },
  { input: 'flash --build of a GPy build whose lib/partitions_8MB.bin_enc was deleted (only the 4 MB table left), onto an 8 MB board', run: async (c) => {
    const { store, buildDir } = buildAndStore(c, 'GPY');
    fs.rmSync(path.join(buildDir, 'lib', 'partitions_8MB.bin_enc'));
    return onBoard(c, (b) => flash(b, { store, plan: ({ flashKey, flashSize }) => boardPlanFromBuild(buildDir, { ...(flashKey ? { flashKey } : {}), ...(flashSize !== undefined ? { flashSize } : {}) }).plan, bootLog: false }, scriptedUi()));
  } },
  { input: 'flash 0x8000 lib/partitions_4MB.bin_enc (the 4 MB table) onto an 8 MB board', run: async (c) => {
    const { store, buildDir } = buildAndStore(c, 'GPY');
    const plan = planFromPairs([{ address: 0x8000, file: path.join(buildDir, 'lib', 'partitions_4MB.bin_enc') }]);
    return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false }, scriptedUi()));
  } },
  { input: 'flash 0x9000 APP (a plaintext app image) where the board\'s partition table has no app partition (0x9000 is nvs)',
    setup: async (c) => {
      c.dev.flash.program(0x8000, writePartitionTable(EIGHT_MB));
    },
    run: async (c) => {
      const { store } = buildAndStore(c, 'GPY');
      const plan = planFromPairs([{ address: 0x9000, file: file(c, 'app.bin', fixtureApp(8 * 1024, 'matrix-app')) }]);
      return onBoard(c, (b) => flash(b, { store, plan: () => plan, bootLog: false }, scriptedUi()));
    } },
  { input: 'flash 0x9000 gpy.bin_enc (the build\'s app, encrypted for 0x10000) at nvs, on a board with flash encryption on',
    setup: encryptedEightMb,
    run: async (c) => {
      const { store, buildDir } = buildAndStore(c, 'GPY');
      const plan = planFromPairs([{ address: 0x9000, file: path.join(buildDir, 'gpy.bin_enc') }]);
      return onBoard(c, (b) => flash(b, { store, trustKeyStore: true, plan: () => plan, bootLog: false }, scriptedUi()));
    } },
  { input: 'flash 0x12000 FILE: 4 KiB into the middle of the factory app partition (0x10000-0x1FF000)',
    setup: encryptedEightMb,
    run: async (c) => {
      const { store } = buildAndStore(c, 'GPY');
      const plan = planFromPairs([{ address: 0x12000, file: file(c, 'rnd4k.bin', RND_4K) }]);
      return onBoard(c, (b) => flash(b, { store, trustKeyStore: true, plan: () => plan, bootLog: false }, scriptedUi()));
    } },
  { input: 'flash 0x200000 FILE: 4 KiB where the board\'s partition table has no partition and the firmware keeps nothing (8 MB GPy)',
    setup: encryptedEightMb,
    run: async (c) => {
      const { store } = buildAndStore(c, 'GPY');
      const plan = planFromPairs([{ address: 0x200000, file: file(c, 'rnd4k.bin', RND_4K) }]);
      return onBoard(c, (b) => flash(b, { store, trustKeyStore: true, plan: () => plan, bootLog: false }, scriptedUi()));
    } },
  { input: 'flash --build of a build whose app was cut off after the build (not whole 16-byte blocks), on a board with its own key',
    setup: async (c) => {
      await burnWith(c, { flashKey: OWN_KEY });
    },
    run: async (c) => {
      const { store, buildDir } = buildAndStore(c, 'GPY');
      store.saveDeviceFlashKey(c.mac, OWN_KEY);
      const app = path.join(buildDir, 'gpy.bin_enc');
      fs.writeFileSync(app, fs.readFileSync(app).subarray(0, -13));
      return onBoard(c, (b) => flash(b, { store, trustKeyStore: true, plan: ({ flashKey, flashSize }) => boardPlanFromBuild(buildDir, { ...(flashKey ? { flashKey } : {}), buildKey: K.flashKey, ...(flashSize !== undefined ? { flashSize } : {}) }).plan, bootLog: false }, scriptedUi()));
    } },
  { input: 'A pkcs11: signing key URI holding the PIN (pin-value=...)', run: async () => parsePkcs11Uri('pkcs11:token=t;object=o?pin-value=123456') },
  { input: 'An output path that is a key (sign-data, encrypt-flash-data, ota-image --output or sim reset-state --state naming secure/flash_encryption_key.bin)', run: async (c) => {
    const store = new KeyStore(path.join(c.dir, 'secure'));
    store.ensureDir();
    fs.writeFileSync(store.sharedFlashKeyPath, K.flashKey, { mode: 0o600 });
    let refusal: unknown;
    try {
      // Every command's output goes through this one write path.
      writeFileAtomic(store.sharedFlashKeyPath, new Uint8Array(64), { what: 'output file' });
    } catch (e) {
      refusal = e;
    }
    if (!fs.readFileSync(store.sharedFlashKeyPath).equals(K.flashKey)) throw new Error('the key file was changed');
    if (refusal) throw refusal;
  } },
  { input: 'ota-image on a key store with per-device keys, naming no board (neither --mac nor --port)', run: async (c) => {
    const store = new KeyStore(path.join(c.dir, 'secure'));
    fs.mkdirSync(path.dirname(store.deviceFlashKeyPath(c.mac)), { recursive: true, mode: 0o700 });
    fs.writeFileSync(store.sharedFlashKeyPath, K.flashKey, { mode: 0o600 });
    fs.writeFileSync(store.deviceFlashKeyPath(c.mac), new Uint8Array(32).fill(7), { mode: 0o600 });
    const output = path.join(c.dir, 'ota.bin');
    const refused = await otaImage({ store, buildDir: c.dir, board: 'GPY', slot: 0x210000, output }).then(() => undefined, (e: unknown) => e);
    if (fs.existsSync(output)) throw new Error('an image was written');
    if (refused) throw refused;
  } },
  { input: 'flash of a WiPy build on a board the key store\'s records say is a GPy (its provision record; no --override-module-evidence)',
    setup: async (c) => {
      await burnWith(c, {});
    },
    run: async (c) => {
      const { store, buildDir } = buildAndStore(c, 'WIPY');
      new BoardRecordWriter(store.auditPath, 'provision', c.mac, () => [], { board: 'GPY' }).end('ok');
      return onBoard(c, (b) => flash(b, { store, plan: () => planFromBuild(findBuildOutputs(buildDir, { flashKey: K.flashKey }), { flashSize: 0x800000 }), bootLog: false, trustKeyStore: true }, scriptedUi()));
    } },
  { input: 'ota-image of a WiPy build for a board whose firmware\'s banner says "GPy with ESP32" (no --override-module-evidence)', run: async (c) => {
    const { store, buildDir } = buildAndStore(c, 'WIPY');
    const output = path.join(c.dir, 'ota.bin');
    const banner = 'Pycom MicroPython 1.20.2.r4 [v1.11-ffb0e1c] on 2021-01-12; GPy with ESP32\r\n>>> ';
    const refused = await otaImage({ store, buildDir, board: 'WIPY', boardName: 'the board on /dev/ttyACM0', slot: async () => ({ slot: 0x210000, banner }), output }).then(() => undefined, (e: unknown) => e);
    if (fs.existsSync(output)) throw new Error('an image was written');
    if (refused) throw refused;
  } },
  { input: '--port socket:// of another machine without --allow-remote', run: async () => transportFromUrl('socket://192.0.2.1:3333') },
  { input: 'Board running its firmware, not in download mode (no answer to SYNC)', run: async (c) => {
    // A board that ignores the reset lines and stays silent: modelled as a board without power.
    c.dev.powerOff();
    const { host, device } = createMemoryPair('/dev/ttyACM0');
    c.dev.attach(device);
    await host.open();
    return connect(host, { reset: 'none', baud: 115200, clock: scaledClock(0.1), syncTimeoutMs: 100 });
  } },
];

function boardDigest(dev: VirtualEsp32): string {
  return createHash('sha256').update(JSON.stringify(dev.efuse.rawWords())).update(dev.flash.read(0, dev.flash.size)).digest('hex');
}

export interface Row {
  input: string;
  message: string;
  unchanged: boolean;
}

export async function runMatrix(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const c of CASES) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'matrix-'));
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'matrix' });
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    if (c.setup) await c.setup({ dev, dir, mac });
    const before = boardDigest(dev);
    let message: string;
    try {
      await c.run({ dev, dir, mac });
      message = '(accepted: NOT a refusal)';
    } catch (e) {
      message = isUserError(e) ? `${e.code}: ${e.message}` : `(not a UserError) ${String(e)}`;
    }
    // Audit run ids and their times differ on every run: shown as placeholders, like the folder.
    const stable = message.split(dir).join('<dir>').replace(/\b\d{17}-[0-9a-f]{8}\b/g, '<run id>').replace(/(\(|started )\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '$1<time>');
    rows.push({ input: c.input, message: stable, unchanged: boardDigest(dev) === before });
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}

function renderTable(rows: readonly Row[]): string[] {
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  return [
    '| Bad input | What the user is told | Board untouched (nothing written or burned) |',
    '|---|---|---|',
    ...rows.map((r) => `| ${esc(r.input)} | ${esc(r.message)} | ${r.unchanged ? 'yes' : 'NO'} |`),
  ];
}

export function renderMatrix(rows: readonly Row[]): string {
  return [
    '# Bad-input matrix',
    '',
    'Generated by `npx tsx scripts/bad-input-matrix.ts` from runs against a virtual GPy; `test/unit/bad-input-matrix.test.ts` fails if this file differs from what the runs produce. "Board untouched" compares every eFuse bit and every flash byte before and after. Bad CLI arguments and files are covered command by command in `test/unit/security-errors.test.ts` and `security-review-atomic.test.ts` (message checked, no output or temp file left).',
    '',
    ...renderTable(rows),
    '',
  ].join('\n');
}

if (require.main === module) {
  void runMatrix().then((rows) => {
    fs.writeFileSync(MATRIX_DOC, renderMatrix(rows));
    console.log(`wrote ${MATRIX_DOC} (${rows.length} rows)`);
  });
}
