/**
 * The failure and warning lines of Pycom's secure build, recognised from make's streamed output.
 * Every class below was seen in the real pycom-micropython-sigfox makefiles and tools (tags cited
 * per class); a line that matches none is plain output. The build summary counts what is parsed
 * here and quotes the first real error, and the editor's problem matchers (package.json, written
 * from PROBLEM_MATCHERS by scripts/gen-catalog.ts) catch the same lines.
 */
export type DiagnosticKind =
  /** gcc/as `file:line[:col]: error|warning|note: msg` (the column is optional: gcc omits it for some lines). */
  | 'compiler'
  /** Linker `file:(.text+0x1c): undefined reference to 'x'`, `ld: ...`, `collect2: error: ...`. */
  | 'linker'
  /** make itself: `Makefile:14: *** Invalid BOARD specified.  Stop.`, `make: *** No rule ...  Stop.`, `make: *** [...] Error 1`. */
  | 'make'
  /** espsecure.py / esptool.py: `A fatal error occurred: ...` (esptool's FatalError text). */
  | 'espsecure'
  /** tools/idfVerCheck.sh (v1.20.2.r4 esp32/Makefile runs it): `Incompatible IDF git hash:`. */
  | 'idf'
  /** The makefile's echoed key check (v1.18.2.r7 application.mk about 453-460): `Secure boot signing key '...' missing.` */
  | 'key'
  /** The toolchain or a tool cannot be run: `xtensa-esp32-elf-gcc: command not found`, `make: x: Command not found`. */
  | 'toolchain';

export interface Diagnostic {
  kind: DiagnosticKind;
  /** Source file as printed (relative to esp32/ for Pycom's build), when the line names one. */
  file?: string;
  /** 1-based line in `file`, when the line gives one. */
  line?: number;
  column?: number;
  severity: 'error' | 'warning' | 'note';
  message: string;
  /** The whole line as make printed it (quoted in the summary). */
  text: string;
  /**
   * True for make's `make: *** [target] Error N` lines: they report that a recipe failed, not why;
   * the summary's "first error" skips them when a line saying why exists.
   */
  consequence?: boolean;
}

interface LineRule {
  kind: DiagnosticKind;
  re: RegExp;
  parse(m: RegExpExecArray): Omit<Diagnostic, 'kind' | 'text'>;
}

const sev = (s: string): Diagnostic['severity'] => (/error/i.test(s) ? 'error' : s === 'warning' ? 'warning' : 'note');

// The file part may hold a Windows drive letter (`C:\x.c`), hence the non-greedy start.
const FILE = '((?:[A-Za-z]:)?[^:\\s][^:]*?)';

