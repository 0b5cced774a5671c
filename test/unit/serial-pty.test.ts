import { strict as assert } from 'node:assert';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { SerialTransport } from '../../src/core/transport/serial';
import type { DeviceEndpoint, Transport, Unsubscribe } from '../../src/core/transport/transport';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { connect } from '../../src/core/connect/connect';
import { identify } from '../../src/core/chip/identify';
import { instantSleepClock } from '../../src/core/loader/clock';

/**
 * The device's side of a pty, opened through serialport too: bytes only. A pty has no
 * modem lines wired to anything, so the virtual chip never sees line events (like TCP).
 */
function endpointOver(t: Transport): DeviceEndpoint {
  const none = (): Unsubscribe => () => undefined;
  return {
    write: (d) => void t.write(d).catch(() => undefined),
    onData: (fn) => t.onData(fn),
    onSignals: none,
    onBaud: none,
    onDataBits: none,
    onClose: (fn) => t.onClose(() => fn()),
    close: () => void t.close(),
  };
}

const hasSocat = spawnSync('socat', ['-V']).status === 0;

describe('serial transport over a socat pty pair (real serialport binding)', function () {
  let socat: ChildProcess | undefined;
  let ptys: string[] = [];

  before(async function () {
    // socat is installed by scripts/setup.sh; without it this suite cannot run at all.
    assert.ok(hasSocat, 'socat is missing: run scripts/setup.sh (Debian package "socat")');
    socat = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    ptys = await new Promise<string[]>((resolve, reject) => {
      let text = '';
      const timer = setTimeout(() => reject(new Error(`socat did not report its ptys: ${text}`)), 15000);
      socat!.stderr!.on('data', (d: Buffer) => {
        text += d.toString();
        const found = [...text.matchAll(/PTY is (\S+)/g)].map((m) => m[1]!);
        if (found.length >= 2) {
          clearTimeout(timer);
          resolve(found.slice(0, 2));
        }
      });
      socat!.once('exit', (c) => reject(new Error(`socat exited (${c}): ${text}`)));
    });
  });

  after(() => {
    if (socat && socat.exitCode === null) socat.kill();
  });

  it('runs device info end to end against a virtual GPy', async () => {
    const deviceSide = new SerialTransport(ptys[0]!);
    const host = new SerialTransport(ptys[1]!);
    await deviceSide.open();
    const dev = new VirtualEsp32({ profile: 'GPY', seed: 'pty' });
    dev.attach(endpointOver(deviceSide));
    dev.reset('download');
    try {
      await host.open();
      // A pty has DTR/RTS ioctls but nothing behind them: manual (none) entry, like a jumpered P2.
      const conn = await connect(host, { reset: 'none', baud: 230400, clock: instantSleepClock, syncTimeoutMs: 2000 });
      const info = await identify(conn);
      assert.equal(info.chip, 'ESP32');
      assert.equal(info.mac.crcOk, true);
      assert.equal(info.security.flashEncryption.enabled, false);
      assert.ok(info.flash.responding);
      conn.loader.dispose();
    } finally {
      await host.close();
      await deviceSide.close();
    }
  });

  it('maps a missing port to E_PORT_NOT_FOUND', async () => {
    const t = new SerialTransport('/dev/ttyDOES_NOT_EXIST9');
    await assert.rejects(t.open(), (e: Error & { code?: string }) => e.code === 'E_PORT_NOT_FOUND');
  });
});
