import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createPrivateKey } from 'node:crypto';
import { loadManifest, fixture, sha256, type Vector } from './vectors/manifest';
import { bundleCli, cli, cliProcess, type CliResult } from './vectors/cli-harness';
import { translate } from './vectors/translate';
import { checkEfuseLayout } from './vectors/efuse-check';
import { parseSigningKey } from '../../src/core/crypto/signing-key';

/**
 * Every vector espsecure/espefuse v4.12.0 produced, replayed through the pycom-secure CLI (its
 * exact recorded arguments, with v4 spellings) and checked the way its `check` kind says.
 */

const manifest = loadManifest();
const counts = new Map<string, number>();
const SEC1_PREFIX = Buffer.from('30770201010420', 'hex');
const P256_OID_PARAM = Buffer.from('a00a06082a8648ce3d030107a144034200', 'hex');

function expectSuccess(v: Vector, r: CliResult): void {
  assert.equal(r.code, 0, `${v.id}: exit ${r.code}: ${r.stderr.join(' | ')}`);
}

function checkFormatOnly(v: Vector, out: Buffer, outPath: string): void {
  assert.equal(out.length, v.output!.size, `${v.id}: size`);
  assert.equal(fs.statSync(outPath).mode & 0o777, 0o600, `${v.id}: key files are 0600`);
  if (v.operation !== 'generate_signing_key') return;
  const text = out.toString('latin1');
  const lines = text.split('\n');
  assert.deepEqual(lines.map((l) => l.length), [30, 64, 64, 36, 28, 0], `${v.id}: PEM line layout`);
  assert.equal(lines[0], '-----BEGIN EC PRIVATE KEY-----');
  const der = Buffer.from(lines.slice(1, 4).join(''), 'base64');
  assert.equal(der.length, 121);
  assert.ok(der.subarray(0, 7).equals(SEC1_PREFIX), `${v.id}: SEC1 header`);
  assert.ok(der.subarray(39, 56).equals(P256_OID_PARAM), `${v.id}: named curve and public key tags`);
  assert.equal(der[56], 0x04);
  parseSigningKey(out, outPath);
  assert.equal(createPrivateKey(text).asymmetricKeyDetails?.namedCurve, 'prime256v1');
}

async function runVector(v: Vector, tmp: string): Promise<void> {
  if (v.check === 'efuse_layout') {
    checkEfuseLayout(v);
    return;
  }
  const t = translate(v, tmp);
  const before = t.outPath && fs.existsSync(t.outPath) ? fs.readFileSync(t.outPath) : undefined;
  const r = await cli(t.argv);
  const out = (): Buffer => fs.readFileSync(t.outPath!);
  switch (v.check) {
    case 'output_sha256_equal':
      expectSuccess(v, r);
      assert.equal(out().length, v.output!.size, `${v.id}: size`);
      assert.equal(sha256(out()), v.output!.sha256, `${v.id}: sha256`);
      break;
    case 'prefix_sha256_equal': {
      expectSuccess(v, r);
      const o = out();
      assert.equal(o.length, v.output!.size, `${v.id}: size`);
      assert.equal(sha256(o.subarray(0, v.deterministic_prefix_len)), v.deterministic_prefix_sha256, `${v.id}: prefix sha256`);
      break;
    }
    case 'verify_ok':
      expectSuccess(v, r);
      assert.match(r.stdout.join('\n'), /Signature is valid/);
      break;
    case 'verify_fail':
      assert.equal(r.code, 2, `${v.id}: exit code`);
      assert.match(r.stderr.join('\n'), /Signature is not valid/);
      break;
    case 'error_expected':
      assert.equal(r.code, v.exit_code ?? 2, `${v.id}: exit code`);
      assert.equal(r.stderr.length, 1, `${v.id}: one line on stderr`);
      if (t.outPath) {
        if (before) assert.ok(fs.readFileSync(t.outPath).equals(before), `${v.id}: existing file untouched`);
        else assert.ok(!fs.existsSync(t.outPath), `${v.id}: no output left behind`);
      }
      break;
    case 'format_only':
      expectSuccess(v, r);
      checkFormatOnly(v, out(), t.outPath!);
      break;
    case 'roundtrip_equal':
      expectSuccess(v, r);
      assert.ok(out().equals(fixture(v.original_input!)), `${v.id}: decrypt(encrypt(x)) = x`);
      break;
    case 'roundtrip_prefix_equal': {
      expectSuccess(v, r);
      const o = out();
      const n = v.roundtrip_prefix_len!;
      assert.equal(o.length, v.inputs[1]!.size, `${v.id}: length`);
      assert.ok(o.subarray(0, n).equals(fixture(v.original_input!).subarray(0, n)), `${v.id}: prefix`);
      break;
    }
    default:
      assert.fail(`${v.id}: unknown check kind ${v.check}`);
  }
}

describe('espsecure/espefuse vectors (through the CLI)', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-vec-'));
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));
  after(() => {
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`\n  vectors checked: ${total} — ${[...counts].map(([k, n]) => `${k}: ${n}`).join(', ')}`);
  });

  it('the manifest holds 85 vectors, every check kind known', () => {
    assert.equal(manifest.vectors.length, 85);
    for (const v of manifest.vectors) assert.ok(v.check in manifest.check_kinds, v.id);
  });

  for (const v of manifest.vectors) {
    it(`${v.id} (${v.check})`, async () => {
      await runVector(v, tmp);
      counts.set(v.check, (counts.get(v.check) ?? 0) + 1);
    });
  }

  describe('a few through the bundled CLI as a child process', () => {
    let bundleDir: string;
    let bundle: string;
    before(async function () {
      this.timeout(60000);
      bundleDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-cli-'));
      bundle = await bundleCli(bundleDir);
    });
    after(() => fs.rmSync(bundleDir, { recursive: true, force: true }));
    const ids = ['img_4096_0x8010_confF_encrypt', 'img_4096_verify_raw64', 'encrypt_rejects_unaligned_address', 'img_4096_verify_tampered'];
    for (const id of ids) {
      it(id, () => {
        const v = manifest.vectors.find((x) => x.id === id)!;
        const t = translate(v, tmp);
        const r = cliProcess(bundle, t.argv);
        if (v.check === 'output_sha256_equal') {
          assert.equal(r.code, 0, r.stderr.join('\n'));
          assert.equal(sha256(fs.readFileSync(t.outPath!)), v.output!.sha256);
        } else if (v.check === 'verify_ok') {
          assert.equal(r.code, 0, r.stderr.join('\n'));
          assert.match(r.stdout.join('\n'), /Signature is valid/);
        } else {
          assert.equal(r.code, 2);
          assert.equal(r.stderr.length, 1);
          if (t.outPath) assert.ok(!fs.existsSync(t.outPath));
        }
      });
    }
  });
});