/** In order: the first rule that matches a line decides it. */
const RULES: readonly LineRule[] = [
  // make with a makefile location: `Makefile:65: *** PYGATE variant is not supported on GPY.  Stop.` (v1.20.2.r4 Makefile about 65).
  { kind: 'make', re: new RegExp(`^${FILE}:(\\d+): \\*\\*\\* (.*?)\\s*$`), parse: (m) => ({ file: m[1]!, line: Number(m[2]), severity: 'error', message: stripStop(m[3]!) }) },
  // make without one: `make: *** No rule to make target '...', needed by 'all'.  Stop.` and `make[1]: *** [x] Error 2`.
  { kind: 'make', re: /^g?make(?:\[\d+\])?: \*\*\* (.*?)\s*$/, parse: (m) => ({ severity: 'error', message: stripStop(m[1]!), ...(/^\[.*\] Error \d+/.test(m[1]!) ? { consequence: true } : {}) }) },
  // any other `*** ... Stop.` (a sub-make or a script imitating make).
  { kind: 'make', re: /^\*\*\* (.*Stop\.)\s*$/, parse: (m) => ({ severity: 'error', message: stripStop(m[1]!) }) },
  // make cannot run a program: `make: xtensa-esp32-elf-gcc: Command not found` (toolchain missing from PATH).
  { kind: 'toolchain', re: /^g?make(?:\[\d+\])?: (\S+): (?:Command not found|No such file or directory)\s*$/, parse: (m) => ({ severity: 'error', message: `${m[1]!} could not be run (not found)` }) },
  // a shell cannot: `/bin/sh: 1: xtensa-esp32-elf-gcc: not found`, `bash: line 1: x: command not found`.
  { kind: 'toolchain', re: /^(?:\/bin\/\w*sh|sh|bash|dash)(?:: line \d+|: \d+)?: (\S+): (?:command )?not found\s*$/, parse: (m) => ({ severity: 'error', message: `${m[1]!} could not be run (not found)` }) },
  // espsecure/esptool (FatalError): `A fatal error occurred: Key file contains wrong length (16 bytes), 32 expected.`
  { kind: 'espsecure', re: /^A fatal error occurred: (.*?)\s*$/, parse: (m) => ({ severity: 'error', message: m[1]! }) },
  // tools/idfVerCheck.sh (v1.20.2.r4): the banner line `Incompatible IDF git hash:`.
  { kind: 'idf', re: /^\s*(Incompatible IDF git hash):?\s*$/, parse: () => ({ severity: 'error', message: 'Incompatible IDF git hash: IDF_PATH is not at the commit esp32/Makefile pins (IDF_HASH)' }) },
  // the echoed key checks (v1.18.2.r7 application.mk about 453-460; same text up to v1.20.3.b3).
  { kind: 'key', re: /^(Secure boot signing key '.*' missing\..*?)\s*$/, parse: (m) => ({ severity: 'error', message: m[1]! }) },
  { kind: 'key', re: /^WARNING: (Encryption key '.*' missing\..*?)\s*$/, parse: (m) => ({ severity: 'error', message: m[1]! }) },
  // linker: `lib.a(x.o):(.text+0x1c): undefined reference to 'f'` and `x.c:12: undefined reference to 'f'`.
  { kind: 'linker', re: new RegExp(`^${FILE}:(?:(\\d+)|\\(.*?\\)):\\s*(undefined reference to .*?)\\s*$`), parse: (m) => ({ file: m[1]!, ...(m[2] ? { line: Number(m[2]) } : {}), severity: 'error', message: m[3]! }) },
  { kind: 'linker', re: /^(?:\S*[/\\])?(?:xtensa-esp32-elf-)?(?:ld|collect2)(?:\.exe)?: (?:(error|warning): )?(.*?)\s*$/, parse: (m) => ({ severity: m[1] === 'warning' ? 'warning' : 'error', message: m[2]! }) },
  // gcc/as, with or without a column.
  { kind: 'compiler', re: new RegExp(`^${FILE}:(\\d+):(?:(\\d+):)?\\s+(fatal error|error|warning|note):\\s+(.*?)\\s*$`), parse: (m) => ({ file: m[1]!, line: Number(m[2]), ...(m[3] ? { column: Number(m[3]) } : {}), severity: sev(m[4]!), message: m[5]! }) },
  // gcc/cc1 about no file: `xtensa-esp32-elf-gcc: error: x.c: No such file or directory`, `cc1: fatal error: ...`.
  { kind: 'toolchain', re: /^(?:\S*[/\\])?(?:xtensa-esp32-elf-[\w+-]+|cc1(?:plus)?|gcc|as)(?:\.exe)?: (fatal error|error|warning): (.*?)\s*$/, parse: (m) => ({ severity: sev(m[1]!), message: m[2]! }) },
];

function stripStop(s: string): string {
  return s.replace(/\.?\s+Stop\.$/, '').trim();
}

/** The diagnostic a line of build output holds, or undefined for plain output. */
export function parseDiagnostic(line: string): Diagnostic | undefined {
  const text = line.replace(/\r$/, '');
  for (const r of RULES) {
    const m = r.re.exec(text);
    if (m) return { kind: r.kind, ...r.parse(m), text };
  }
  return undefined;
}

