/**
 * Fuzz targets: every parser that reads outside input. Each target draws inputs (random bytes,
 * and mutations of a valid input, which reach deeper than noise) and feeds them to the parser.
 * The contract checked for all of them: it returns, or it rejects with a UserError (or the typed
 * { ok: false, error } of the webview protocol) whose message is a clear sentence; never another
 * exception, never a hang. The unit suite runs a fixed budget; `npm run fuzz` a longer one.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { isUserError } from '../../src/core/errors';
import { SlipDecoder, slipEncode } from '../../src/core/rom/slip';
import { decodeRequest, decodeResponse, encodeResponse } from '../../src/core/rom/packet';
import { readEspImage } from '../../src/core/image/esp-image';
import { parsePartitionTable, validatePartitionTable, writePartitionTable } from '../../src/core/partition/table';
import { parsePartitionCsv, formatPartitionCsv } from '../../src/core/partition/csv';
import { layout } from '../../src/core/boards/catalog';
import { parsePem } from '../../src/core/crypto/pem';
import { parseSigningKey, parseVerifyingKey, encodeSec1Pem } from '../../src/core/crypto/signing-key';
import { readHardwareKeyFile, readSigningKeyFile } from '../../src/core/keys/key-files';
import { decodeEfuses } from '../../src/core/efuse/decode';
import { dumpText } from '../../src/core/efuse/dump';
import { summaryText } from '../../src/core/efuse/summary';
import { readAudit } from '../../src/core/audit/audit-log';
import { findBuildOutputs } from '../../src/core/firmware/outputs';
import { rawReplExec, type ReplLink } from '../../src/core/ota/raw-repl';
import type { Clock } from '../../src/core/loader/clock';
import { parseWebviewMessage } from '../../webview/src/protocol';
import { fixtureApp, fixtureKeys } from '../../scripts/make-fixture-firmware';

/**
 * The raw-REPL client's clock for fuzzing: the settle pause is skipped and a timeout fires on the
 * next turn of the event loop, after the scripted replies already queued (setImmediate is FIFO), so
 * a silent board costs microseconds and every input gets the same share of the budget.
 */
const immediateClock: Clock = {
  sleep: () => Promise.resolve(),
  timer: (_ms, fn) => {
    const t = setImmediate(fn);
    return () => clearImmediate(t);
  },
};

export interface FuzzTarget {
  name: string;
  /** Inputs are expensive for some targets (files): they get a fraction of the budget. */
  weight: number;
  property(): fc.IPropertyWithHooks<unknown[]> | fc.IAsyncPropertyWithHooks<unknown[]>;
}

/** Whether a thrown value is an acceptable rejection; returns the problem otherwise. */
export function rejectionProblem(e: unknown): string | undefined {
  if (!isUserError(e)) return `threw ${e instanceof Error ? `${e.name}: ${e.message}\n${e.stack}` : String(e)}`;
  return messageProblem(e.message);
}

export function messageProblem(m: string): string | undefined {
  if (m.length < 15) return `message too short: ${JSON.stringify(m)}`;
  if (m.length > 2000) return `message of ${m.length} characters`;
  if (/\bundefined\b|\bNaN\b|\[object Object\]/.test(m)) return `message leaks an internal value: ${m}`;
  if (!/[.)!:\]"]$/.test(m.trim()) && !/^[a-z]/.test(m)) return `message is not a sentence: ${m}`;
  return undefined;
}

function expectClean(fn: () => unknown): void {
  try {
    fn();
  } catch (e) {
    const p = rejectionProblem(e);
    if (p) throw new Error(p);
  }
}

async function expectCleanAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const p = rejectionProblem(e);
    if (p) throw new Error(p);
  }
}

/** A valid input with random bytes overwritten, inserted or cut: reaches past the first check. */
function mutated(valid: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.record({
    edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  }).map(({ edits, cut }) => {
    const b = new Uint8Array(valid);
    for (const [i, v] of edits) b[i % b.length] = v;
    return cut === undefined ? b : b.subarray(0, cut % (b.length + 1));
  });
}

const bytes = (max = 512): fc.Arbitrary<Uint8Array> => fc.uint8Array({ maxLength: max });

