import { strict as assert } from 'node:assert';
import { allCommands, runCli } from '../../src/cli/main';
import type { CliCommand } from '../../src/cli/command';

/** What `pycom-secure <command> --help` prints, through the CLI itself. */
async function helpOf(c: CliCommand): Promise<string> {
  const out: string[] = [];
  const code = await runCli([...c.name.split(' '), '--help'], { out: (l) => out.push(l), err: () => undefined });
  assert.equal(code, 0, `${c.name} --help`);
  return out.join('\n');
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** Other tools whose options a help text may name (`esptool --encrypt`). */
const OTHER_TOOLS = ['esptool.py', 'esptool', 'espefuse.py', 'espefuse', 'espsecure.py', 'espsecure', 'idf.py'];
/** Every other command's name and the other tools, longest first (`efuse burn-keys` before `flash`). */
const otherNames = (c: CliCommand): string[] => [...allCommands.filter((o) => o !== c).map((o) => o.name), ...OTHER_TOOLS].sort((a, b) => b.length - a.length);

/**
 * The options `text` names as this command's: every `--name`, except one that follows another
 * command's or tool's name (`flash --build then re-encrypts`, `esptool --encrypt`), with only
 * options and their VALUES between.
 */
function namedOptions(c: CliCommand, text: string): Set<string> {
  const other = new RegExp(`(?:^|[\\s\`(])(?:pycom-secure )?(?:${otherNames(c).map(escape).join('|')})(?:\\s+(?:--?[\\w-]+|[A-Z][A-Z0-9_./<>:-]*))*\\s+$`);
  const named = new Set<string>();
  for (const line of text.split('\n')) {
    for (const m of line.matchAll(/--([a-z][\w-]*)/g)) {
      if (!other.test(line.slice(0, m.index))) named.add(m[1]!);
    }
  }
  return named;
}

/**
 * Trial 6: `predict-boot --help` left out --baud, --reset, --board and --flash-size, which it takes.
 * For every command, the options its parser accepts (OptionSpec names) are exactly the ones its
 * --help names: none accepted but unlisted, none listed but refused.
 */
describe('every command\'s --help lists exactly the options it accepts', () => {
  for (const c of allCommands) {
    it(`${c.name}`, async () => {
      const help = await helpOf(c);
      const accepted = new Set(c.options.map((o) => o.name));
      const spellings = new Set(['help', ...c.options.flatMap((o) => [o.name, ...(o.aliases ?? []).map((a) => a.replace(/^-+/, ''))])]);
      const named = namedOptions(c, help);
      assert.deepEqual([...accepted].filter((o) => !named.has(o)), [], `${c.name} accepts these options but its --help does not list them`);
      assert.deepEqual([...named].filter((o) => !spellings.has(o)), [], `${c.name} --help lists these options but the command refuses them`);
    });
  }

  it('the check sees an option a command takes but does not list, and one it lists but does not take', async () => {
    const base = allCommands.find((c) => c.name === 'predict-boot')!;
    const hidden: CliCommand = { ...base, options: [...base.options, { name: 'made-up' }] };
    assert.ok(!namedOptions(hidden, await helpOf(base)).has('made-up'));
    // Another command's option after its name is not this command's; the same option alone is.
    const burn = allCommands.find((c) => c.name === 'efuse burn-keys')!;
    assert.ok(!namedOptions(burn, 'flash --build then re-encrypts').has('build'));
    assert.ok(namedOptions(burn, 'give --build DIR').has('build'));
    assert.ok(!namedOptions(burn, '(esptool --encrypt stops working)').has('encrypt'));
  });
});
