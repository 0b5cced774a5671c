import type { BenchModule, BenchResult } from './bench';
import { cryptoBench } from './crypto.bench';
import { cliFlashBench } from './cli-flash.bench';
import { provisionBench } from './provision.bench';

/** Add new benchmark modules here; each prints its own section. BENCH_QUICK=1: the quick flash case only. */
export const benchModules: BenchModule[] = process.env['BENCH_QUICK'] === '1' ? [cliFlashBench] : [cryptoBench, cliFlashBench, provisionBench];

function format(r: BenchResult): string {
  const value = r.value >= 100 ? r.value.toFixed(0) : r.value >= 10 ? r.value.toFixed(1) : r.value.toFixed(2);
  let mark = '';
  if (r.target !== undefined) {
    const ok = r.higherIsBetter ? r.value >= r.target : r.value <= r.target;
    mark = `  (target ${r.higherIsBetter ? '≥' : '<'} ${r.target} ${r.unit}: ${ok ? 'met' : 'MISSED'})`;
  }
  return `  ${r.name.padEnd(66)} ${value.padStart(8)} ${r.unit}${mark}`;
}

async function main(): Promise<void> {
  const os = await import('node:os');
  console.log(`node ${process.version}, ${process.platform}/${process.arch}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}, ${new Date().toISOString()}; medians of several runs`);
  for (const m of benchModules) {
    console.log(`\n${m.name}`);
    for (const r of await m.run()) console.log(format(r));
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
