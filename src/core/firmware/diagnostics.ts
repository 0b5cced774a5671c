/**
 * gcc-style diagnostics (`file:line:col: error|warning|note: message`, column optional), parsed
 * from the build's streamed output so the editor can show them as problems later.
 */
export interface Diagnostic {
  file: string;
  line: number;
  column?: number;
  severity: 'error' | 'warning' | 'note';
  message: string;
}

// The file part may hold a Windows drive letter (`C:\x.c`), hence the non-greedy start.
const GCC_LINE = /^((?:[A-Za-z]:)?[^:\s][^:]*?):(\d+):(?:(\d+):)?\s+(fatal error|error|warning|note):\s+(.*)$/;

export function parseDiagnostic(line: string): Diagnostic | undefined {
  const m = GCC_LINE.exec(line.replace(/\r$/, ''));
  if (!m) return undefined;
  const sev = m[4] === 'fatal error' ? 'error' : (m[4] as Diagnostic['severity']);
  return {
    file: m[1]!,
    line: Number(m[2]),
    ...(m[3] ? { column: Number(m[3]) } : {}),
    severity: sev,
    message: m[5]!.trim(),
  };
}

/** The regexp the editor's problem matcher uses: same groups as above, as a string. */
export const PROBLEM_MATCHER_PATTERN = GCC_LINE.source;
