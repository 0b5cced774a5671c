import { settings } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { isLoopbackHost, transportFromUrl } from '../../src/core';
import { withDevice } from '../../src/extension/device';
import { readSettings } from '../../src/extension/settings';

/**
 * Issue 18 point 7: the ROM protocol is neither encrypted nor authenticated, so a socket:// board on
 * another machine is refused unless the user says they mean it (--allow-remote, or the machine
 * setting pycom.allowRemoteSocket in the editor).
 */
describe('socket:// boards on other machines', function () {
  this.timeout(60_000);

  it('loopback hosts are this machine; any other address or name is not', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', 'LOCALHOST', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['10.0.0.5', '192.0.2.1', '0.0.0.0', 'example.com', 'localhost.example.com', '::ffff:10.0.0.1', 'fe80::1', '2001:db8::1']) assert.equal(isLoopbackHost(h), false, h);
  });

  it('the core refuses a remote socket:// URL with one sentence unless allowed, before any connection', () => {
    assert.throws(() => transportFromUrl('socket://192.0.2.1:3333'), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'E_REMOTE_SOCKET');
      assert.equal(e.message, 'socket://192.0.2.1:3333 is not on this machine, and over socket:// Burn Keys would send the key words (and flashing the firmware) across the network in clear, to whoever answers there; use a board on this machine (socket://127.0.0.1:PORT), or pass --allow-remote if you mean to reach that board over a network you trust.');
      return true;
    });
    assert.ok(transportFromUrl('socket://192.0.2.1:3333', undefined, { allowRemote: true }));
    assert.ok(transportFromUrl('socket://localhost:3333'));
  });

  it('the CLI: efuse burn-keys --port socket://<remote> is refused (exit 2, nothing written); --allow-remote lets it try', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remote-'));
    try {
      const key = path.join(dir, 'k.bin');
      assert.equal((await cli(['generate-flash-encryption-key', key])).code, 0);
      const ks = path.join(dir, 'store');
      const r = await cli(['efuse', 'burn-keys', '--port', 'socket://192.0.2.1:3333', '--flash-key', key, '--secure-boot-key', key, '--key-store', ks, '--confirm', '24:0a:c4:00:00:01']);
      assert.equal(r.code, 2, r.err);
      assert.equal(r.err, 'pycom-secure efuse burn-keys: socket://192.0.2.1:3333 is not on this machine, and over socket:// Burn Keys would send the key words (and flashing the firmware) across the network in clear, to whoever answers there; use a board on this machine (socket://127.0.0.1:PORT), or pass --allow-remote if you mean to reach that board over a network you trust.\n');
      assert.equal(fs.existsSync(ks), false, 'no key store made');
      // Allowed, the link is tried: 0.0.0.0 is not a loopback address, yet connecting to it reaches this
      // machine on Linux, where nothing listens on port 1 (refused: another sentence than the remote one).
      const allowed = await cli(['device', 'info', '--port', 'socket://0.0.0.0:1', '--allow-remote']);
      assert.doesNotMatch(allowed.err, /not on this machine/);
      const help = await cli(['efuse', 'burn-keys', '--help']);
      assert.match(help.out, /--allow-remote/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the editor names its own setting, pycom.allowRemoteSocket, and honours it', async () => {
    delete settings.allowRemoteSocket;
    await assert.rejects(withDevice('socket://192.0.2.1:3333', readSettings(), () => undefined, async () => undefined), /or turn on the setting pycom\.allowRemoteSocket \(user settings\) if you mean to reach that board over a network you trust\.$/);
    settings.allowRemoteSocket = true;
    try {
      assert.equal(readSettings().allowRemoteSocket, true);
      // Allowed: the refusal is gone; what fails now is the link to a port where nothing listens (0.0.0.0 reaches this machine on Linux).
      await assert.rejects(withDevice('socket://0.0.0.0:1', readSettings(), () => undefined, async () => undefined), (e: Error) => !/not on this machine/.test(e.message));
    } finally {
      delete settings.allowRemoteSocket;
    }
  });
});
