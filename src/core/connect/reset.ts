import type { ModemSignals, Transport } from '../transport/transport';
import type { Clock } from '../loader/clock';

/**
 * DTR/RTS reset sequences (esptool's reset.py). Logical lines: true = asserted = pin low.
 * Standard wiring: RTS → EN, DTR → GPIO0 through the two-transistor circuit.
 */
export type ResetStep = { set: ModemSignals } | { wait: number };

export interface ResetSequence {
  name: string;
  steps: readonly ResetStep[];
}

/** esptool v4 ClassicReset: lines one at a time (works everywhere, incl. Windows). */
export function classicReset(delayMs: number): ResetSequence {
  return {
    name: `classic(${delayMs} ms)`,
    steps: [{ set: { dtr: false } }, { set: { rts: true } }, { wait: 100 }, { set: { dtr: true } }, { set: { rts: false } }, { wait: delayMs }, { set: { dtr: false } }],
  };
}

/** esptool v4 UnixTightReset: both lines in one call, so they never differ transiently. */
export function unixTightReset(delayMs: number): ResetSequence {
  return {
    name: `unix-tight(${delayMs} ms)`,
    steps: [
      { set: { dtr: false, rts: false } },
      { set: { dtr: true, rts: true } },
      { set: { dtr: false, rts: true } },
      { wait: 100 },
      { set: { dtr: true, rts: false } },
      { wait: delayMs },
      { set: { dtr: false, rts: false } },
      { set: { dtr: false } },
    ],
  };
}

/**
 * The esptool v2/v3 "esp32r0" variant for revision-0 chips on boards with too little EN
 * capacitance: EN held low 1.2 s longer, and GPIO0 held low 0.4 s longer so the spurious
 * watchdog reset such chips do still samples download mode (esptool v2/v3's esp32r0 delay).
 */
export function esp32r0Reset(): ResetSequence {
  return {
    name: 'esp32r0 (long delays)',
    steps: [{ set: { dtr: false } }, { set: { rts: true } }, { wait: 100 + 1200 }, { set: { dtr: true } }, { set: { rts: false } }, { wait: 400 }, { wait: 50 }, { set: { dtr: false } }],
  };
}

/** Reset into the app: EN pulsed low with GPIO0 released (esptool reset.py HardReset). */
export function hardReset(): ResetSequence {
  return { name: 'hard reset', steps: [{ set: { dtr: false, rts: true } }, { wait: 100 }, { set: { rts: false } }] };
}

/** The order classic attempts cycle through (esptool v4 plus the esp32r0 variant last). */
export function classicSchedule(platform: NodeJS.Platform = process.platform): ResetSequence[] {
  const long = 550;
  const base = platform === 'win32' ? [] : [unixTightReset(50), unixTightReset(long)];
  return [...base, classicReset(50), classicReset(long), esp32r0Reset()];
}

export async function runReset(t: Transport, seq: ResetSequence, clock: Clock): Promise<void> {
  for (const step of seq.steps) {
    if ('wait' in step) await clock.sleep(step.wait);
    else await t.setSignals(step.set);
  }
}
