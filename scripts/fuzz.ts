/**
 * The longer fuzz budget (issue 7): every parser of outside input, `--runs` inputs each (default
 * 20000; file-backed targets get a fraction), with a printed seed.
 *   npm run fuzz                 npm run fuzz -- --runs 100000 --seed 123
 */
import { runFuzz } from '../test/fuzz/targets';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(arg('runs') ?? 20000);
const seed = Number(arg('seed') ?? Date.now() % 2 ** 31);
console.log(`Fuzzing with seed ${seed} (replay: npm run fuzz -- --seed ${seed} --runs ${runs})`);
runFuzz(runs, seed, (l) => console.log(l)).then(
  () => console.log('No crash, hang or unclear rejection.'),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
