import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * Issue 17: every command in the README's shell blocks (```sh / ```bash) is either run here, in
 * the README's order, against a virtual board, or listed in NOT_RUN with the reason it cannot run
 * in a test. A README command that is neither fails the test, so the README cannot drift from
 * what the product does.
 *
 * How the commands run: `pycom-secure …` is the built launcher bin/pycom-secure.js (what `npm link`
 * puts on PATH; build it first with `node scripts/build.mjs`), with HOME a temporary folder (so
 * `~/…` lands there) and the key store wherever the command names it. Placeholders are substituted:
 * the `PORT` of `socket://127.0.0.1:PORT` with the port the README's own `sim serve … &` printed,
 * a real serial port such as /dev/ttyACM0 with that same socket:// URL (the virtual board stands
 * in for a real one), and the `MAC` of `--confirm MAC` with the MAC the board showed in an earlier
 * command's output (device info, the dry run's plan). `cd DIR` and `export NAME=VALUE …` change the folder and environment of the commands after
 * them, as in a shell.
 */

const root = path.join(__dirname, '..', '..');
const launcher = path.join(root, 'bin', 'pycom-secure.js');

/** Commands a test cannot run, each with the reason (matched against the whole command line). */
const NOT_RUN: { command: RegExp; reason: string }[] = [
  { command: /^code --install-extension \S+\.vsix$/, reason: 'installs into desktop VS Code, which a test machine does not have; the e2e suite installs the same .vsix into code-server (scripts/code-server.sh) and test/e2e/vsix.e2e.ts checks its contents' },
  { command: /^npm run setup$/, reason: 'installs Debian packages with apt-get when root; npm test runs it first, and test/fresh runs it from an empty HOME' },
  { command: /^npm link$/, reason: "changes the machine's global npm prefix; it puts bin/pycom-secure.js on PATH, which is what this test runs" },
  { command: /^npm start$/, reason: 'starts code-server and stays up until stopped; scripts/test-e2e.sh walks the same editor in a real browser' },
  { command: /^npm test$/, reason: 'runs every test, this one included' },
];

/** What each run command must print (stdout, then stderr), besides exiting 0: one entry per command the README runs. */
const SANE: { command: RegExp; output: RegExp }[] = [
  { command: /^pycom-secure device info /, output: /Chip:\s+ESP32-D0WDQ6[\s\S]*MAC:\s+([0-9a-f]{2}:){5}[0-9a-f]{2}[\s\S]*Secure boot v1:\s+off/ },
  { command: /^pycom-secure generate-signing-key /, output: /Wrote an ECDSA NIST P-256 signing key to .* \(public key fingerprint [0-9a-f]{16}\)\./ },
  { command: /^pycom-secure generate-flash-encryption-key /, output: /Wrote a 256-bit flash encryption key to .* \(fingerprint [0-9a-f]{16}\)\./ },
  { command: /^pycom-secure efuse burn-keys .*--dry-run$/, output: /Enable secure boot v1 \(ABS_DONE_0\)[\s\S]*Dry run: nothing was burned\./ },
  { command: /^pycom-secure efuse burn-keys .*--confirm \S+$/, output: /Done: 6 step\(s\) burned and verified; both keys protected, flash encryption and secure boot on\./ },
  { command: /^pycom-secure efuse summary /, output: /FLASH_CRYPT_CNT \(BLOCK0\)[^\n]*= 1 R\/W[\s\S]*ABS_DONE_0 \(BLOCK0\)[^\n]*= True/ },
  { command: /^pycom-secure build /, output: /make exited with 0: 0 error\(s\)[\s\S]*Outputs \(in .*build\/GPY\/release\): .*gpy\.bin_enc/ },
  { command: /^pycom-secure flash /, output: /The board booted: (Pycom MicroPython \S+|Loaded app from partition at offset 0x10000)/ },
  { command: /^pycom-secure predict-boot /, output: /WILL BOOT\. The app at 0x10000 starts\./ },
  { command: /^pycom-secure monitor /, output: /Loaded app from partition at offset 0x10000/ },
  { command: /^pycom-secure ota-image /, output: /^(?=[\s\S]*The board says its next OTA slot is 0x210000\.)(?=[\s\S]*Wrote ota\.bin: \d+ bytes for slot 0x210000)/ },
];