/**
 * The error the summary names: the first error that says why (skipping make's `[target] Error N`
 * consequences), or the first consequence when nothing else was printed.
 */
export function firstError(ds: readonly Diagnostic[]): Diagnostic | undefined {
  const errors = ds.filter((d) => d.severity === 'error');
  return errors.find((d) => !d.consequence) ?? errors[0];
}

/** Counts by severity. */
export function countDiagnostics(ds: readonly Diagnostic[]): { errors: number; warnings: number } {
  return { errors: ds.filter((d) => d.severity === 'error').length, warnings: ds.filter((d) => d.severity === 'warning').length };
}

/** A VS Code problem matcher as package.json's `contributes.problemMatchers` holds it. */
export interface ProblemMatcherContribution {
  name: string;
  owner: string;
  source: string;
  fileLocation: [string, string];
  severity?: 'error' | 'warning';
  pattern: { regexp: string; kind?: 'file' | 'location'; file: number; line?: number; column?: number; severity?: number; message: number };
}

const matcher = (name: string, pattern: ProblemMatcherContribution['pattern'], severity?: 'error'): ProblemMatcherContribution => ({
  name,
  owner: 'pycom',
  source: 'pycom',
  fileLocation: ['autoDetect', '${workspaceFolder}'],
  ...(severity ? { severity } : {}),
  pattern,
});

/**
 * The editor's problem matchers for the build task, one per line class above (a VS Code matcher
 * has one pattern; the task lists all of them). Lines that name no file are reported against the
 * tool that printed them (`make`, `espsecure`, ...), as a whole-file problem.
 */
export const PROBLEM_MATCHERS: readonly ProblemMatcherContribution[] = [
  // gcc/as lines, with or without a column.
  matcher('pycom-build', { regexp: `^${FILE}:(\\d+):(?:(\\d+):)?\\s+(fatal error|error|warning|note):\\s+(.*?)\\s*$`, file: 1, line: 2, column: 3, severity: 4, message: 5 }),
  // make with a makefile location, and the linker's undefined references.
  matcher('pycom-build-make', { regexp: `^${FILE}:(\\d+): (\\*\\*\\* .*?)\\s*$`, file: 1, line: 2, message: 3 }, 'error'),
  matcher('pycom-build-linker', { regexp: `^${FILE}:(?:(\\d+)|\\(.*?\\)):\\s*(undefined reference to .*?)\\s*$`, file: 1, line: 2, message: 3 }, 'error'),
  // A tool's own failure line (make, collect2, ld, the toolchain, a shell): reported against the tool.
  matcher('pycom-build-tool', { regexp: '^([^\\s:]+)(?:\\[\\d+\\])?: ((?:\\*\\*\\* |(?:fatal )?error: |(?:line )?\\d*:? ?\\S+: (?:[Cc]ommand )?not found).*?)\\s*$', kind: 'file', file: 1, message: 2 }, 'error'),
  // espsecure/esptool fatal errors, a bare `*** ... Stop.`, the IDF hash check: reported against the line's lead words.
  matcher('pycom-build-fatal', { regexp: '^(A fatal error occurred|\\*\\*\\*|Incompatible IDF git hash):? ?(.*?)\\s*$', kind: 'file', file: 1, message: 2 }, 'error'),
  // The makefile's echoed missing-key message: reported against the key file it names.
  matcher('pycom-build-key', { regexp: "^(?:WARNING: )?((?:Secure boot signing key|Encryption key) '(.*)' missing\\..*?)\\s*$", kind: 'file', file: 2, message: 1 }, 'error'),
];

/** The problem matcher references the build task uses (`$pycom-build`, ...). */
export const PROBLEM_MATCHER_NAMES: readonly string[] = PROBLEM_MATCHERS.map((m) => `$${m.name}`);
