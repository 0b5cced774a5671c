import { spawnSync } from 'node:child_process';
import { createCipheriv } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { decryptFlashData, encryptFlashData } from '../src/core/crypto/flash-encryption';
import { digestSecureBootloader } from '../src/core/crypto/bootloader-digest';
import { generateSigningKey } from '../src/core/crypto/signing-key';
import { signData } from '../src/core/crypto/signature';
import { type BenchModule, type BenchResult, median, timeMs } from './bench';

const SIZE = 4 * 1024 * 1024;
const RUNS = 7;
const ROOT = path.join(__dirname, '..');

/** Reproducible pseudo-random bytes (AES-CTR keystream of a fixed key). */
function pseudoRandom(n: number, seed: number): Buffer {
  const key = Buffer.alloc(32, seed);
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** A structurally valid ESP32 image of about `n` bytes: one segment, checksum, no hash. */
function esp32Image(n: number): Buffer {
  const segLen = n - 24 - 8 - 16;
  const img = Buffer.alloc(24 + 8 + segLen + 16, 0);
  img[0] = 0xe9;
  img[1] = 1;
  img.writeUInt32LE(0x40080000, 4);
  img.writeUInt32LE(0x40080000, 24);
  img.writeUInt32LE(segLen, 28);
  pseudoRandom(segLen, 3).copy(img, 32);
  let cs = 0xef;
  for (let i = 32; i < 32 + segLen; i++) cs ^= img[i]!;
  const end = 32 + segLen;
  const csAt = end + ((15 - (end % 16)) % 16);
  img[csAt] = cs;
  return img.subarray(0, csAt + 1);
}

const mbps = (bytes: number, ms: number): number => bytes / 1e6 / (ms / 1000);

export const cryptoBench: BenchModule = {
  name: 'crypto (4 MiB pseudo-random image)',
  async run(): Promise<BenchResult[]> {
    const img = pseudoRandom(SIZE, 1);
    const key = pseudoRandom(32, 2);
    const p = { key, address: 0x10000, flashCryptConf: 0xf };
    const enc = encryptFlashData(img, p);
    const encMs = await timeMs(RUNS, () => encryptFlashData(img, p));
    // decryptFlashData keeps its last few large results (a flash run decrypts its app more than
    // once): each round gets ciphertext it has not seen (one byte changed), so this is the cost of
    // a first decryption, the SHA-256 of the lookup included.
    let round = 0;
    const decMs = await timeMs(RUNS, () => {
      const c = enc.slice();
      c[round % c.length] ^= ++round & 0xff || 1;
      return decryptFlashData(c, p);
    });
    const signingKey = generateSigningKey();
    const signMs = await timeMs(RUNS, () => signData(img, signingKey));
    const iv = pseudoRandom(128, 4);
    const bigImage = esp32Image(SIZE);
    const smallImage = esp32Image(28 * 1024);
    const digestBigMs = await timeMs(RUNS, () => digestSecureBootloader(bigImage, key, iv));
    const digestSmallMs = await timeMs(RUNS, () => digestSecureBootloader(smallImage, key, iv));

    const results: BenchResult[] = [
      { name: 'encrypt-flash-data core, CONF 0xF (time)', value: encMs, unit: 'ms', target: 100 },
      { name: 'encrypt-flash-data core, CONF 0xF (throughput)', value: mbps(SIZE, encMs), unit: 'MB/s', higherIsBetter: true },
      { name: 'decrypt-flash-data core, CONF 0xF (time)', value: decMs, unit: 'ms', target: 100 },
      { name: 'decrypt-flash-data core, CONF 0xF (throughput)', value: mbps(SIZE, decMs), unit: 'MB/s', higherIsBetter: true },
      { name: 'sign-data v1 of 4 MiB (incl. SHA-256 and back-verify)', value: signMs, unit: 'ms' },
      { name: 'digest-secure-bootloader of a 4 MiB image', value: digestBigMs, unit: 'ms' },
      { name: 'digest-secure-bootloader of a 28 KiB bootloader', value: digestSmallMs, unit: 'ms' },
    ];
    results.push(...processBench(img, key));
    return results;
  },
};

/** The whole `pycom-secure encrypt-flash-data` process: start-up, read, encrypt, atomic write. */
function processBench(img: Buffer, key: Buffer): BenchResult[] {
  const bin = path.join(ROOT, 'bin', 'pycom-secure.js');
  if (!fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) {
    console.log('  (dist/cli.js missing: run `npm run bench`, which builds first; process timing skipped)');
    return [];
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-bench-'));
  try {
    fs.writeFileSync(path.join(dir, 'img.bin'), img);
    fs.writeFileSync(path.join(dir, 'key.bin'), key);
    const times: number[] = [];
    for (let i = 0; i < 6; i++) {
      const out = path.join(dir, `out${i}.bin`);
      const t = performance.now();
      const r = spawnSync(process.execPath, [bin, 'encrypt-flash-data', '--keyfile', path.join(dir, 'key.bin'), '--address', '0x10000', '--output', out, path.join(dir, 'img.bin')]);
      const ms = performance.now() - t;
      if (r.status !== 0) throw new Error(`encrypt-flash-data failed: ${r.stderr.toString()}`);
      if (i > 0) times.push(ms);
    }
    return [{ name: 'whole `node bin/pycom-secure.js encrypt-flash-data` process, 4 MiB', value: median(times), unit: 'ms', target: 340 }];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
