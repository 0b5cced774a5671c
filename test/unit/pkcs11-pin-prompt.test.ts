import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { makeToken, USER_PIN, type SoftHsmToken } from './helpers/softhsm';
import { tmpDir } from './flash-harness';
import { bundleCli } from './vectors/cli-harness';
import { verifySignedData } from '../../src/core/crypto/signature';

/**
 * The token PIN typed at a real terminal: the CLI runs under util-linux `script`, which gives it a
 * pseudo-terminal, with no PYCOM_PKCS11_PIN. It must ask once, not echo what is typed, sign with the
 * token's key, and say a wrong PIN is wrong without writing anything.
 */

const ROOT = path.join(__dirname, '..', '..');
const URI = 'pkcs11:token=pycom;object=pin-prompt';

/** Runs `argv` of the CLI under a pseudo-terminal, typing `typed` once the PIN question shows. */
function onTerminal(bin: string, argv: string[], env: NodeJS.ProcessEnv, typed: string): Promise<{ code: number | null; screen: string }> {
  const quote = (a: string): string => `'${a.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, bin, ...argv].map(quote).join(' ');
  return new Promise((resolve, reject) => {
    const p = spawn('script', ['-qec', command, '/dev/null'], { env: { ...env, TERM: 'dumb' }, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let sent = false;
    const seen = (d: Buffer): void => {
      screen += d.toString('latin1');
      if (!sent && screen.includes('(not shown): ')) {
        sent = true;
        p.stdin.write(`${typed}\r`);
      }
    };
    p.stdout.on('data', seen);
    p.stderr.on('data', seen);
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.on('error', reject);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, screen });
    });
  });
}

describe('the token PIN asked at the terminal (no PYCOM_PKCS11_PIN)', function () {
  this.timeout(120_000);
  let token: SoftHsmToken;
  let BIN: string;
  let dir: string;
  let pub: Buffer;
  const savedNodePath = process.env.NODE_PATH;

  before(async () => {
    const which = spawnSync('script', ['--version'], { encoding: 'utf8' });
    if (which.error) throw new Error('util-linux `script` is missing (Debian package bsdutils); it gives the CLI a terminal in this test.');
    token = makeToken();
    dir = tmpDir('pin-prompt-');
    await bundleCli(dir);
    BIN = path.join(dir, 'pycom-secure.js');
    fs.writeFileSync(BIN, "require('./cli.js').main();\n");
    process.env.NODE_PATH = path.join(ROOT, 'node_modules');
    const env = token.env({ PYCOM_PKCS11_PIN: USER_PIN, NODE_PATH: process.env.NODE_PATH });
    const gen = spawnSync(process.execPath, [BIN, 'generate-signing-key', URI, '--key-store', path.join(dir, 'secure')], { env, encoding: 'utf8' });
    assert.equal(gen.status, 0, gen.stdout + gen.stderr);
    const ex = spawnSync(process.execPath, [BIN, 'extract-public-key', '--keyfile', URI, path.join(dir, 'pub.bin')], { env, encoding: 'utf8' });
    assert.equal(ex.status, 0, ex.stdout + ex.stderr);
    pub = fs.readFileSync(path.join(dir, 'pub.bin'));
    fs.writeFileSync(path.join(dir, 'data.bin'), Buffer.alloc(4096, 0x5a));
  });
  after(() => {
    token?.remove();
    if (savedNodePath === undefined) delete process.env.NODE_PATH;
    else process.env.NODE_PATH = savedNodePath;
  });

  const env = (): NodeJS.ProcessEnv => {
    const e = token.env({ NODE_PATH: path.join(ROOT, 'node_modules') });
    delete e.PYCOM_PKCS11_PIN;
    return e;
  };

  it('asks once, does not echo the PIN, and signs with the token key', async () => {
    const out = path.join(dir, 'signed.bin');
    const r = await onTerminal(BIN, ['sign-data', '--keyfile', URI, '--output', out, path.join(dir, 'data.bin')], env(), USER_PIN);
    assert.equal(r.code, 0, r.screen);
    assert.equal(r.screen.split('(not shown): ').length - 1, 1, `asked once:\n${r.screen}`);
    assert.match(r.screen, /User PIN of token "pycom"/);
    assert.ok(!r.screen.includes(USER_PIN), `the PIN was echoed or printed:\n${r.screen}`);
    assert.ok(verifySignedData(fs.readFileSync(out), pub), 'signed by the token key');
  });

  it('a wrong PIN is refused in one sentence and no output is written', async () => {
    const out = path.join(dir, 'not-signed.bin');
    const r = await onTerminal(BIN, ['sign-data', '--keyfile', URI, '--output', out, path.join(dir, 'data.bin')], env(), '000000');
    assert.notEqual(r.code, 0, r.screen);
    assert.match(r.screen, /PIN/);
    assert.ok(!r.screen.includes('000000'), `the typed PIN was echoed or printed:\n${r.screen}`);
    assert.equal(fs.existsSync(out), false, 'no signature written');
  });
});
