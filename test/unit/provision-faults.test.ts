import { strict as assert } from 'node:assert';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { startSimServer, type SimServer } from '../../src/core/virtual/tcp-server';
import { bootPredictorForVirtual } from '../../src/core/boot/virtual-board';
import { provision, type ProvisionEvent } from '../../src/core/workflows/provision';
import { readBoardRecords } from '../../src/core/audit/board-record';
import { readAudit } from '../../src/core/audit/audit-log';
import { fixtureStore, secureBuild, bootNow } from './flash-harness';
import { KEYS } from './flash-harness';

function macOf(dev: VirtualEsp32): string {
  return Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Issue #14: one board's failure stops only that board, and a rerun resumes each where it stopped.
 * Three served boards: one healthy, one losing power in the middle of Burn Keys, one in the middle
 * of the flash writes; the records say which failed and why; the rerun finishes both (the burn
 * resumed from the audit log, not redone) and every board boots.
 */
describe('provision: a failure stops only its board; a rerun resumes it', function () {
  this.timeout(300_000);
  const servers: SimServer[] = [];
  const devs: VirtualEsp32[] = [];
  const store = fixtureStore();
  const build = secureBuild('GPY', 24 * 1024, 'faults-app');
  let ports: { port: string; reset: 'auto'; baud: number }[] = [];

  before(async () => {
    for (let i = 0; i < 3; i++) {
      const dev = new VirtualEsp32({ profile: 'GPY', seed: `fleet-fault-${i}`, bootPredictor: bootPredictorForVirtual });
      devs.push(dev);
      servers.push(await startSimServer(dev, { port: 0, host: '127.0.0.1' }));
    }
    ports = servers.map((s) => ({ port: `socket://127.0.0.1:${s.port}`, reset: 'auto', baud: 460800 }));
  });
  after(async () => {
    for (const s of servers) await s.close();
  });

  const run = (events: ProvisionEvent[] = []) => provision({
    ports, store, buildDir: build, board: 'GPY', perDeviceKeys: true, hardening: false, approvedMacs: devs.map(macOf),
    bootLog: false, onEvent: (e) => events.push(e),
  }, { info: () => undefined, warn: () => undefined });

  it('power lost mid-burn and mid-write: those two boards fail, the third finishes', async () => {
    devs[1]!.faults.setPowerLoss({ kind: 'efuse-word', step: 12 });
    devs[2]!.faults.setPowerLoss({ kind: 'flash-program', step: 3 });
    const events: ProvisionEvent[] = [];
    const out = await run(events);
    assert.equal(out.ok, false);
    assert.deepEqual(out.boards.map((b) => b.state), ['finished', 'failed', 'failed']);
    const states = (mac: string) => events.filter((e) => e.type === 'state' && e.mac === mac).map((e) => (e as { state: string }).state);
    assert.ok(states(macOf(devs[1]!)).includes('burning') && !states(macOf(devs[1]!)).includes('flashing'));
    assert.ok(states(macOf(devs[2]!)).includes('flashing'));
    const recs = readBoardRecords(store.auditPath);
    assert.deepEqual(recs.map((r) => [r.mac, r.result]), devs.map((d, i) => [macOf(d), i === 0 ? 'ok' : 'failed']));
    for (const r of recs.slice(1)) assert.ok(r.error && r.error.length > 0);
    // The board cut off in its first region (the digest image at 0x0): that region is listed, cut off.
    assert.deepEqual(recs[2]!.regions.map((g) => [g.address, g.cutOff ?? false]), [[0x0, true]]);
    // The interrupted burn is open in the audit log for the rerun to resume.
    assert.ok(readAudit(store.auditPath).records.some((r) => r.operation === 'burn-keys' && r.mac === macOf(devs[1]!) && r.phase === 'failed'));
    assert.equal(bootNow(devs[0]!).boots, true);
  });

  it('the rerun finishes every board: the burn resumed (fewer steps than a full one), the flash completed, each boots', async () => {
    for (const d of devs) d.reset('download');
    const out = await run();
    assert.equal(out.ok, true, JSON.stringify(out.boards));
    const [healthy, burnt, written] = out.boards;
    assert.equal(healthy!.burned, 0);
    assert.equal(healthy!.bytesWritten, 0);
    assert.ok(burnt!.burned! > 0 && burnt!.burned! < 6, burnt!.message);
    assert.equal(written!.burned, 0);
    assert.ok(written!.bytesWritten! > 0);
    // Each board kept its own key across the runs (never overwritten, never another board's).
    const fps = out.boards.map((b) => b.flashKeyFingerprint);
    assert.equal(new Set(fps).size, 3);
    for (const d of devs) {
      const v = bootNow(d);
      assert.equal(v.boots, true, v.reason);
    }
    // The board records of the rerun are all ok, and no record holds a key.
    const recs = readBoardRecords(store.auditPath).slice(3);
    assert.deepEqual(recs.map((r) => r.result), ['ok', 'ok', 'ok']);
    assert.ok(!JSON.stringify(recs).includes(Buffer.from(KEYS.flashKey).toString('hex')));
  });
});
