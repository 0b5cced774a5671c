import { runCli } from '../../../src/cli/main';

/**
 * Runs one CLI invocation in this process and collects what it printed: by default each line
 * followed by "\n" (as a terminal shows it); `joined` gives the lines joined with "\n" and no
 * trailing newline.
 */
export async function cli(argv: string[], o: { joined?: boolean } = {}): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) });
  const text = (lines: string[]) => (o.joined ? lines.join('\n') : lines.map((l) => `${l}\n`).join(''));
  return { code, out: text(out), err: text(err) };
}
