import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { provision, type ProvisionEvent } from '../../src/core/workflows/provision';
import { readBoardRecords, boardRecordsCsv } from '../../src/core/audit/board-record';
import { readAudit } from '../../src/core/audit/audit-log';
import { directAccess } from '../../src/core/efuse/controller-access';
import { readEfuses } from '../../src/core/efuse/access';
import { decodeEfuses } from '../../src/core/efuse/decode';
import { redactState } from '../../src/core/efuse/burn/burn-keys';
import { bootNow, fixtureStore, secureBuild } from './flash-harness';

function macOf(dev: VirtualEsp32): string {
  return Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The Burn Keys steps of a Development run on a factory-fresh board, in the order they are burned. */
const ALL_STEPS = ['flash-key', 'secure-boot-key', 'protect-keys', 'flash-crypt-config', 'flash-crypt-cnt', 'abs-done-0'];

/** What the board's eFuses read back as now (straight from the virtual chip), as a record keeps them. */
async function boardEfuses(dev: VirtualEsp32): Promise<unknown> {
  return redactState(decodeEfuses(await readEfuses(directAccess(dev.efuse))));
}

/**
 * A third new-user trial: a provision cut off after its eFuse burn and before its flash showed
 * "nothing burned" (the failed row's BURNED was empty, a killed run's record had no burn in it), and
 * the rerun said "eFuses already complete" as if the board had come so. The record says what the
 * run burned (each step read back from the chip before the next), and the rerun says which run it
 * resumes and what that run did, and burns nothing again.
 */
describe('provision cut off after its burn: the record says what was burned, the rerun resumes', function () {
  this.timeout(300_000);
  const servers: SimServer[] = [];
  after(async () => {
    for (const s of servers) await s.close();
  });

  async function served(seed: string): Promise<{ dev: VirtualEsp32; port: string }> {
    const dev = new VirtualEsp32({ profile: 'GPY', seed, bootPredictor: bootPredictorForVirtual });
    const server = await startSimServer(dev, { port: 0, host: '127.0.0.1' });
    servers.push(server);
    return { dev, port: `socket://127.0.0.1:${server.port}` };
  }

  const store = fixtureStore();
  const build = secureBuild('GPY', 24 * 1024, 'resume-app');
  /** Provisions `dev`; with `stop`, the run is stopped (as Ctrl-C stops it) when its flash begins. */
  const run = (port: string, dev: VirtualEsp32, events: ProvisionEvent[], logs: string[] = [], stop?: AbortController) => provision({
    ports: [{ port, reset: 'auto', baud: 460800 }], store, buildDir: build, board: 'GPY', perDeviceKeys: false, hardening: false,
    approvedMacs: [macOf(dev)], bootLog: false, ...(stop ? { signal: stop.signal } : {}),
    onEvent: (e) => {
      events.push(e);
      if (stop && e.type === 'state' && e.state === 'flashing') stop.abort();
    },
  }, { info: (l) => logs.push(l), warn: (l) => logs.push(l) });

  it('the link lost at the flash\'s first erase: the failed board names the steps it burned, as its record does (read back from the chip)', async () => {
    const { dev, port } = await served('resume-link');
    dev.faults.setPowerLoss({ kind: 'flash-erase', step: 1 });
    const out = await run(port, dev, []);
    const [b] = out.boards;
    assert.equal(b!.state, 'failed');
    assert.equal(b!.burned, 6, 'the failed row counts the steps burned, not "-"');
    assert.match(b!.message, new RegExp(`\\(before it stopped, this run burned 6 eFuse step\\(s\\), each read back and verified: ${ALL_STEPS.join(', ')}; running it again does not burn them again\\)\\.$`));
    const [rec] = readBoardRecords(store.auditPath, macOf(dev));
    assert.equal(rec!.result, 'failed');
    assert.deepEqual(rec!.burnedSteps, ALL_STEPS);
    assert.equal(rec!.error, b!.message);
    // The eFuses in the record are those the chip holds: read back, not assumed.
    assert.deepEqual(rec!.efuseAfter, await boardEfuses(dev));
    assert.match(boardRecordsCsv([rec!]).split('\n')[1]!, new RegExp(`,${ALL_STEPS.join(' ')}$`));
  });

  it('killed right after the burn: the record still holds the burn; the rerun says what was done, burns nothing again, finishes', async () => {
    const { dev, port } = await served('resume-kill');
    const mac = macOf(dev);
    // The run is stopped as its flash begins; the audit log is then cut back to its last burn line,
    // as a process killed right after the burn leaves it (no line of provision's own after that).
    const ac = new AbortController();
    const events: ProvisionEvent[] = [];
    const first = await run(port, dev, events, [], ac);
    assert.equal(first.boards[0]!.state, 'failed');
    const lines = fs.readFileSync(store.auditPath, 'utf8').split('\n').filter((l) => l !== '');
    const burnDone = lines.map((l, i) => (l.includes(`"mac":"${mac}"`) && l.includes('"operation":"burn-keys"') && l.includes('"phase":"done"') ? i : -1)).reduce((a, b) => Math.max(a, b), -1);
    assert.ok(burnDone > 0, 'the burn finished before the flash');
    fs.writeFileSync(store.auditPath, lines.slice(0, burnDone + 1).join('\n') + '\n');
    const [cut] = readBoardRecords(store.auditPath, mac);
    assert.equal(cut!.operation, 'provision');
    assert.equal(cut!.result, 'interrupted');
    assert.deepEqual(cut!.burnedSteps, ALL_STEPS, 'the Burn Keys run is part of the cut-off record');
    assert.equal(cut!.burnRuns.length, 1);
    assert.deepEqual(cut!.efuseAfter, await boardEfuses(dev));
    // Not a record of its own next to the provision's (it would read as a separate, finished job).
    assert.deepEqual(readBoardRecords(store.auditPath, mac).map((r) => r.operation), ['provision']);

    dev.reset('download');
    const again: ProvisionEvent[] = [];
    const logs: string[] = [];
    const start = readAudit(store.auditPath).records.length;
    const out = await run(port, dev, again, logs);
    const [b] = out.boards;
    assert.equal(out.ok, true, b!.message);
    assert.equal(b!.burned, 0);
    assert.deepEqual(b!.resumed, { recordId: cut!.id, operation: 'provision', result: 'interrupted', before: [], burnedSteps: ALL_STEPS, regionsWritten: 0 });
    assert.match(b!.message, new RegExp(`finished: eFuses burned by the earlier run ${cut!.id} \\(6 step\\(s\\)\\), verified now, \\d+ byte\\(s\\) written`));
    assert.ok(logs.some((l) => l.endsWith(`Resuming provision run ${cut!.id} (cut off): it burned and verified 6 eFuse step(s) (${ALL_STEPS.join(', ')}), and it wrote no flash region; the board is read now and only what is missing is burned or written.`)), logs.join('\n'));
    const burning = again.find((e) => e.type === 'state' && e.state === 'burning') as { message: string };
    assert.equal(burning.message, `Burn Keys: the 6 step(s) burned by the earlier run ${cut!.id} are verified on the chip, not burned again; only a step still missing is burned.`);
    // Nothing burned twice: no eFuse step was begun by the rerun.
    assert.deepEqual(readAudit(store.auditPath).records.slice(start).filter((r) => r.phase === 'step-intent' && r.operation === 'burn-keys'), []);
    const recs = readBoardRecords(store.auditPath, mac);
    assert.deepEqual(recs.map((r) => [r.result, r.supersedes ?? null]), [['interrupted', null], ['ok', cut!.id]]);
    assert.equal(bootNow(dev).boots, true);
  });
});
