import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { burnKeys, withBoard, scriptedUi, KeyStore, digestPrivateKey, readSigningKeyFile, readHardwareKeyFile, type UiPort } from '../../src/core';
import { randomBytes } from 'node:crypto';
import { encodeSec1Pem, generateSigningKey } from '../../src/core/crypto/signing-key';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer } from '../../src/core/virtual/tcp-server';
import { writePlan, type FlashIo } from '../../src/core/flash/writer';
import { planFromBuild, type FlashPlan } from '../../src/core/flash/plan';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { fixtureStore, secureBuild } from './flash-harness';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { planBurnKeys } from '../../src/core/efuse/burn/burn-keys';
import { executeBurnKeys } from '../../src/core/efuse/burn/execute';
import { AuditLog } from '../../src/core/audit/audit-log';
import { fingerprint } from '../../src/core/util/fingerprint';
import { macDirName } from '../../src/core/keystore/key-store';
import { createMemoryPair } from '../../src/core/transport/memory';
import { provision, provisionSummary } from '../../src/core/workflows/provision';
import { keyFileToReadWords } from '../../src/core/crypto/efuse-key-layout';
import { partlyWrittenCause } from '../../src/core/flash/partly-written';
import { fail } from '../../src/core/connect/messages';

/**
 * A link that goes mid-run (the board unplugged, `sim serve` killed) ends with the link's sentence
 * AND what the cut-off run left and how to finish it, as Ctrl-C does: a flash names the region left
 * incomplete, a burn says some steps may be burned and that the same command resumes it.
 */
describe('a link cut mid-run says what the run left and how to finish it', () => {
  it('flash: the region being written is named, marked incomplete, and the same command finishes it (code unchanged)', async () => {
    const data = Buffer.alloc(0x20000, 0x5a);
    const plan = { regions: [{ address: 0x10000, file: '/b/gpy.bin_enc', data, encrypted: true, role: 'app' }] } as unknown as FlashPlan;
    const io: FlashIo = {
      async write(_a, _d, o) {
        o.onBytes?.(0x400);
        throw fail('E_LINK_CLOSED', { port: 'socket://127.0.0.1:1' });
      },
      md5: async () => '',
      read: async () => new Uint8Array(0),
    };
    await assert.rejects(writePlan(plan, io), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_LINK_CLOSED');
      assert.match(e.message, /^The link to socket:\/\/127\.0\.0\.1:1 closed while waiting for the chip: .* The flash was cut off while writing gpy\.bin_enc at 0x10000: that region is marked incomplete and the board may not boot until it is finished; once the board is back, run the same command again to finish it \(the region is written again in full\)\.$/);
      return true;
    });
  });

  it('burn: the server killed after the first burned step: E_LINK_CLOSED saying steps may be burned and the same command resumes', async function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'link-cut-'));
    const store = new KeyStore(path.join(dir, 'secure'));
    store.ensureDir();
    fs.writeFileSync(store.signingKeyPath, encodeSec1Pem(generateSigningKey()), { mode: 0o600 });
    fs.writeFileSync(store.sharedFlashKeyPath, randomBytes(32), { mode: 0o600 });
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'link-cut-burn' });
    const server = await startSimServer(dev, { port: 0 });
    const url = `socket://127.0.0.1:${server.port}`;
    const keys = () => ({ flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'), secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), 256) });
    let cut = false;
    const ui: UiPort = {
      ...scriptedUi(),
      // After the first step is burned, the board goes (as a pulled cable would).
      task: (_t, fn) => fn((m) => {
        if (!cut && m.startsWith('Burning: ')) {
          cut = true;
          void server.close();
        }
      }, new AbortController().signal),
    };
    try {
      await assert.rejects(withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), (b) => burnKeys(b, { store, keys, hardening: false, showPlan: () => undefined }, ui)), (e: Error & { code?: string }) => {
        assert.ok(cut, 'the link was cut during the burn');
        assert.match(e.code ?? '', /^E_LINK_CLOSED$|^E_NO_DATA$|^E_STREAM_STOPPED$|^E_TCP_CONNECT$/, `${e.code}: ${e.message}`);
        assert.match(e.message, / The burn was cut off: some eFuse steps may be burned and others not; once the board is back, run the same command again \(steps already burned are verified, not burned again\)\.$/);
        return true;
      });
    } finally {
      await server.close().catch(() => undefined);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a build missing a file: the file named, and the build command that makes it', () => {
  it('the app or the digest image deleted: E_PLAN_INCOMPLETE names the file and `pycom-secure build --board GPY`', () => {
    for (const [file, what] of [['gpy.bin_enc', /the app \(gpy\.bin_enc\)/], ['bootloader/bootloader-reflash-digest.bin_enc', /the bootloader digest image \(bootloader\/bootloader-reflash-digest\.bin_enc\)/]] as const) {
      const dir = secureBuild('GPY', 16 * 1024, `missing-${file.replace(/\W/g, '-')}`);
      fs.rmSync(path.join(dir, file));
      assert.throws(() => planFromBuild(findBuildOutputs(dir), { flashSize: 0x800000 }), (e: Error & { code?: string }) => {
        assert.equal(e.code, 'E_PLAN_INCOMPLETE');
        assert.match(e.message, what);
        assert.match(e.message, /; build again with `pycom-secure build --board GPY` \(its default target makes the bootloader and the app; the editor: Build Secure Firmware\); nothing was written\.$/);
        return true;
      });
    }
  });
});

