import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allCommands } from '../../src/cli/main';
import { checkText, type Known } from './helpers/message-scan';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: { commands: { title: string }[]; configuration: { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[] };
};
const conf = pkg.contributes.configuration;
const settingKeys = (Array.isArray(conf) ? conf : [conf]).flatMap((c) => Object.keys(c.properties));
const known: Known = {
  commands: new Map(allCommands.map((c) => [c.name, new Set(['help', ...c.options.flatMap((o) => [o.name, ...(o.aliases ?? []).filter((a) => !a.startsWith('-'))])])])),
  settings: new Set(settingKeys.map((k) => k.replace(/^pycom\./, ''))),
  titles: new Set(pkg.contributes.commands.map((c) => c.title)),
};
const read = (rel: string): string => fs.readFileSync(path.join(root, rel), 'utf8');
const docs = ['README.md', 'CONTRIBUTING.md', ...fs.readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/**
 * Issue 17: the documentation by reader stays true to the product. Every `pycom-secure <command>
 * --flag`, pycom.<setting> and "Pycom: <Title>" in the README and docs/ exists (the same scan as
 * messages-name-real-things.test.ts), docs/cli.md names every command and option of the CLI's
 * command table, and docs/editor.md every setting and command title of package.json.
 */
describe('the documentation names real things, and the references are complete', () => {
  it('every command, flag, setting and command title named in the README, CONTRIBUTING.md and docs/ exists', () => {
    const problems = docs.flatMap((rel) =>
      read(rel)
        .split('\n')
        .flatMap((line, i) => checkText(line, known).map((p) => `${rel}:${i + 1}: ${p}`)),
    );
    assert.deepEqual(problems, []);
  });

  it('docs/cli.md names every CLI command and every option', () => {
    const cli = read('docs/cli.md');
    const missing: string[] = [];
    for (const c of allCommands) {
      if (!cli.includes(`\`${c.name}`) && !cli.includes(` ${c.name} `)) missing.push(c.name);
      for (const o of c.options) if (!new RegExp(`--${o.name}(?![\\w-])`).test(cli)) missing.push(`${c.name} --${o.name}`);
    }
    assert.deepEqual(missing, []);
  });

  it('docs/editor.md names every setting and every command title (but the test hooks, enabled only by PYCOM_SECURE_INTEGRATION_* variables)', () => {
    const editor = read('docs/editor.md');
    const titles = [...known.titles].filter((t) => !t.endsWith('(test hook)'));
    assert.ok(titles.length < known.titles.size, 'the test-hook titles are still named "(test hook)"');
    const missing = [...settingKeys.filter((k) => !editor.includes(`\`${k}\``)), ...titles.filter((t) => !editor.includes(t))];
    assert.deepEqual(missing, []);
  });
});
