/** Shared shape of a benchmark module: bench/run.ts runs every module in its list. */

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  /** Optional target, for a pass/miss marker: lower is better unless higherIsBetter. */
  target?: number;
  higherIsBetter?: boolean;
}

export interface BenchModule {
  name: string;
  run(): Promise<BenchResult[]> | BenchResult[];
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median wall time in milliseconds of `runs` calls, after one warm-up call. */
export async function timeMs(runs: number, fn: () => unknown): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  return median(times);
}
