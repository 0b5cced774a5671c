import { strict as assert } from 'node:assert';
import { spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cliLauncher, serveSimProcess } from './helpers/sim-process';

/**
 * Issue 3 acceptance with real processes: `pycom-secure sim serve` in one process, `pycom-secure
 * device info --port socket://127.0.0.1:PORT` in another, as a user runs them in two terminals.
 */

describe('CLI processes: sim serve + device info over socket://', () => {
  let server: ChildProcessWithoutNullStreams | undefined;
  let cmd: { argv: string[]; env: NodeJS.ProcessEnv };

  before(async () => {
    cmd = await cliLauncher();
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await gone;
    }
  });

  it('device info shows the served virtual GPy\'s identity and security state', async () => {
    let port: number;
    ({ server, port } = await serveSimProcess(cmd, ['--profile', 'GPY', '--seed', 'cli-process']));

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

describe('CLI process: stdout closed by its reader', () => {
  it('a reader that goes away (`| head -1`) ends the output quietly: no EPIPE stack trace, the command runs to its end and exits 0', async () => {
    const { spawn } = await import('node:child_process');
    const cmd = await cliLauncher();
    const f = 'test/fixtures/firmware/pycom-micropython-sigfox/esp32/prepared/bootloader.bin';
    for (let i = 0; i < 3; i++) {
      const child = spawn(process.execPath, [...cmd.argv, 'image-info', f], { env: cmd.env, stdio: ['ignore', 'pipe', 'pipe'] });
      // The reader is gone before the first line: every write of the command meets a closed pipe.
      child.stdout.destroy();
      let err = '';
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      const code = await new Promise<number | null>((r) => child.once('exit', r));
      assert.doesNotMatch(err, /EPIPE|Unhandled 'error' event/, err);
      assert.equal(code, 0, err);
    }
  });
});
