import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleCli, ROOT } from './vectors/cli-harness';

/**
 * Issue 3 acceptance with real processes: `pycom-secure sim serve` in one process, `pycom-secure
 * device info --port socket://127.0.0.1:PORT` in another, as a user runs them in two terminals.
 * The built launcher (bin/pycom-secure.js → dist/cli.js) is used when the build exists (the README's
 * test command builds first); otherwise a fresh bundle of the same sources stands in for it.
 */
function launcher(): { argv: string[]; env: NodeJS.ProcessEnv } | Promise<{ argv: string[]; env: NodeJS.ProcessEnv }> {
  if (fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) return { argv: [path.join(ROOT, 'bin', 'pycom-secure.js')], env: process.env };
  return bundleCli(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-bundle-'))).then((bundle) => ({
    argv: ['-e', 'require(process.argv[1]).main()', bundle],
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
  }));
}

describe('CLI processes: sim serve + device info over socket://', () => {
  let server: ChildProcessWithoutNullStreams | undefined;
  let cmd: { argv: string[]; env: NodeJS.ProcessEnv };

  before(async () => {
    cmd = await launcher();
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await gone;
    }
  });

  it('device info shows the served virtual GPy\'s identity and security state', async () => {
    server = spawn(process.execPath, [...cmd.argv, 'sim', 'serve', '--port', '0', '--profile', 'GPY', '--seed', 'cli-process'], { env: cmd.env });
    const port = await new Promise<number>((resolve, reject) => {
      let text = '';
      let errText = '';
      server!.stderr.on('data', (d: Buffer) => (errText += d.toString()));
      server!.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
        if (m) resolve(Number(m[1]));
      });
      server!.once('exit', (code) => reject(new Error(`sim serve exited with ${code}: ${errText}`)));
    });

    const r = spawnSync(process.execPath, [...cmd.argv, 'device', 'info', '--port', `socket://127.0.0.1:${port}`], { env: cmd.env, encoding: 'utf8', timeout: 15000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^Chip: +ESP32/m);
    assert.match(r.stdout, /^MAC: +([0-9a-f]{2}:){5}[0-9a-f]{2} \(CRC 0x[0-9a-f]{2} OK\)/m);
    assert.match(r.stdout, /^Flash: +manufacturer c8, device 4017, 8MB$/m);
    assert.match(r.stdout, /^Flash encryption: off \(FLASH_CRYPT_CNT 0x0, 3 plaintext reflash\(es\) left/m);
    assert.match(r.stdout, /^Secure boot v1: +off/m);
    assert.match(r.stdout, /^Flash key \(BLK1\): empty/m);
    assert.match(r.stdout, /^Boot key \(BLK2\): +empty/m);

    // The served board keeps its state across connections: a second run sees the same chip.
    const again = spawnSync(process.execPath, [...cmd.argv, 'device', 'info', '--port', `socket://127.0.0.1:${port}`, '--json'], { env: cmd.env, encoding: 'utf8', timeout: 15000 });
    assert.equal(again.status, 0, again.stderr);
    const mac = /^MAC: +(\S+)/m.exec(r.stdout)![1];
    assert.equal((JSON.parse(again.stdout) as { mac: { address: string } }).mac.address, mac);
    // The flash id in JEDEC order, as esptool's flash_id prints it (Manufacturer: c8, Device: 4017).
    const flash = (JSON.parse(again.stdout) as { flash: Record<string, unknown> }).flash;
    assert.deepEqual([flash['id'], flash['manufacturer'], flash['device'], flash['manufacturerHex'], flash['deviceHex']], [0xc84017, 0xc8, 0x4017, 'c8', '4017']);
  });
});
