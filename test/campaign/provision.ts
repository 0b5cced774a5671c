import * as fs from 'node:fs';
import * as path from 'node:path';
import { readBoardRecords } from '../../src/core/audit/board-record';
import { bootEfusesFromRaw } from '../../src/core/boot/boot-efuses';
import { predictBoot } from '../../src/core/boot/predict';
import { keyFileToBlockWords } from '../../src/core/crypto/efuse-key-layout';
import { decodeEfuses } from '../../src/core/efuse/decode';
import { KeyStore } from '../../src/core/keystore/key-store';
import type { Clock } from '../../src/core/loader/clock';
import { createMemoryPair } from '../../src/core/transport/memory';
import { fingerprint } from '../../src/core/util/fingerprint';
import { VirtualEsp32 } from '../../src/core/virtual/device';
import { provision, type ProvisionOutcome } from '../../src/core/workflows/provision';
import type { BoardTarget } from '../../src/core/workflows/board';
import { emptyCounters, type Counters } from './outcome';
import { Prng } from './prng';

/**
 * The provisioning fault campaign (issue #14): each round provisions several virtual boards at
 * once with per-device keys, a fault drawn per board (none, the port lost, power lost mid-burn or
 * mid-write, the board unplugged and another plugged into its port), then runs the same command
 * again as the operator would (the swapped-out board comes back on the third run), and checks
 * every board's eFuses, key, flash and records.
 */
export const PROVISION_ROWS = {
  unplanned: 'a board in an eFuse state no provisioning plan leads to',
  otherKey: 'a board given a key other than its own per-device key',
  record: 'a record missing or wrong (result, key fingerprint, untouched board recorded as done)',
  unfinished: 'an approved board not finished (or not booting) after the reruns',
  unclear: 'a board stopped without a clear error',
} as const;

export type ProvisionFault = 'none' | 'port-lost' | 'power-mid-burn' | 'power-mid-write' | 'swap';
const FAULTS: readonly ProvisionFault[] = ['none', 'port-lost', 'power-mid-burn', 'power-mid-write', 'swap'];

export interface ProvisionCampaignOptions {
  rounds: number;
  boards: number;
  seed: string;
  workDir: string;
  buildDir: string;
  signingKeyPem: Uint8Array;
  /** The key the build was made with (the store's flash_encryption_key.bin). */
  buildKey: Uint8Array;
  signingPublicKey: Parameters<typeof predictBoot>[0]['signingPublicKey'];
  clock: Clock;
  syncTimeoutMs: number;
  baud: number;
}

export interface ProvisionRoundRecord {
  round: number;
  faults: ProvisionFault[];
  /** How each faulted board ended the first run (finished / failed). */
  firstRun: string[];
  problems: string[];
}

