import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { allCommands } from '../../src/cli/main';
import { tsFiles } from './helpers/import-graph';
import { checkText, scanSource, type Known } from './helpers/message-scan';

const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  contributes: { commands: { title: string }[]; configuration: { properties: Record<string, unknown> } | { properties: Record<string, unknown> }[] };
};

/** What exists: the CLI's command table (with every option, plus --help) and the editor's settings and titles. */
function known(): Known {
  const commands = new Map(allCommands.map((c) => [c.name, new Set(['help', ...c.options.flatMap((o) => [o.name, ...(o.aliases ?? []).filter((a) => !a.startsWith('-'))])])]));
  const conf = pkg.contributes.configuration;
  const settings = new Set((Array.isArray(conf) ? conf : [conf]).flatMap((c) => Object.keys(c.properties)).map((k) => k.replace(/^pycom\./, '')));
  const titles = new Set(pkg.contributes.commands.map((c) => c.title));
  return { commands, settings, titles };
}

/**
 * String literals that are not messages although they contain a mention-shaped phrase; each
 * needs a reason. Keyed by "file: text fragment".
 */
const NOT_MESSAGES: readonly [string, string, string][] = [
  ['src/core/virtual/profiles.ts', 'pycom-secure virtual', 'seed of the virtual boards\' MAC/key derivation (changing it changes every virtual board)'],
];

describe('messages name real things (issue #12 E)', () => {
  const k = known();

  it('every `pycom-secure <command> --flag`, pycom.<setting> and "Pycom: <Title>" in src/ exists', () => {
    assert.ok(k.commands.has('flash') && k.commands.get('flash')!.has('dry-run'), 'the command table is read');
    assert.ok(k.settings.has('firmwarePath') && k.titles.has('Burn Keys'), 'package.json is read');
    const files = ['cli', 'core', 'extension'].flatMap((d) => tsFiles(path.join(root, 'src', d)));
    assert.ok(files.length > 50);
    const findings = files.flatMap((f) => {
      const rel = path.relative(root, f).split(path.sep).join('/');
      return scanSource(fs.readFileSync(f, 'utf8'), rel, k)
        .filter((x) => !NOT_MESSAGES.some(([file, frag]) => file === rel && x.problem.includes(frag)))
        .map((x) => `${x.file}:${x.line}: ${x.problem}`);
    });
    assert.deepEqual(findings, []);
  });

  it('the scan scans: mentions are found in plain strings and in template literals', () => {
    const src = [
      'throw new UserError("E_X", "create it with `pycom-secure keys generate` first.");',
      'io.err(`retry with \\`pycom-secure flash --port ${p} --nope\\``);',
      "void vscode.window.showInformationMessage('Set pycom.noSuchSetting first.');",
      "ui.warn('Run \"Pycom: Frobnicate Board\" first.');",
      "const ok = 'run `pycom-secure device list`, set pycom.board, then \"Pycom: Burn Keys\".';",
      'const id = "pycom.readEfuses"; const seen = `${x} pycom-secure ${cmd.name}`;',
      "const py = 'ask the board: pycom.ota_slot() in its REPL';",
    ].join('\n');
    const found = scanSource(src, 'fake.ts', k).map((f) => `${f.line}: ${f.problem}`);
    assert.deepEqual(found, [
      '1: names `pycom-secure keys generate`, which is not a command',
      '2: names `pycom-secure flash --nope`, but flash has no option --nope',
      '3: names the setting pycom.noSuchSetting, which package.json does not contribute',
      '4: names "Pycom: Frobnicate Board", which is not a command title',
    ]);
  });

  it('a flag is checked against the command it follows, and two-word commands are recognised', () => {
    assert.deepEqual(checkText('run `pycom-secure sim reset-state --state s.json`', k), []);
    assert.deepEqual(checkText('run `pycom-secure sim reset-state --port 1`', k), ['names `pycom-secure sim reset-state --port`, but sim reset-state has no option --port']);
    assert.deepEqual(checkText('run `pycom-secure efuse summary`', k), []);
    assert.deepEqual(checkText('run `pycom-secure efuse frobnicate`', k), ['names `pycom-secure efuse frobnicate`, which is not a command']);
  });
});
