import type { BenchModule, BenchResult } from './bench';
import { cryptoBench } from './crypto.bench';
import { flashBench } from './flash.bench';
import { provisionBench } from './provision.bench';

/** Add new benchmark modules here; each prints its own section. */
export const benchModules: BenchModule[] = [cryptoBench, flashBench, provisionBench];

function format(r: BenchResult): string {
  const value = r.value >= 100 ? r.value.toFixed(0) : r.value.toFixed(1);
  let mark = '';
  if (r.target !== undefined) {
    const ok = r.higherIsBetter ? r.value >= r.target : r.value <= r.target;
    mark = `  (target ${r.higherIsBetter ? '≥' : '<'} ${r.target} ${r.unit}: ${ok ? 'met' : 'MISSED'})`;
  }
  return `  ${r.name.padEnd(66)} ${value.padStart(8)} ${r.unit}${mark}`;
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${process.platform}/${process.arch}; medians of several runs`);
  for (const m of benchModules) {
    console.log(`\n${m.name}`);
    for (const r of await m.run()) console.log(format(r));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