describe('fourth trial: key lengths and a region cut off during its erase', () => {
  it('a secure boot key for Burn Keys is refused by the lengths Burn Keys takes (32 or 24), the same sentence for 64 and 16 bytes', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sbk-len-'));
    for (const n of [64, 16]) {
      const f = path.join(dir, `k${n}.bin`);
      fs.writeFileSync(f, Buffer.alloc(n, 7));
      assert.throws(() => readHardwareKeyFile(f, 'secure-boot'), (e: Error & { code?: string }) => e.code === 'E_KEY_LENGTH' && e.message.includes(`holds ${n} bytes but must hold 32 bytes (or 24 for the 3/4 coding scheme);`) && !/128-bit/.test(e.message));
    }
    // espsecure's digest still takes a 128-bit key.
    assert.equal(readHardwareKeyFile(path.join(dir, 'k16.bin'), 'digest').length, 16);
  });

  it('a region cut off before its first block (during the erase) is said so, not "0 of N bytes"', () => {
    assert.equal(partlyWrittenCause({ address: 0x10000, length: 24672, written: 0, source: 'journal' } as never, 'the app'), 'the app at 0x10000 was only partly written (an interrupted flash: cut off before any of its 24672 bytes was written, during its erase)');
    assert.equal(partlyWrittenCause({ address: 0x10000, length: 24672, written: 4096, source: 'journal' } as never, 'the app'), 'the app at 0x10000 was only partly written (an interrupted flash: 4096 of 24672 bytes)');
  });
});

describe('fifth trial: provision on a board whose BLOCK1 holds another key', () => {
  it('the board fails with E_KEY_BLOCK_USED, and the summary does not tell the user to run the same command again', async () => {
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'trial5-block1-used' });
    // BLOCK1 already holds another key, readable (burned by something else, never protected).
    const raw = dev.efuse.rawWords();
    raw[1] = keyFileToReadWords(new Uint8Array(32).fill(9), { reverse: true, coding: 'none' });
    dev.efuse.setRaw(raw);
    const efuses = JSON.stringify(dev.efuse.rawWords());
    const { host, device } = createMemoryPair('/dev/ttyACM0');
    dev.attach(device);
    dev.reset('download');
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const store = fixtureStore();
    const out = await provision({ ports: [{ port: '/dev/ttyACM0', reset: 'none', baud: 115200, transport: host }], store, buildDir: secureBuild('GPY', 16 * 1024, 'trial5-block1'), board: 'GPY', perDeviceKeys: false, hardening: false, approvedMacs: [mac], bootLog: false }, scriptedUi());
    assert.equal(out.ok, false);
    assert.equal(out.boards[0]!.state, 'failed');
    assert.match(out.boards[0]!.message ?? '', /BLOCK1 already holds a different key/);
    assert.equal(out.boards[0]!.rerunResumes, false);
    const summary = provisionSummary(out, store.auditPath, { rerun: 'run the same command again', givePort: { one: 'give its port with --port', many: 'give their ports with --port' } });
    assert.match(summary, /need what their message says first \(running again alone does not fix them\)/);
    assert.doesNotMatch(summary, /run the same command again to resume/);
    assert.equal(JSON.stringify(dev.efuse.rawWords()), efuses, 'nothing burned');
  });
});

