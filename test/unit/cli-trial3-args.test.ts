import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from '../../src/cli/args';
import { BoardRecordWriter } from '../../src/core/audit/board-record';
import { KeyStore } from '../../src/core/keystore/key-store';
import { cli } from './helpers/cli';
import { fixtureStore, secureBuild, servedBurnedGpy, tmpDir } from './flash-harness';

// Findings of the third new-user trial: option values, numeric ranges, build's exit code, records --latest.

describe('an option given no value (third new-user trial)', () => {
  it('`flash --port --baud 921600` is refused: the next option is not the port', async () => {
    const store = tmpDir('noval-');
    const r = await cli(['flash', '--port', '--baud', '921600', '--build', secureBuild('GPY'), '--key-store', store]);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure flash: --port needs a value (e.g. --port /dev/ttyACM0).\n');
    assert.deepEqual(fs.readdirSync(store), [], 'nothing written to the key store');
  });

  it('an option at the end of the arguments is refused with the same sentence', async () => {
    const r = await cli(['monitor', '--port']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure monitor: --port needs a value (e.g. --port /dev/ttyACM0).\n');
  });

  it('an option without a listed example points at --help, and no output file is written', async () => {
    const dir = tmpDir('noval-out-');
    const out = path.join(dir, 'out.bin');
    const input = path.join(dir, 'in.bin');
    fs.writeFileSync(input, Buffer.alloc(32, 1));
    const r = await cli(['encrypt-flash-data', '--keyfile', path.join(dir, 'k.bin'), '--flash-crypt-conf', '--address', '0x1000', '--output', out, input]);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure encrypt-flash-data: --flash-crypt-conf needs a value (run `pycom-secure encrypt-flash-data --help` to see what it takes).\n');
    assert.deepEqual(fs.readdirSync(dir), ['in.bin']);
  });

  it('a negative number is a value, not an option; a short alias of the command is an option', () => {
    const specs = [{ name: 'seconds' }, { name: 'keyfile', aliases: ['-k'] }];
    assert.deepEqual(parseArgs(['--seconds', '-1'], specs, 'monitor').options.get('seconds'), ['-1']);
    assert.throws(() => parseArgs(['--seconds', '-k', 'x'], specs, 'monitor'), /monitor: --seconds needs a value/);
    // Given with `=`, the value is what the user wrote, whatever it starts with.
    assert.deepEqual(parseArgs(['--seconds=--x'], specs, 'monitor').options.get('seconds'), ['--x']);
  });
});

describe('numeric options are range-checked with one sentence (third new-user trial)', () => {
  const cases: { argv: string[]; err: string }[] = [
    { argv: ['monitor', '--port', 'socket://127.0.0.1:1', '--seconds', '-1'], err: 'monitor: --seconds must be a whole number of seconds from 1 to 86400, not "-1".' },
    { argv: ['monitor', '--port', 'socket://127.0.0.1:1', '--seconds', '0'], err: 'monitor: --seconds must be a whole number of seconds from 1 to 86400, not "0".' },
    { argv: ['monitor', '--port', 'socket://127.0.0.1:1', '--seconds', '99999999999'], err: 'monitor: --seconds must be a whole number of seconds from 1 to 86400, not "99999999999".' },
    { argv: ['monitor', '--port', 'socket://127.0.0.1:1', '--seconds', 'NaN'], err: 'monitor: --seconds must be a whole number of seconds from 1 to 86400, not "NaN".' },
    { argv: ['flash', '--port', 'socket://127.0.0.1:1', '--build', 'b', '--boot-log-ms', '-5'], err: 'flash: --boot-log-ms must be a whole number of milliseconds from 0 to 600000 (0 reads no boot log), not "-5".' },
    { argv: ['flash', '--port', 'socket://127.0.0.1:1', '--build', 'b', '--boot-log-ms', '1e9'], err: 'flash: --boot-log-ms must be a whole number of milliseconds from 0 to 600000 (0 reads no boot log), not "1e9".' },
    { argv: ['provision', '--port', 'x', '--build', 'b', '--key-store', 'k', '--confirm-macs', '24:0a:c4:00:00:01', '--jobs', '0'], err: 'provision: --jobs must be a whole number of boards at once from 1 to 64, not "0".' },
    { argv: ['provision', '--port', 'x', '--build', 'b', '--key-store', 'k', '--confirm-macs', '24:0a:c4:00:00:01', '--boot-log-ms', '-1'], err: 'provision: --boot-log-ms must be a whole number of milliseconds from 0 to 600000 (0 reads no boot log), not "-1".' },
    { argv: ['sim', 'serve', '--port', '70000'], err: 'sim serve: --port must be a TCP port number from 0 to 65535 (0 picks a free port), not "70000".' },
    { argv: ['predict-boot', '--plan', '--build', 'b', '--flash-size', '99999999999'], err: 'predict-boot: --flash-size must be the module\'s flash size in bytes, 1, 2, 4, 8 or 16 MB (e.g. 4 MB is 4194304 or 0x400000), not "99999999999".' },
    { argv: ['flash', '--dry-run', '--build', 'b', '--flash-size', '0'], err: 'flash: --flash-size must be the module\'s flash size in bytes, 1, 2, 4, 8 or 16 MB (e.g. 4 MB is 4194304 or 0x400000), not "0".' },
  ];
  for (const c of cases) {
    it(`${c.argv[0]} ${c.argv.slice(1).filter((a) => a.startsWith('--')).pop()} ${c.argv[c.argv.length - 1]}`, async () => {
      const cwd = process.cwd();
      const dir = tmpDir('range-');
      process.chdir(dir);
      try {
        const r = await cli(c.argv);
        assert.equal(r.code, 2);
        assert.equal(r.err, `pycom-secure ${c.err}\n`);
        assert.equal(r.out, '');
        assert.deepEqual(fs.readdirSync(dir), [], 'nothing written (no key store, no state, no record)');
      } finally {
        process.chdir(cwd);
      }
    });
  }

  it('flash --boot-log-ms 0 writes and verifies, then says the boot log was not captured and how to see it', async () => {
    const store = fixtureStore();
    const { server, port } = await servedBurnedGpy(store, 'boot-log-0');
    try {
      const r = await cli(['flash', '--port', port, '--build', secureBuild('GPY'), '--key-store', store.dir, '--boot-log-ms', '0']);
      assert.equal(r.code, 0, r.err);
      assert.match(r.out, /gpy\.bin_enc @ 0x10000: \d+ of \d+ bytes written, verified \(MD5\)\./);
      assert.ok(r.out.trimEnd().endsWith(`Boot log not captured (--boot-log-ms 0); to see the board boot, run \`pycom-secure monitor --port ${port}\`.`), r.out);
      assert.doesNotMatch(r.out, /\|/, 'no boot log lines');
    } finally {
      await server.close();
    }
  });
});

describe('records --latest: a board\'s state comes from the runs that changed it (third new-user trial)', () => {
  it('an ota-image run after a flash stays in the history but is not the board\'s latest state', async () => {
    const store = new KeyStore(path.join(tmpDir('rec-latest-'), 'secure'));
    store.ensureDir();
    const mac = '24:0a:c4:00:00:0b';
    const onlyOta = '24:0a:c4:00:00:0c';
    const flashed = new BoardRecordWriter(store.auditPath, 'flash', mac, () => []);
    flashed.end('ok');
    const ota = new BoardRecordWriter(store.auditPath, 'ota-image', mac, () => []);
    ota.end('ok');
    new BoardRecordWriter(store.auditPath, 'ota-image', onlyOta, () => []).end('ok');
    const latest = await cli(['records', '--key-store', store.dir, '--latest']);
    assert.equal(latest.code, 0, latest.err);
    const recs = JSON.parse(latest.out) as { id: string; operation: string; mac: string }[];
    assert.deepEqual(recs.map((r) => [r.mac, r.id, r.operation]), [[mac, flashed.id, 'flash']]);
    const all = JSON.parse((await cli(['records', '--key-store', store.dir])).out) as { id: string }[];
    assert.deepEqual(all.map((r) => r.id), [flashed.id, ota.id, all[2]!.id]);
    assert.equal(all.length, 3);
  });
});

describe('predict-boot --efuses (third new-user trial)', () => {
  it('a wrong value names the three states in one sentence', async () => {
    const r = await cli(['predict-boot', '--plan', '--build', secureBuild('GPY'), '--efuses', 'x']);
    assert.equal(r.code, 2);
    assert.equal(r.err, 'pycom-secure predict-boot: --efuses must be fresh, burned or hardened (the eFuse state --plan assumes), not "x".\n');
    assert.equal(r.out, '');
  });

  it('with --port it is refused, not silently ignored, before the board is opened', async () => {
    const r = await cli(['predict-boot', '--port', 'socket://127.0.0.1:1', '--efuses', 'burned']);
    assert.equal(r.code, 2);
    assert.equal(r.err, "pycom-secure predict-boot: --efuses sets the eFuse state of a planned board and goes with --plan; with --port the board's own eFuses are read, so drop --efuses (or drop --port and add --plan).\n");
  });
});
