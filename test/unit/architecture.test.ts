import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { VERSION } from '../../src/core/version';
import { findCycles, importGraph, importsOf, resolveImport, tsFiles } from './helpers/import-graph';

const root = path.join(__dirname, '..', '..');
const src = path.join(root, 'src');
const core = path.join(src, 'core');
const coreIndex = path.join(core, 'index.ts');
const rel = (f: string): string => path.relative(root, f);

/** [file, specifier, resolved file] for every relative import in `files`. */
function edges(files: readonly string[]): [string, string, string][] {
  return files.flatMap((f) => importsOf(fs.readFileSync(f, 'utf8')).flatMap((s) => {
    const to = resolveImport(f, s);
    return to ? [[f, s, to] as [string, string, string]] : [];
  }));
}

describe('architecture', () => {
  it('src/core never imports vscode (the CLI and the virtual device must run without the editor)', () => {
    const files = tsFiles(core);
    assert.ok(files.length > 0);
    const offenders = files.filter((f) => importsOf(fs.readFileSync(f, 'utf8')).includes('vscode'));
    assert.deepEqual(offenders.map(rel), []);
  });

  it('src/core imports nothing outside src/core (no editor, CLI, webview, test or script code)', () => {
    const offenders = edges(tsFiles(core)).filter(([, , to]) => !to.startsWith(core + path.sep)).map(([f, s]) => `${rel(f)} imports ${s}`);
    assert.deepEqual(offenders, []);
  });

  it('the CLI and the editor import the core only through src/core/index.ts', () => {
    const files = [...tsFiles(path.join(src, 'cli')), ...tsFiles(path.join(src, 'extension'))];
    assert.ok(files.length > 10);
    const through = edges(files).filter(([, , to]) => to.startsWith(core + path.sep));
    assert.ok(through.length > 0, 'the front ends use the core');
    const offenders = through.filter(([, , to]) => to !== coreIndex).map(([f, s]) => `${rel(f)} imports ${s}`);
    assert.deepEqual(offenders, []);
  });

  it('the checker sees a deep import, a require and a cycle when there is one (so the rules above can fail)', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arch-'));
    try {
      fs.writeFileSync(path.join(dir, 'a.ts'), "import { b } from './b';\nexport const a = b;\n");
      fs.writeFileSync(path.join(dir, 'b.ts'), "import type { a } from './a';\nexport const b = 1;\nexport type A = typeof a;\n");
      fs.writeFileSync(path.join(dir, 'c.ts'), "const x = require('./a');\nexport { x };\n");
      const g = importGraph(tsFiles(dir));
      assert.deepEqual(g.get(path.join(dir, 'c.ts')), [path.join(dir, 'a.ts')]);
      assert.equal(findCycles(g).length, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('there is no import cycle anywhere in src/ (type-only imports included)', () => {
    const cycles = findCycles(importGraph(tsFiles(src)));
    assert.deepEqual(cycles.map((c) => c.map(rel).join(' -> ')), []);
  });

  it('the core version matches package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