describe('fifth trial: a dry run checks --confirm', () => {
  it('efuse burn-keys --dry-run --confirm <another MAC> fails as the real run would (E_NOT_CONFIRMED); the right MAC passes; nothing burned', async function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dry-confirm-'));
    const store = new KeyStore(path.join(dir, 'secure'));
    store.ensureDir();
    fs.writeFileSync(store.signingKeyPath, encodeSec1Pem(generateSigningKey()), { mode: 0o600 });
    fs.writeFileSync(store.sharedFlashKeyPath, randomBytes(32), { mode: 0o600 });
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'dry-confirm' });
    const server = await startSimServer(dev, { port: 0 });
    const url = `socket://127.0.0.1:${server.port}`;
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const keys = () => ({ flashKey: readHardwareKeyFile(store.sharedFlashKeyPath, 'flash-encryption'), secureBootKey: digestPrivateKey(readSigningKeyFile(store.signingKeyPath), 256) });
    const efuses = JSON.stringify(dev.efuse.rawWords());
    const run = (confirm: string) => withBoard({ port: url, reset: 'auto', baud: 115200 }, scriptedUi(), (b) => burnKeys(b, { store, keys, hardening: false, dryRun: true, confirm, showPlan: () => undefined }, scriptedUi()));
    try {
      await assert.rejects(run('00:11:22:33:44:55'), (e: Error & { code?: string }) => e.code === 'E_NOT_CONFIRMED');
      assert.equal((await run(mac)).kind, 'dry-run');
      assert.equal(JSON.stringify(dev.efuse.rawWords()), efuses, 'nothing burned');
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('fifth trial: provision --per-device-keys on a board whose own key file is gone', () => {
  it('names the key the store\'s record says was burned and says to restore it from the backup (not "without --per-device-keys"); nothing burned', async () => {
    const own = Uint8Array.from({ length: 32 }, (_, i) => (i * 53 + 0x39) & 0xff);
    // The fixture build's keys: the store's shared key is the build key.
    const store = fixtureStore();
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'trial5-prov-own' });
    const access = directAccess(dev.efuse);
    const mac = Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
    const sbk = digestPrivateKey(readSigningKeyFile(store.signingKeyPath), 256);
    const plan = planBurnKeys(await readEfuses(access), { target: { chip: 'ESP32', revision: dev.chipRevision, mac }, flashKey: own, secureBootKey: sbk, hardening: false, history: [] });
    await executeBurnKeys(access, plan, { confirmMac: mac, flashKey: own, secureBootKey: sbk, audit: new AuditLog(store.auditPath) });
    // The board's own key file is not in devices/<MAC>/ (moved away, lost).
    const efuses = JSON.stringify(dev.efuse.rawWords());
    const { host, device } = createMemoryPair('/dev/ttyACM0');
    dev.attach(device);
    dev.reset('download');
    const out = await provision({ ports: [{ port: '/dev/ttyACM0', reset: 'none', baud: 115200, transport: host }], store, buildDir: secureBuild('GPY', 16 * 1024, 'trial5-prov-own'), board: 'GPY', perDeviceKeys: true, hardening: false, approvedMacs: [mac], bootLog: false }, scriptedUi());
    assert.equal(out.ok, false);
    const msg = out.boards[0]!.message ?? '';
    assert.match(msg, new RegExp(`already has a flash-encryption key in BLOCK1: the verified Burn Keys run \\S+ in this key store burned its own key ${fingerprint(own)} there, and devices/${macDirName(mac)}/flash_encryption_key\\.bin is missing; restore that key from your backup`));
    assert.doesNotMatch(msg, /without --per-device-keys/);
    assert.equal(JSON.stringify(dev.efuse.rawWords()), efuses, 'nothing burned');
  });
});
