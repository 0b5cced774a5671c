import { strict as assert } from 'node:assert';
import { spawnSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * A fresh machine, as far as one test can make one: HOME is a new empty folder (no ~/.cache, no
 * ~/.npm, no ~/.npmrc) and the environment is what `npm test` / `npm start` on Node 20 with npm 10
 * hands its scripts (npm_config_user_agent says node/v20, among the other npm_* variables). The
 * setup and the code-server install must work from there and code-server must answer on loopback.
 * code-server's own install script reads the Node version from npm_config_user_agent and refuses
 * "node v20", which is how a filled cache once hid a broken `npm test` on every new machine.
 */
const repo = path.join(__dirname, '..', '..');

function npmLikeEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(npm_|NPM_)/.test(k) && k !== 'PYCOM_SECURE_CACHE' && k !== 'INIT_CWD') env[k] = v;
  return {
    ...env,
    HOME: home,
    npm_config_user_agent: 'npm/10.8.2 node/v20.20.2 linux x64 workspaces/false',
    npm_lifecycle_event: 'test',
    npm_command: 'run-script',
    npm_node_execpath: process.execPath,
    npm_config_cache: path.join(home, '.npm'),
    npm_config_prefix: path.join(home, '.npm-global'),
    INIT_CWD: repo,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address() as net.AddressInfo;
      s.close(() => resolve(a.port));
    });
    s.on('error', reject);
  });
}

function status(url: string): Promise<number> {
  return new Promise((resolve) => {
    http.get(url, (r) => {
      r.resume();
      resolve(r.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
}

describe('a fresh machine (empty HOME, npm 10 on Node 20 environment)', function () {
  let home: string;
  before(() => {
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-fresh-home-'));
  });
  after(() => {
    fs.rmSync(home, { recursive: true, force: true });
  });

  it('scripts/setup.sh succeeds', () => {
    const r = spawnSync('bash', ['scripts/setup.sh'], { cwd: repo, env: npmLikeEnv(home), encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    assert.ok(fs.existsSync(path.join(repo, 'dist', 'cli.js')), 'the CLI is built');
  });

  it('installs code-server into the empty HOME, and it starts and answers on 127.0.0.1', async () => {
    const env = npmLikeEnv(home);
    const install = spawnSync('bash', ['scripts/code-server.sh', 'install'], { cwd: repo, env, encoding: 'utf8' });
    assert.equal(install.status, 0, `code-server install failed:\n${install.stdout}\n${install.stderr}`);
    assert.ok(!/requires node v24/.test(install.stderr), install.stderr);
    assert.ok(fs.existsSync(path.join(home, '.cache', 'pycom-secure')), 'everything it installs lives in HOME/.cache/pycom-secure');

    const port = await freePort();
    const state = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-fresh-cs-'));
    const ws = path.join(state, 'ws');
    fs.mkdirSync(ws);
    // cs_start waits for /healthz; the test then asks the editor's page itself.
    const start = spawn('bash', ['-c', `source scripts/code-server.sh && cs_start ${port} "${state}" "${state}/ext" "${ws}" && echo started`], { cwd: repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    start.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    start.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const code = await new Promise<number | null>((resolve) => start.on('close', resolve));
    const pidFile = path.join(state, 'code-server.pid');
    try {
      assert.equal(code, 0, `code-server did not start:\n${out}`);
      assert.equal(await status(`http://127.0.0.1:${port}/healthz`), 200);
      assert.equal(await status(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws)}`), 200, 'the editor page is served');
    } finally {
      if (fs.existsSync(pidFile)) {
        try { process.kill(Number(fs.readFileSync(pidFile, 'utf8'))); } catch { /* already gone */ }
      }
      fs.rmSync(state, { recursive: true, force: true });
    }
  });
});
