import { withBoard, type BoardSession } from '../../src/core/workflows/board';
import { scriptedUi } from '../../src/core/workflows/ui-port';
import { realClock, type Clock } from '../../src/core/loader/clock';
import { DEFAULT_TIMEOUT_MS, SYNC_TIMEOUT_MS } from '../../src/core/loader/timeouts';
import { createMemoryPair } from '../../src/core/transport/memory';
import type { DeviceEndpoint } from '../../src/core/transport/transport';
import type { VirtualEsp32 } from '../../src/core/virtual/device';
import type { Direction, StepKind } from '../../src/core/virtual/faults';
import type { Prng } from './prng';

/** The fault kinds of issue 7: one of these per run, at a random point. */
export const FAULT_KINDS = ['byte-dropped', 'byte-corrupted', 'delay-past-timeout', 'power-lost', 'port-closed'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultSpec {
  kind: FaultKind;
  direction?: Direction;
  /** Byte index (in `direction`'s stream since the port was opened) the fault hits. */
  atByte?: number;
  xor?: number;
  delayMs?: number;
  step?: { kind: StepKind | 'any'; n: number };
}

export function describeFault(f: FaultSpec): string {
  switch (f.kind) {
    case 'power-lost':
      return `power lost before ${f.step!.kind} step ${f.step!.n}`;
    case 'port-closed':
      return `port closed after ${f.atByte} bytes from the board`;
    case 'byte-corrupted':
      return `byte ${f.atByte} ${f.direction} XOR 0x${f.xor!.toString(16)}`;
    case 'delay-past-timeout':
      return `byte ${f.atByte} ${f.direction} held ${f.delayMs} ms`;
    default:
      return `byte ${f.atByte} ${f.direction} dropped`;
  }
}

/** What a fault-free run of a scenario uses: the ranges random faults are drawn from. */
export interface Traffic {
  toDevice: number;
  toHost: number;
  steps: Record<StepKind, number>;
}

export interface LinkOptions {
  clock: Clock;
  /** The factor the clock applies to timeouts (1 with the real clock); delay faults use it too. */
  timeScale: number;
  baud: number;
  syncTimeoutMs: number;
  /**
   * A pause of the machine (load: other processes, GC) once per attempt: the board's to-host byte
   * `atByte` reaches the host `ms` real milliseconds late. Not a fault: every attempt gets it.
   */
  stall?: { atByte: number; ms: number };
  /** Sees every chunk the host sends the board, as it arrives (a probe records where commands sit). */
  onToDevice?: (chunk: Buffer) => void;
}

/**
 * The link of a fault-free attempt (the user's rerun, the run that proves a stop resumable): the
 * loader's own timeouts on the real clock, never the campaign's scaled ones. Scaled timeouts are
 * only there to make injected delays cheap; a fault-free run has none, and with them a busy
 * machine (a few hundred ms without the CPU) timed out a retry that proves nothing about the
 * product. With the real timeouts a fault-free attempt fails only on a real finding.
 */
export function faultFreeLink<T extends LinkOptions>(o: T): T {
  return { ...o, clock: realClock, timeScale: 1, syncTimeoutMs: Math.max(o.syncTimeoutMs, SYNC_TIMEOUT_MS) };
}

/** Draws one fault. Byte positions and steps are uniform over what a fault-free run uses. */
export function pickFault(rng: Prng, t: Traffic, o: Pick<LinkOptions, 'timeScale'>, kinds: readonly FaultKind[] = FAULT_KINDS): FaultSpec {
  const kind = rng.pick(kinds);
  const direction: Direction = rng.next() < 0.5 ? 'to-device' : 'to-host';
  const atByte = rng.int(0, Math.max(0, (direction === 'to-device' ? t.toDevice : t.toHost) - 1));
  switch (kind) {
    case 'power-lost': {
      const kinds = (Object.keys(t.steps) as StepKind[]).filter((k) => t.steps[k] > 0);
      if (kinds.length === 0) return { kind, step: { kind: 'any', n: 1 } };
      const k = rng.pick(kinds);
      return { kind, step: { kind: k, n: rng.int(1, t.steps[k]) } };
    }
    case 'port-closed':
      return { kind, atByte: rng.int(0, Math.max(0, t.toHost - 1)) };
    case 'byte-corrupted':
      return { kind, direction, atByte, xor: rng.int(1, 255) };
    case 'delay-past-timeout':
      // Past the loader's default command timeout, in the same time scale as the clock.
      return { kind, direction, atByte, delayMs: Math.ceil((DEFAULT_TIMEOUT_MS + 500) * o.timeScale) };
    default:
      return { kind, direction, atByte };
  }
}

/**
 * Runs `fn` on a fresh link to the board as a new CLI run does, through the product's own
 * withBoard (reset into download mode by the board's reset, which also restores power after a
 * power loss; connect at 115200; switch baud; identify; always release). The fault is armed
 * before the reset, so it can hit any byte of the run. Returns `fn`'s result and the bytes each
 * way.
 */
export async function withCampaignBoard<T>(dev: VirtualEsp32, o: LinkOptions, fault: FaultSpec | undefined, fn: (board: BoardSession) => Promise<T>): Promise<{ result: T; counts: { toDevice: number; toHost: number } }> {
  const { host, device } = createMemoryPair('memory:campaign');
  const counts = { toDevice: 0, toHost: 0 };
  const closeAt = fault?.kind === 'port-closed' ? fault.atByte! : -1;
  const wrapped: DeviceEndpoint = {
    ...device,
    write(data) {
      counts.toHost += data.length;
      device.write(data);
      if (closeAt >= 0 && counts.toHost > closeAt && host.isOpen) void host.close();
    },
    onData(fn) {
      return device.onData((chunk) => {
        counts.toDevice += chunk.length;
        o.onToDevice?.(chunk);
        fn(chunk);
      });
    },
  };
  dev.faults.clearByteFaults();
  dev.faults.setPowerLoss(undefined);
  dev.attach(wrapped);
  dev.reset('download');
  if (fault?.kind === 'power-lost') dev.faults.setPowerLoss({ kind: fault.step!.kind, step: fault.step!.n });
  if (fault?.direction && fault.atByte !== undefined) {
    const action = fault.kind === 'byte-dropped' ? 'drop' : fault.kind === 'byte-corrupted' ? 'corrupt' : 'delay';
    dev.faults.addByteFault({ direction: fault.direction, action, atByte: fault.atByte, ...(fault.xor ? { xor: fault.xor } : {}), ...(fault.delayMs ? { delayMs: fault.delayMs } : {}) });
  }
  if (o.stall) dev.faults.addByteFault({ direction: 'to-host', action: 'delay', atByte: o.stall.atByte, delayMs: o.stall.ms });
  const result = await withBoard({ port: host.url, transport: host, reset: 'none', baud: o.baud, clock: o.clock, syncTimeoutMs: o.syncTimeoutMs }, scriptedUi(), fn);
  return { result, counts: { ...counts } };
}

/** Counts what a run did so faults can be drawn over it (after a fault-free run). */
export function stepCounts(dev: VirtualEsp32): Record<StepKind, number> {
  const out: Record<StepKind, number> = { 'efuse-word': 0, 'flash-erase': 0, 'flash-program': 0 };
  for (const s of dev.faults.steps) out[s.kind]++;
  return out;
}