/** The README's shell commands, one per logical line (backslash continuations joined, comments and blank lines dropped). */
function readmeShellCommands(readme: string): string[] {
  const out: string[] = [];
  const blocks = readme.matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```$/gm);
  for (const b of blocks) {
    const text = b[1]!.replace(/\\\n\s*/g, ' ');
    for (const line of text.split('\n')) {
      const cmd = line.replace(/\s+#.*$/, '').replace(/^#.*$/, '').trim();
      if (cmd) out.push(cmd);
    }
  }
  return out;
}

function waitForListening(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let text = '';
    const onData = (d: Buffer): void => {
      text += d.toString('utf8');
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`sim serve exited (${code}) before listening: ${text}`)));
  });
}

describe('README: every shell command is run against a virtual board, or listed with the reason it cannot be', function () {
  this.timeout(120_000);
  const commands = readmeShellCommands(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
  let home: string;
  let sim: ChildProcess | undefined;

  before(function () {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'readme-home-'));
    if (!fs.existsSync(path.join(root, 'dist', 'cli.js'))) assert.fail('dist/cli.js is missing: run node scripts/build.mjs first');
  });
  after(async () => {
    // sim serve saves its state (in the folder's .pycom/) as it exits: wait for that before removing the folder.
    if (sim && sim.exitCode === null && sim.signalCode === null) {
      const exited = new Promise((r) => sim!.once('exit', r));
      sim.kill();
      await exited;
    }
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('finds the README shell blocks, and each command is either run or listed', () => {
    assert.ok(commands.length >= 10, `only ${commands.length} commands found in the README's shell blocks`);
    const handled = (c: string): boolean =>
      NOT_RUN.some((n) => n.command.test(c)) || /^cd \S+$/.test(c) || /^export /.test(c) || /^pycom-secure sim serve .*&$/.test(c) || /^npm run sample-firmware -- \S+$/.test(c) || SANE.some((s) => s.command.test(c));
    const stray = commands.filter((c) => !handled(c));
    assert.deepEqual(stray, [], 'README commands that this test neither runs nor lists in NOT_RUN (add them to one of the two)');
    for (const n of NOT_RUN) assert.ok(commands.some((c) => n.command.test(c)), `NOT_RUN lists ${n.command}, which the README no longer has; remove it`);
  });

  it('runs the README commands in order: each exits 0 and prints what it should', async () => {
    let cwd = home;
    const env: NodeJS.ProcessEnv = { ...process.env, HOME: home };
    let url = '';
    let mac = '';
    const expand = (word: string): string =>
      word
        .replace(/^~(?=\/|$)/, home)
        .replace(/\$PWD/g, cwd)
        .replace(/\$PATH/g, env.PATH ?? '')
        .replace(/^socket:\/\/127\.0\.0\.1:PORT$/, url)
        .replace(/^\/dev\/tty(ACM|USB)\d+$|^COM\d+$/, url);
    let ran = 0;
    for (const command of commands) {
      if (NOT_RUN.some((n) => n.command.test(command))) continue;
      const words = command.replace(/\s*&$/, '').split(/\s+/).map(expand);
      if (words[0] === 'cd') {
        cwd = path.resolve(cwd, words[1]!);
        continue;
      }
      if (words[0] === 'export') {
        for (const kv of words.slice(1)) {
          const i = kv.indexOf('=');
          env[kv.slice(0, i)] = kv.slice(i + 1);
        }
        continue;
      }
      if (words[0] === 'npm') {
        // `npm run sample-firmware -- DIR` is scripts/sample-firmware.sh: setup (npm packages, the
        // build; slow, and run by sample-firmware.test.ts), then cs_workspace makes the tree. Here
        // only the second part runs, which makes the same tree.
        assert.deepEqual(words.slice(0, 4), ['npm', 'run', 'sample-firmware', '--']);
        const dir = words[4]!;
        const r = spawnSync('bash', ['-c', 'source scripts/code-server.sh && cs_workspace "$1" "" && rm -rf "$1/.vscode"', 'sample-firmware', dir], { cwd: root, encoding: 'utf8' });
        assert.equal(r.status, 0, r.stderr);
        assert.ok(fs.existsSync(path.join(dir, 'firmware', 'pycom-micropython-sigfox', 'esp32', 'Makefile')), `${command}: no firmware tree in ${dir}`);
        ran++;
        continue;
      }
      assert.equal(words[0], 'pycom-secure', command);
      const args = words.slice(1);
      if (args[0] === 'sim' && args[1] === 'serve') {
        sim = spawn(process.execPath, [launcher, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
        url = `socket://127.0.0.1:${await waitForListening(sim)}`;
        ran++;
        continue;
      }
      const confirm = args.indexOf('--confirm');
      if (confirm >= 0 && args[confirm + 1] === 'MAC') {
        assert.ok(mac, `${command}: no MAC was shown before it`);
        args[confirm + 1] = mac;
      }
      const r = spawnSync(process.execPath, [launcher, ...args], { cwd, env, encoding: 'utf8' });
      const out = r.stdout + r.stderr;
      assert.equal(r.status, 0, `${command}\nexited ${r.status}:\n${out}`);
      const sane = SANE.find((s) => s.command.test(command));
      assert.ok(sane, command);
      assert.match(out, sane.output, `${command}\nprinted:\n${out}`);
      mac ||= /MAC:\s+(([0-9a-f]{2}:){5}[0-9a-f]{2})/.exec(out)?.[1] ?? '';
      ran++;
    }
    assert.ok(ran >= 12, `only ${ran} commands ran`);
    // The keys the README generated are the user's: 0600, in the folder it named.
    const store = path.join(home, 'pycom-rehearsal', 'secure');
    for (const f of ['secure_boot_signing_key.pem', 'flash_encryption_key.bin']) assert.equal(fs.statSync(path.join(store, f)).mode & 0o777, 0o600, f);
  });
});
