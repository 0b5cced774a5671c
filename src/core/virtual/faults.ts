/**
 * Fault injection for tests and fault campaigns: byte-level link faults in either direction and
 * power loss at a chosen internal step. A power loss aborts the step *before* it happens, so the
 * board keeps exactly the partial state a real chip could have (e.g. some eFuse words programmed,
 * a flash sector erased but its data not yet written). The board then stays silent until reset.
 */
export type Direction = 'to-device' | 'to-host';

/** Atomic internal operations a power loss can interrupt. */
export type StepKind = 'efuse-word' | 'flash-erase' | 'flash-program';

export interface ByteFault {
  direction: Direction;
  action: 'drop' | 'corrupt' | 'delay';
  /** Index (0-based) of the first affected byte in that direction's stream since the rule was added. */
  atByte: number;
  /** How many consecutive bytes are affected (default 1). */
  count?: number;
  /** corrupt: value XOR-ed into the byte (default 0xFF; never 0). */
  xor?: number;
  /** delay: milliseconds the chunk holding the byte is held back. */
  delayMs?: number;
}

export interface PowerLossPlan {
  /** Which kind of step counts; 'any' counts all. */
  kind: StepKind | 'any';
  /** Power is lost just before the N-th (1-based) counted step. */
  step: number;
}

export interface FaultOptions {
  bytes?: ByteFault[];
  powerLoss?: PowerLossPlan;
}

export class PowerLoss extends Error {
  constructor(readonly kind: StepKind, readonly step: number) {
    super(`power lost before ${kind} step ${step}`);
    this.name = 'PowerLoss';
  }
}

export interface StepRecord {
  kind: StepKind;
  detail: string;
}

export class Faults {
  private readonly rules: Array<ByteFault & { seen: number }> = [];
  private powerLoss: PowerLossPlan | undefined;
  private counted = 0;
  /** Every step performed (useful to pick N for a campaign). */
  readonly steps: StepRecord[] = [];
  /** Set once power was lost. */
  lost: PowerLoss | undefined;

  constructor(opts: FaultOptions = {}) {
    for (const r of opts.bytes ?? []) this.addByteFault(r);
    this.powerLoss = opts.powerLoss;
  }

  addByteFault(rule: ByteFault): void {
    this.rules.push({ ...rule, seen: 0 });
  }

  clearByteFaults(): void {
    this.rules.length = 0;
  }

  /** Arms (or disarms with undefined) a power loss; the step counter restarts. */
  setPowerLoss(plan: PowerLossPlan | undefined): void {
    this.powerLoss = plan;
    this.counted = 0;
    this.lost = undefined;
  }

  /** Called before each atomic operation; throws PowerLoss at the armed step. */
  step(kind: StepKind, detail: string): void {
    const plan = this.powerLoss;
    if (plan && (plan.kind === 'any' || plan.kind === kind)) {
      this.counted++;
      if (this.counted === plan.step) {
        this.powerLoss = undefined;
        this.lost = new PowerLoss(kind, plan.step);
        throw this.lost;
      }
    }
    this.steps.push({ kind, detail });
  }

  /** Applies the byte rules to a chunk; returns the bytes to deliver and how long to hold them. */
  filter(direction: Direction, chunk: Buffer): { data: Buffer; delayMs: number } {
    const active = this.rules.filter((r) => r.direction === direction);
    if (active.length === 0) return { data: chunk, delayMs: 0 };
    const out: number[] = [];
    let delayMs = 0;
    for (const b of chunk) {
      let keep = true;
      let v = b;
      for (const r of active) {
        const i = r.seen;
        const hit = i >= r.atByte && i < r.atByte + (r.count ?? 1);
        if (hit) {
          if (r.action === 'drop') keep = false;
          else if (r.action === 'corrupt') v ^= r.xor || 0xff;
          else delayMs = Math.max(delayMs, r.delayMs ?? 0);
        }
      }
      for (const r of active) r.seen++;
      if (keep) out.push(v);
    }
    return { data: Buffer.from(out), delayMs };
  }
}
