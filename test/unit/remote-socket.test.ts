import { settings } from './helpers/vscode-mock';
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { cli } from './helpers/cli';
import { isLoopbackHost, REMOTE_LINK_RISK, transportFromUrl, withBoard } from '../../src/core';
import { allCommands } from '../../src/cli/main';
import { COMMAND_LINK_JOBS } from '../../src/cli/board-session';
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
      assert.equal(e.message, 'socket://192.0.2.1:3333 is not on this machine, and over socket:// what goes to the board (its keys when burning, the firmware when flashing) would cross the network in clear, to whoever answers there; use a board on this machine (socket://127.0.0.1:PORT), or pass --allow-remote if you mean to reach that board over a network you trust.');
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
      assert.equal(r.err, 'pycom-secure efuse burn-keys: socket://192.0.2.1:3333 is not on this machine, and over socket:// Burn Keys would send the board\'s keys across the network in clear, to whoever answers there; use a board on this machine (socket://127.0.0.1:PORT), or pass --allow-remote if you mean to reach that board over a network you trust.\n');
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

  it('each command names what it would send or read over a remote link, and the option that allows it (trial 6: flash talked about Burn Keys)', async () => {
    // Every command that takes --allow-remote says what its own link carries, in one sentence.
    const withRemote = allCommands.filter((c) => c.options.some((o) => o.name === 'allow-remote')).map((c) => c.name).sort();
    assert.deepEqual(Object.keys(COMMAND_LINK_JOBS).sort(), withRemote);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'remote-'));
    try {
      const app = path.join(dir, 'app.bin');
      fs.writeFileSync(app, Buffer.alloc(64, 0xe9));
      const cases: [string[], string][] = [
        [['flash', '--port', 'socket://10.1.2.3:4000', '0x10000', app], 'flashing would send the firmware across the network in clear, to whoever answers there'],
        [['verify-flash', '--port', 'socket://10.1.2.3:4000', '0x10000', app], "what the board holds (its eFuses and flash) would be read across the network in clear, from whoever answers there"],
        [['monitor', '--port', 'socket://10.1.2.3:4000', '--seconds', '1'], "the board's serial line would cross the network in clear, to whoever answers there"],
      ];
      for (const [argv, risk] of cases) {
        const r = await cli(argv);
        assert.match(r.err, new RegExp(`socket://10\\.1\\.2\\.3:4000 is not on this machine, and over socket:// ${risk.replace(/[()]/g, '\\$&')}; use a board on this machine \\(socket://127\\.0\\.0\\.1:PORT\\), or pass --allow-remote if you mean to reach that board over a network you trust\\.`), `${argv[0]}: ${r.err}`);
        assert.doesNotMatch(r.err, /Burn Keys|key/i, argv[0]);
        assert.notEqual(r.code, 0, argv[0]);
      }
      // provision's boards go through the core's withBoard with the CLI's link job.
      await assert.rejects(withBoard({ port: 'socket://10.1.2.3:4000', reset: 'auto', baud: 115200, job: COMMAND_LINK_JOBS['provision']! }, { info: () => undefined, warn: () => undefined }, async () => undefined),
        (e: Error) => e.message.includes("over socket:// provisioning would send each board's keys and firmware across the network in clear, to whoever answers there; use a board"));
      // Every clause is its own sentence part, none names another command's work.
      for (const [job, risk] of Object.entries(REMOTE_LINK_RISK)) assert.match(risk, / would (send|be read|cross) .* in clear, (to|from) whoever answers there$/, job);
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