let tmp: string | undefined;
function tmpDir(): string {
  tmp ??= fs.mkdtempSync(path.join(os.tmpdir(), 'fuzz-'));
  return tmp;
}
let fileN = 0;
function tmpFile(content: Uint8Array | string, name = 'input'): string {
  const f = path.join(tmpDir(), `${fileN++}-${name}`);
  fs.writeFileSync(f, content);
  return f;
}
export function cleanupFuzzFiles(): void {
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
}

const KEYS = fixtureKeys();
const VALID_IMAGE = fixtureApp(2048, 'fuzz');
const VALID_TABLE = new Uint8Array(writePartitionTable(layout('8MB').entries, { md5: true }));
const VALID_PEM = Buffer.from(encodeSec1Pem(KEYS.signingKey));

export const TARGETS: FuzzTarget[] = [
  {
    name: 'SLIP decoder (chunks of any bytes; buffers stay bounded)',
    weight: 1,
    property: () => fc.property(fc.array(fc.oneof(bytes(600), bytes(40).map((b) => slipEncode(b))), { maxLength: 40 }), (chunks) => {
      const d = new SlipDecoder({ maxFrame: 1024, maxNoise: 256 });
      for (const c of chunks) {
        for (const ev of d.push(Buffer.from(c))) {
          if (ev.kind === 'frame' && ev.data.length > 1024) throw new Error(`frame of ${ev.data.length} bytes passed the 1024 limit`);
        }
        if (d.peekNoise().length > 256) throw new Error('noise buffer grew past its limit');
      }
    }),
  },
  {
    name: 'ROM reply/request parser',
    weight: 1,
    property: () => fc.property(fc.oneof(bytes(80), fc.tuple(fc.integer({ min: 0, max: 255 }), fc.nat(), bytes(40)).map(([op, v, d]) => mutated(new Uint8Array(encodeResponse(op, v >>> 0, d)))).chain((a) => a)), (b) => {
      const buf = Buffer.from(b);
      expectClean(() => decodeResponse(buf));
      const r = decodeRequest(buf);
      if ('error' in r && typeof r.error !== 'string') throw new Error('request rejection without a message');
    }),
  },
  {
    name: 'ESP32 image reader',
    weight: 1,
    property: () => fc.property(fc.oneof(bytes(300), mutated(VALID_IMAGE)), (b) => expectClean(() => readEspImage(b, 'The fuzzed image'))),
  },
  {
    name: 'partition table reader (binary and CSV)',
    weight: 1,
    property: () => fc.property(fc.oneof(bytes(400), mutated(VALID_TABLE)), fc.string({ maxLength: 300 }), (b, csv) => {
      expectClean(() => validatePartitionTable(parsePartitionTable(b, 'the fuzzed table'), 'the fuzzed table', 0x800000));
      expectClean(() => parsePartitionCsv(csv));
      expectClean(() => parsePartitionCsv(formatPartitionCsv(layout('4MB').entries).replace(/0x/g, csv.slice(0, 3) || '0x')));
    }),
  },
  {
    name: 'PEM / signing-key / verifying-key / hardware-key readers',
    weight: 0.3,
    property: () => fc.property(fc.oneof(bytes(300), mutated(VALID_PEM), fc.string({ maxLength: 300 }).map((s) => Buffer.from(`-----BEGIN EC PRIVATE KEY-----\n${s}\n-----END EC PRIVATE KEY-----\n`))), (b) => {
      expectClean(() => parsePem(Buffer.from(b).toString('latin1')));
      expectClean(() => parseSigningKey(b, 'fuzzed.pem'));
      expectClean(() => parseVerifyingKey(b, 'fuzzed.pem'));
      const f = tmpFile(b, 'key.bin');
      expectClean(() => readHardwareKeyFile(f, 'flash-encryption'));
      expectClean(() => readSigningKeyFile(f));
    }),
  },
  {
    name: 'eFuse dump decoder (and the summary/dump renderers)',
    weight: 1,
    property: () => fc.property(fc.tuple(fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 7, maxLength: 7 }), ...[1, 2, 3].map(() => fc.array(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 8, maxLength: 8 }))), fc.integer({ min: 0, max: 0xfff }), (words, decStatus) => {
      expectClean(() => {
        const dec = decodeEfuses({ words: words as number[][], decStatus });
        summaryText(dec, 0);
        dumpText(dec);
      });
    }),
  },
  {
    name: 'audit log reader (any text, torn lines)',
    weight: 0.3,
    property: () => fc.property(fc.array(fc.oneof(fc.string({ maxLength: 80 }), fc.constant('{"id":"x","phase":"intent"}'), fc.jsonValue().map((v) => JSON.stringify(v))), { maxLength: 12 }), (lines) => {
      const f = tmpFile(lines.join('\n'), 'audit.jsonl');
      const r = readAudit(f);
      if (r.records.length + r.damaged.length > lines.length) throw new Error('more records than lines');
    }),
  },
  {
    name: 'build-output classifier (any file names and contents in a build dir)',
    weight: 0.1,
    property: () => fc.property(fc.array(fc.tuple(fc.constantFrom('bootloader.bin', 'bootloader-reflash-digest.bin_enc', 'gpy.bin_enc', 'gpy.bin_enc_0x10000', 'lib/partitions_8MB.bin_enc', 'partitions.bin', 'x<b>.bin', 'wipy.bin_enc'), bytes(200)), { maxLength: 5 }), (files) => {
      const dir = path.join(tmpDir(), `build-${fileN++}`, 'GPY', 'release');
      fs.mkdirSync(path.join(dir, 'lib'), { recursive: true });
      for (const [n, b] of files) fs.writeFileSync(path.join(dir, n), b);
      expectClean(() => findBuildOutputs(dir, { flashKey: KEYS.flashKey }));
    }),
  },
  {
    name: 'raw-REPL reply parser (scripted board replies)',
    weight: 1,
    property: () => fc.asyncProperty(fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.constantFrom('raw REPL; CTRL-B to exit\r\n>', 'OK', '\x04', '\x04>', 'Traceback')), { maxLength: 8 }), async (replies) => {
      let listener: ((c: Buffer) => void) | undefined;
      let i = 0;
      const link: ReplLink = {
        write: async () => {
          const r = replies[i++];
          if (r !== undefined) setImmediate(() => listener?.(Buffer.from(r, 'latin1')));
        },
        onData: (fn) => {
          listener = fn;
          return () => (listener = undefined);
        },
      };
      await expectCleanAsync(() => rawReplExec(link, 'print(1)', { timeoutMs: 30, clock: immediateClock }));
    }),
  },
  {
    name: 'webview message handler (any JSON value)',
    weight: 1,
    property: () => fc.property(fc.oneof(fc.jsonValue(), fc.record({ type: fc.oneof(fc.constantFrom('ready', 'refreshEfuses', 'cancelFlash', 'tabChanged', '__proto__'), fc.string()), tab: fc.jsonValue() }, { requiredKeys: [] }), fc.anything()), (v) => {
      const r = parseWebviewMessage(v);
      if (!r.ok) {
        // The handler quotes the offending value (JSON), so a missing field reads "undefined" there.
        const p = messageProblem(r.error.replace(/: undefined$/, ': (missing)'));
        if (p) throw new Error(p);
      }
    }),
  },
];

/** Runs every target with `numRuns` (scaled by weight); returns per-target counts. */
export async function runFuzz(numRuns: number, seed: number, log: (line: string) => void = () => undefined): Promise<Array<{ name: string; runs: number; ms: number; heapMb: number }>> {
  const out = [];
  try {
    for (const t of TARGETS) {
      const runs = Math.max(5, Math.round(numRuns * t.weight));
      const t0 = Date.now();
      await fc.assert(t.property(), { numRuns: runs, seed, endOnFailure: true });
      const heapMb = process.memoryUsage().heapUsed / 1e6;
      out.push({ name: t.name, runs, ms: Date.now() - t0, heapMb });
      log(`${t.name}: ${runs} inputs, ${Date.now() - t0} ms, heap ${heapMb.toFixed(0)} MB`);
    }
  } finally {
    cleanupFuzzFiles();
  }
  return out;
}
