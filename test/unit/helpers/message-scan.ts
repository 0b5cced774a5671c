import * as ts from 'typescript';

/**
 * Finds mentions of real things in the string literals of a TypeScript source and checks that
 * each one exists: `pycom-secure <command> [--flag ...]` against the CLI's command table,
 * `pycom.<setting>` against package.json's settings, and "Pycom: <Title>" against the
 * editor's command titles. Substitutions (`${...}`) are kept as a NUL so a mention built at run
 * time (`pycom-secure ${cmd.name}`) is not mistaken for a command.
 */
export interface Known {
  /** Command name ("flash", "device list") -> its long options without "--" ("port", "help"). */
  commands: Map<string, Set<string>>;
  settings: Set<string>;
  titles: Set<string>;
}

export interface Finding {
  file: string;
  line: number;
  problem: string;
}

const SUB = '\u0000';
/** "Pycom: " then a capitalised title, up to the next substitution. */
const TITLE_MENTION = new RegExp(`Pycom: ([A-Z][^${SUB}]*)`, 'g');

/** Every string and template literal of `source`, with its 1-based line. */
export function stringLiterals(source: string, file: string): { text: string; line: number }[] {
  const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const out: { text: string; line: number }[] = [];
  const visit = (n: ts.Node): void => {
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) out.push({ text: n.text, line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1 });
    else if (ts.isTemplateExpression(n)) {
      out.push({ text: n.head.text + n.templateSpans.map((s) => SUB + s.literal.text).join(''), line: sf.getLineAndCharacterOfPosition(n.getStart()).line + 1 });
    }
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

/** The text a command mention governs: up to a closing backtick, a quote, a bracket, a semicolon, a sentence end. */
function mentionSpan(rest: string): string {
  const m = /[`"'),;]|\.(\s|$)/.exec(rest);
  return m ? rest.slice(0, m.index) : rest;
}

/** Problems in one literal's text. */
export function checkText(text: string, known: Known): string[] {
  const problems: string[] = [];
  for (const m of text.matchAll(/pycom-secure ([a-z][a-z0-9_-]*)(?: ([a-z][a-z0-9_-]*))?/g)) {
    const two = m[2] ? `${m[1]} ${m[2]}` : undefined;
    const name = two && known.commands.has(two) ? two : m[1]!;
    const flags = known.commands.get(name);
    if (!flags) {
      problems.push(`names \`pycom-secure ${two ?? name}\`, which is not a command`);
      continue;
    }
    const after = text.slice(m.index + `pycom-secure ${name}`.length);
    for (const f of mentionSpan(after).matchAll(/(?:^|\s)--([a-z][a-z0-9-]*)/g)) {
      if (!flags.has(f[1]!)) problems.push(`names \`pycom-secure ${name} --${f[1]}\`, but ${name} has no option --${f[1]}`);
    }
  }
  // A setting named in prose; a literal that is only an identifier is an id (command, view,
  // context value), and `pycom.name(` is the MicroPython pycom module's API, not a setting.
  if (/\s/.test(text)) {
    for (const m of text.matchAll(/(?<![\w.])pycom\.([A-Za-z_][\w.]*\w|[A-Za-z_])(?!\w|\()/g)) {
      if (!known.settings.has(m[1]!)) problems.push(`names the setting pycom.${m[1]}, which package.json does not contribute`);
    }
  }
  for (const m of text.matchAll(TITLE_MENTION)) {
    const rest = m[1]!;
    const ok = [...known.titles].some((t) => rest.startsWith(t) && !/^[A-Za-z]/.test(rest.slice(t.length)));
    if (!ok) problems.push(`names "Pycom: ${rest.split(/[:.;,!?"'`]/)[0]}", which is not a command title`);
  }
  return problems;
}

/** All problems in a source file. */
export function scanSource(source: string, file: string, known: Known): Finding[] {
  return stringLiterals(source, file).flatMap((l) => checkText(l.text, known).map((problem) => ({ file, line: l.line, problem })));
}
