import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VERSION } from '../../src/core/version';

const root = path.join(__dirname, '..', '..');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

describe('architecture', () => {
  it('src/core never imports vscode (the CLI and the virtual device must run without the editor)', () => {
    const files = walk(path.join(root, 'src', 'core')).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 0);
    const offenders = files.filter((f) => /(from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\(\s*['"]vscode['"]\s*\))/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('src/core never imports from the editor or CLI layers', () => {
    const files = walk(path.join(root, 'src', 'core')).filter((f) => f.endsWith('.ts'));
    const offenders = files.filter((f) => /from\s+['"](\.\.\/)+(extension|cli)\//.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders, []);
  });

  it('the core version matches package.json', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
    assert.equal(VERSION, pkg.version);
  });
});
