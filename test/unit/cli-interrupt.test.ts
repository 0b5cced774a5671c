import { strict as assert } from 'node:assert';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { cliLauncher, serveSimProcess } from './helpers/sim-process';
import { fixtureStore, secureBuild } from './flash-harness';

/**
 * Ctrl-C in a command that writes to a board, with real processes: `sim serve --timing` (writes
 * take board time) and the CLI interrupted by SIGINT once it has printed a progress line. It says
 * in one sentence what state it left and what to do, and exits 130.
 */
describe('CLI: Ctrl-C during flash and efuse burn-keys', function () {
  // Real processes on a shared machine: generous, not a timing assertion.
  this.timeout(180_000);
  let server: ChildProcessWithoutNullStreams | undefined;
  let cmd: { argv: string[]; env: NodeJS.ProcessEnv };
  let port: string;
  const store = fixtureStore();

  before(async () => {
    cmd = await cliLauncher();
    let p: number;
    ({ server, port: p } = await serveSimProcess(cmd, ['--profile', 'GPY', '--seed', 'cli-interrupt', '--timing']));
    port = `socket://127.0.0.1:${p}`;
  });

  after(async () => {
    if (server && server.exitCode === null) {
      const gone = new Promise((r) => server!.once('exit', r));
      server.kill('SIGTERM');
      await gone;
    }
  });

  /** Runs the CLI, sends SIGINT when `when` matches its output so far, and returns its exit code and output. */
  function interrupt(args: string[], when: RegExp, signal: NodeJS.Signals = 'SIGINT'): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string; sent: boolean }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [...cmd.argv, ...args], { env: cmd.env });
      let out = '';
      let err = '';
      let sent = false;
      const check = (): void => {
        if (!sent && when.test(out + err)) {
          sent = true;
          child.kill(signal);
        }
      };
      child.stdout.on('data', (d: Buffer) => { out += d.toString(); check(); });
      child.stderr.on('data', (d: Buffer) => { err += d.toString(); check(); });
      child.once('close', (code, signal) => resolve({ code, signal, out, err, sent }));
    });
  }

  it('efuse burn-keys: says to run the same command again (burned steps verified, not burned again), exits 130', async () => {
    const info = await interrupt(['efuse', 'summary', '--json', '--port', port], /$^/);
    const mac = String((JSON.parse(info.out) as Record<string, { value: unknown }>)['MAC']!.value).split(' ')[0]!;
    const r = await interrupt(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir], /^Burning: /m);
    assert.ok(r.sent, r.out + r.err);
    assert.equal(r.code, 130, r.out + r.err);
    assert.match(r.err, /pycom-secure efuse burn-keys: interrupted; .*run the same command again; steps already burned are verified, not burned again\./);
    // Running it again finishes the burn.
    const again = await interrupt(['efuse', 'burn-keys', '--port', port, '--flash-key', store.sharedFlashKeyPath, '--signing-key', store.signingKeyPath, '--confirm', mac, '--key-store', store.dir], /$^/);
    assert.equal(again.code, 0, again.out + again.err);
  });

  it('flash: says the flash may be partly written and to run the same flash command again, exits 130', async () => {
    const build = secureBuild('GPY', 768 * 1024, 'cli-interrupt');
    const r = await interrupt(['flash', '--port', port, '--build', build, '--key-store', store.dir, '--boot-log-ms', '0'], /\] \S+ @ 0x[0-9a-f]+: \d+%/);
    assert.ok(r.sent, r.out + r.err);
    assert.equal(r.code, 130, r.out + r.err);
    assert.match(r.err, /pycom-secure flash: interrupted; the flash may be partly written .*run the same flash command again/);
    assert.equal(r.err.trim().split('\n').filter((l) => /interrupted/.test(l)).length, 1, r.err);
  });

  it('flash stopped with SIGTERM (kill, a service manager) says the same sentence as Ctrl-C and exits 143', async () => {
    const build = secureBuild('GPY', 768 * 1024, 'cli-interrupt-term');
    const r = await interrupt(['flash', '--port', port, '--build', build, '--key-store', store.dir, '--boot-log-ms', '0'], /\] \S+ @ 0x[0-9a-f]+: \d+%/, 'SIGTERM');
    assert.ok(r.sent, r.out + r.err);
    assert.equal(r.code, 143, r.out + r.err);
    assert.match(r.err, /pycom-secure flash: interrupted; the flash may be partly written .*run the same flash command again/);
  });

  it('a flash cut off during the app\'s erase (before its first block) is recorded as interrupted and named as the run that left the app partly written', async () => {
    const build = secureBuild('GPY', 768 * 1024, 'cli-interrupt-erase');
    const before = (JSON.parse((await interrupt(['records', '--key-store', store.dir, '--format', 'json'], /$^/)).out || '[]') as Array<{ id: string }>).map((r) => r.id);
    const cut = await interrupt(['flash', '--port', port, '--build', build, '--key-store', store.dir, '--boot-log-ms', '0'], /gpy\.bin_enc @ 0x10000: erasing 768 KiB, then writing it/);
    // A time left from the first acknowledgement on: estimated (baud, typical flash times) until a rate is measured.
    assert.match(cut.err, /^\[1\/3\] bootloader-reflash-digest\.bin_enc @ 0x0: \d+% \(\d+\/\d+ KiB, about \d+ s left\)$/m, cut.err);
    assert.ok(cut.sent, cut.out + cut.err);
    assert.equal(cut.code, 130, cut.out + cut.err);
    assert.doesNotMatch(cut.err, /gpy\.bin_enc @ 0x10000: \d+%/, 'cut off before the first block of the app');
    const recs = JSON.parse((await interrupt(['records', '--key-store', store.dir, '--format', 'json'], /$^/)).out) as Array<{ id: string; operation: string; result: string }>;
    const fresh = recs.filter((r) => !before.includes(r.id));
    assert.equal(fresh.length, 1, JSON.stringify(fresh));
    assert.equal(fresh[0]!.operation, 'flash');
    assert.equal(fresh[0]!.result, 'interrupted');
    const p = await interrupt(['predict-boot', '--port', port, '--key-store', store.dir, '--json'], /$^/);
    const v = JSON.parse(p.out) as { partlyWritten?: { address: number; run: string } };
    assert.equal(v.partlyWritten?.address, 0x10000, p.out);
    assert.equal(v.partlyWritten?.run, fresh[0]!.id, 'the cut-off run is named, not an earlier one');
  });

  it('after a flash cut off in the app: predict-boot and verify-flash say the app was only partly written (no key blamed); the same flash again finishes it and its record supersedes the interrupted one', async () => {
    const build = secureBuild('GPY', 768 * 1024, 'cli-interrupt-resume');
    const flashArgs = ['flash', '--port', port, '--build', build, '--key-store', store.dir, '--boot-log-ms', '0'];
    const cut = await interrupt(flashArgs, /gpy\.bin_enc @ 0x10000: \d+%/);
    assert.equal(cut.code, 130, cut.out + cut.err);

    const p = await interrupt(['predict-boot', '--port', port, '--key-store', store.dir, '--json'], /$^/);
    assert.equal(p.code, 1, p.out + p.err);
    const v = JSON.parse(p.out) as { reason: string; diagnosis: string; partlyWritten: { address: number; length: number; written: number; source: string; run: string } };
    assert.match(v.diagnosis, /^the app at 0x10000 \(gpy\.bin_enc\) was only partly written \(flash interrupted at \d+ of 786528 bytes\): .*run the same `pycom-secure flash` again to finish it \(the interrupted region is written again in full, with --incremental too\)\.$/);
    assert.match(v.reason, /^The bootloader finds no bootable app: the app at 0x10000 was only partly written/);
    for (const text of [v.diagnosis, v.reason]) assert.doesNotMatch(text, /another key|wrong key|not encrypted|does not decrypt|encrypted with|encrypted for/, text);
    assert.equal(v.partlyWritten.address, 0x10000);
    assert.equal(v.partlyWritten.source, 'journal');
    assert.ok(v.partlyWritten.written < v.partlyWritten.length && v.partlyWritten.written % 32 === 0, JSON.stringify(v.partlyWritten));

    const vf = await interrupt(['verify-flash', '--port', port, '--build', build, '--key-store', store.dir], /$^/);
    assert.equal(vf.code, 1, vf.out + vf.err);
    assert.match(vf.out, /gpy\.bin_enc at 0x10000 .*differs.*\n {2}Diagnosis: the app at 0x10000 \(gpy\.bin_enc\) was only partly written \(flash interrupted at \d+ of 786528 bytes\)/);

    const again = await interrupt([...flashArgs, '--incremental'], /$^/);
    assert.equal(again.code, 0, again.out + again.err);
    // The rerun says it finishes the cut-off write, and that the region goes again in full.
    assert.match(again.out + again.err, /Resuming: gpy\.bin_enc at 0x10000 was left partly written by a run that began writing it at \S+ and was cut off; this run writes gpy\.bin_enc at 0x10000 again in full\./);
    const recs = JSON.parse((await interrupt(['records', '--key-store', store.dir, '--format', 'json'], /$^/)).out) as Array<{ id: string; operation: string; result: string; supersedes?: string; supersededBy?: string; regions: Array<{ address: number; file: string; bytesWritten?: number; cutOff?: boolean }> }>;
    const flashes = recs.filter((r) => r.operation === 'flash');
    const [interrupted, done] = flashes.slice(-2) as [typeof flashes[0], typeof flashes[0]];
    // The history stays truthful; the board's state is the completing run's.
    assert.equal(interrupted.result, 'interrupted');
    // The cut-off run lists the regions it finished (written and verified) and the one it was cut off in.
    assert.deepEqual(interrupted.regions.map((g) => [g.address, g.file.split('/').pop(), g.bytesWritten !== undefined, g.cutOff ?? false]),
      [[0x0, 'bootloader-reflash-digest.bin_enc', true, false], [0x8000, 'partitions_8MB.bin_enc', true, false], [0x10000, 'gpy.bin_enc', false, true]]);
    assert.deepEqual(done.regions.map((g) => [g.address, g.cutOff ?? false]), [[0x0, false], [0x8000, false], [0x10000, false]]);
    assert.equal(interrupted.supersededBy, done.id);
    assert.equal(done.result, 'ok');
    assert.equal(done.supersedes, interrupted.id);
    const latest = JSON.parse((await interrupt(['records', '--key-store', store.dir, '--latest'], /$^/)).out) as Array<{ id: string }>;
    assert.deepEqual(latest.map((r) => r.id), [done.id]);
    const csv = (await interrupt(['records', '--key-store', store.dir, '--format', 'csv', '--latest'], /$^/)).out.trim().split('\n');
    assert.equal(csv.length, 2, csv.join('\n'));
    assert.ok(csv[0]!.endsWith(',supersedes,supersededBy,burnedSteps'));
    assert.ok(csv[1]!.startsWith(`${done.id},flash,`) && csv[1]!.includes(`,${interrupted.id},`), csv[1]);

    const after = await interrupt(['predict-boot', '--port', port, '--key-store', store.dir], /$^/);
    assert.equal(after.code, 0, after.out + after.err);
  });
});