function macOf(dev: VirtualEsp32): string {
  return Array.from(dev.mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}

export async function runProvisionCampaign(o: ProvisionCampaignOptions): Promise<{ counters: Counters; records: ProvisionRoundRecord[] }> {
  const counters = emptyCounters(Object.values(PROVISION_ROWS));
  const records: ProvisionRoundRecord[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const rng = new Prng(`${o.seed}/${round}`);
    const store = new KeyStore(path.join(o.workDir, `prov-${round}`, 'secure'));
    store.ensureDir();
    fs.writeFileSync(store.signingKeyPath, o.signingKeyPem, { mode: 0o600 });
    fs.writeFileSync(store.sharedFlashKeyPath, o.buildKey, { mode: 0o600 });
    const devs = Array.from({ length: o.boards }, (_, i) => new VirtualEsp32({ profile: 'GPY', seed: `${o.seed}/${round}/board-${i}` }));
    const spares = Array.from({ length: o.boards }, (_, i) => new VirtualEsp32({ profile: 'GPY', seed: `${o.seed}/${round}/spare-${i}` }));
    const faults = devs.map(() => FAULTS[rng.int(0, FAULTS.length - 1)]!);
    // An unapproved board is plugged in too: it must stay untouched through every run.
    const stranger = new VirtualEsp32({ profile: 'GPY', seed: `${o.seed}/${round}/stranger` });
    const strangerBefore = JSON.stringify(stranger.efuse.rawWords());
    const approved = [...devs, ...spares.filter((_, i) => faults[i] === 'swap')].map(macOf);
    const problems: string[] = [];
    const unclear = (out: ProvisionOutcome) => {
      for (const b of out.boards) if (b.state === 'failed' && /internal error/.test(b.message)) problems.push(`${PROVISION_ROWS.unclear}: ${b.message}`);
    };
    const runOnce = async (onPorts: VirtualEsp32[]): Promise<ProvisionOutcome> => {
      const targets: BoardTarget[] = [];
      for (const [i, dev] of onPorts.entries()) {
        const { host, device } = createMemoryPair();
        dev.attach(device);
        dev.reset('download');
        await host.open();
        targets.push({ port: `virtual-${i}`, reset: 'none', baud: o.baud, transport: host, opened: true, clock: o.clock, syncTimeoutMs: o.syncTimeoutMs });
      }
      try {
        const out = await provision({ ports: targets, store, buildDir: o.buildDir, board: 'GPY', perDeviceKeys: true, hardening: false, approvedMacs: approved, bootLog: false }, { info: () => undefined, warn: () => undefined });
        unclear(out);
        return out;
      } finally {
        for (const t of targets) await t.transport!.close().catch(() => undefined);
      }
    };

    // Run 1 with the faults armed.
    devs.forEach((d, i) => {
      const f = faults[i]!;
      // A swapped board is unplugged part-way through (its port goes quiet), like a lost port.
      if (f === 'port-lost' || f === 'swap') d.faults.addByteFault({ direction: 'to-host', action: 'drop', atByte: rng.int(200, 6000), count: 1 << 30 });
      if (f === 'power-mid-burn') d.faults.setPowerLoss({ kind: 'efuse-word', step: rng.int(1, 40) });
      if (f === 'power-mid-write') d.faults.setPowerLoss({ kind: 'flash-program', step: rng.int(1, 60) });
    });
    const first = await runOnce([...devs, stranger]);
    for (const d of devs) {
      d.faults.clearByteFaults();
      d.faults.setPowerLoss(undefined);
    }
    // Run 2: swapped boards are replaced by a spare on their port; run 3: the originals come back.
    await runOnce([...devs.map((d, i) => (faults[i] === 'swap' ? spares[i]! : d)), stranger]);
    const last = await runOnce([...devs, stranger]);
    const swappedIn = spares.filter((_, i) => faults[i] === 'swap');

    const recs = readBoardRecords(store.auditPath);
    for (const dev of [...devs, ...swappedIn]) {
      const mac = macOf(dev);
      const keyFile = store.deviceFlashKeyPath(mac);
      const result = last.boards.find((b) => b.mac === mac);
      const finishedNow = result?.state === 'finished' || (swappedIn.includes(dev) && recs.some((r) => r.mac === mac && r.result === 'ok'));
      if (!finishedNow) problems.push(`${PROVISION_ROWS.unfinished}: ${mac} ${result?.message ?? 'not in the last run'}`);
      const dec = decodeEfuses({ words: dev.efuse.rawWords() } as Parameters<typeof decodeEfuses>[0]);
      if (!dec.flashEncryptionEnabled || !dec.secureBootV1 || dec.keyBlocks[1].readable || dec.keyBlocks[2].readable) problems.push(`${PROVISION_ROWS.unplanned}: ${mac}`);
      if (!fs.existsSync(keyFile)) {
        problems.push(`${PROVISION_ROWS.otherKey}: ${mac} has no key file`);
        continue;
      }
      const key = new Uint8Array(fs.readFileSync(keyFile));
      const want = keyFileToBlockWords(key, { reverse: true, coding: 'none' });
      if (JSON.stringify(dev.efuse.rawWords()[1]) !== JSON.stringify(want)) problems.push(`${PROVISION_ROWS.otherKey}: ${mac}`);
      const v = predictBoot({ efuse: bootEfusesFromRaw(dev.efuse.rawWords(), dev.chipRevision), readFlash: (a, n) => dev.flash.read(a, n), flashSize: dev.flash.size, ...(o.signingPublicKey ? { signingPublicKey: o.signingPublicKey } : {}) });
      if (!v.boots) problems.push(`${PROVISION_ROWS.unfinished}: ${mac} does not boot (${v.reason})`);
      const mine = recs.filter((r) => r.mac === mac && r.operation === 'provision');
      const ok = mine.filter((r) => r.result === 'ok');
      if (ok.length === 0 || ok.some((r) => r.keyFingerprints['flash-key'] !== fingerprint(key))) problems.push(`${PROVISION_ROWS.record}: ${mac}`);
      if (mine.some((r) => r.result === 'interrupted')) problems.push(`${PROVISION_ROWS.record}: ${mac} has a record without an end`);
    }
    if (JSON.stringify(stranger.efuse.rawWords()) !== strangerBefore || recs.some((r) => r.mac === macOf(stranger))) problems.push(`${PROVISION_ROWS.record}: the unapproved board was touched or recorded`);

    counters.runs++;
    counters.faultsInjected += faults.filter((f) => f !== 'none').length;
    counters.faultsFired += faults.filter((f, i) => f !== 'none' && first.boards[i]?.state === 'failed').length;
    for (const f of faults) counters.byKind[f] = (counters.byKind[f] ?? 0) + 1;
    if (problems.length === 0) counters.finalState++;
    else counters.other++;
    for (const row of new Set(problems.map((p) => Object.values(PROVISION_ROWS).find((r) => p.startsWith(r))!))) counters.violations[row] = (counters.violations[row] ?? 0) + 1;
    records.push({ round, faults, firstRun: first.boards.slice(0, devs.length).map((b) => b.state), problems });
  }
  return { counters, records };
}
