import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { runCli } from '../../../src/cli/main';

export interface CliResult {
  code: number;
  stdout: string[];
  stderr: string[];
}

export const ROOT = path.join(__dirname, '..', '..', '..');

/** Runs the CLI in this process with captured output (fast; same code path as the binary). */
export async function cli(argv: string[]): Promise<CliResult> {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = await runCli(argv, { out: (l) => stdout.push(l), err: (l) => stderr.push(l) });
  return { code, stdout, stderr };
}

/** Runs a CLI bundle from bundleCli() as a real child process, the way bin/pycom-secure.js does. */
export function cliProcess(bundle: string, argv: string[]): CliResult {
  const launcher = 'require(process.argv[1]).main()';
  // The bundle lives in a temp dir, so point module resolution at the repo for its externals.
  const env = { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') };
  const r = spawnSync(process.execPath, ['-e', launcher, bundle, ...argv], { encoding: 'utf8', env });
  const lines = (s: string): string[] => s.split('\n').filter((l) => l.length > 0);
  return { code: r.status ?? -1, stdout: lines(r.stdout), stderr: lines(r.stderr) };
}

/**
 * Bundles the CLI like scripts/build.mjs does, but into `dir`: the test must not depend on (or
 * overwrite) dist/, which also holds the extension bundle other work may have half-finished.
 */
export async function bundleCli(dir: string): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = path.join(dir, 'cli.js');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'src', 'cli', 'main.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'silent',
    external: ['vscode', 'serialport', '@serialport/*', 'pkcs11js'],
  });
  return outfile;
}
