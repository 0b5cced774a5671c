import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runCli } from '../../src/cli/main';
import type { CliIo } from '../../src/cli/command';
import { loadStateFile } from '../../src/core/virtual/state-file';

function io(): CliIo & { outLines: string[]; errLines: string[] } {
  const outLines: string[] = [];
  const errLines: string[] = [];
  return { outLines, errLines, out: (l) => outLines.push(l), err: (l) => errLines.push(l) };
}

describe('sim CLI', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'simcli-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('sim reset-state writes a fresh board file', async () => {
    const file = path.join(dir, 'b.json');
    const o = io();
    assert.equal(await runCli(['sim', 'reset-state', '--state', file, '--profile', 'fipy', '--coding-scheme', '3/4'], o), 0);
    assert.match(o.outLines.join('\n'), /fresh FiPy board \(MAC [0-9a-f:]{17}, 8 MB flash\)/);
    const dev = loadStateFile(file);
    assert.equal(dev.module.id, 'FIPY');
    assert.equal(dev.efuse.codingScheme, 1);
  });

  it('every new board has its own MAC unless --seed asks for the same one (burn records name MACs)', async () => {
    const macOf = async (argv: string[]): Promise<string> => {
      const o = io();
      assert.equal(await runCli(['sim', 'reset-state', '--state', path.join(dir, `${Math.random()}.json`), ...argv], o), 0);
      return /MAC ([0-9a-f:]{17})/.exec(o.outLines.join('\n'))![1]!;
    };
    assert.notEqual(await macOf([]), await macOf([]));
    assert.equal(await macOf(['--seed', 'same']), await macOf(['--seed', 'same']));
  });

  it('refuses bad options with one sentence', async () => {
    const o = io();
    assert.equal(await runCli(['sim', 'reset-state', '--state', path.join(dir, 'x.json'), '--profile', 'NOPE'], o), 2);
    assert.match(o.errLines.join('\n'), /Unknown board profile NOPE/);
    const p = io();
    assert.equal(await runCli(['sim', 'serve', '--coding-scheme', '2/3'], p), 2);
    assert.match(p.errLines.join('\n'), /--coding-scheme must be none or 3\/4/);
  });
});
