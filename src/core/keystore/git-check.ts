import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * Keys inside a git work tree that are not ignored end up in a commit sooner or later.
 * Returns a warning sentence, or undefined when the directory is outside git or ignored.
 * Runs git with an argument array (never a shell) so odd paths cannot inject anything.
 */
export function gitExposureWarning(dir: string): string | undefined {
  const abs = path.resolve(dir);
  // git needs an existing directory to start from; walk up to the first one that exists.
  let cwd = abs;
  while (!fs.existsSync(cwd) && path.dirname(cwd) !== cwd) cwd = path.dirname(cwd);
  const git = (args: string[]): { ok: boolean; out: string } => {
    try {
      const out = execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8' });
      return { ok: true, out: out.trim() };
    } catch {
      return { ok: false, out: '' };
    }
  };
  const inside = git(['rev-parse', '--is-inside-work-tree']);
  if (!inside.ok || inside.out !== 'true') return undefined;
  // check-ignore exits 0 when the path is ignored, 1 when it is not.
  const ignored = git(['check-ignore', '-q', '--', abs]);
  if (ignored.ok) return undefined;
  return `The key store ${dir} is inside a git work tree and not ignored by git; add it to .gitignore so keys are never committed.`;
}
