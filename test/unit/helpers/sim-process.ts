import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { bundleCli, ROOT } from '../vectors/cli-harness';

/** How to start this tool's CLI as its own process. */
export interface CliLauncher {
  argv: string[];
  env: NodeJS.ProcessEnv;
}

/**
 * The built launcher (bin/pycom-secure.js → dist/cli.js) when the build exists (the README's test
 * command builds first); otherwise a fresh bundle of the same sources stands in for it.
 */
export async function cliLauncher(): Promise<CliLauncher> {
  if (fs.existsSync(path.join(ROOT, 'dist', 'cli.js'))) return { argv: [path.join(ROOT, 'bin', 'pycom-secure.js')], env: process.env };
  const bundle = await bundleCli(fs.mkdtempSync(path.join(os.tmpdir(), 'cli-bundle-')));
  return { argv: ['-e', 'require(process.argv[1]).main()', bundle], env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') } };
}

/** Starts `pycom-secure sim serve ARGS` (with `--port 0`) and waits for the port it listens on. */
export async function serveSimProcess(cmd: CliLauncher, args: string[]): Promise<{ server: ChildProcessWithoutNullStreams; port: number }> {
  const server = spawn(process.execPath, [...cmd.argv, 'sim', 'serve', '--port', '0', ...args], { env: cmd.env });
  const port = await new Promise<number>((resolve, reject) => {
    let text = '';
    let errText = '';
    server.stderr.on('data', (d: Buffer) => (errText += d.toString()));
    server.stdout.on('data', (d: Buffer) => {
      text += d.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(text);
      if (m) resolve(Number(m[1]));
    });
    server.once('exit', (code) => reject(new Error(`sim serve exited with ${code}: ${errText}`)));
  });
  return { server, port };
}
