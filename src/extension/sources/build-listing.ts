import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildListing } from '../trees/builds-nodes';

/** Where build outputs are looked for, relative to the project. */
const OUTPUT_DIRS = ['build', 'dist', '.'];

/**
 * Finds the firmware project and its .bin outputs. A folder counts as a firmware project when
 * it has a build/ folder, a pycom.json, or boot.py/main.py (a MicroPython project).
 */
export function listBuilds(project: string | undefined, board: string): BuildListing | undefined {
  if (!project || !fs.existsSync(project)) return undefined;
  const markers = ['build', 'pycom.json', 'boot.py', 'main.py', 'sdkconfig'];
  if (!markers.some((m) => fs.existsSync(path.join(project, m)))) return undefined;
  const outputs: BuildListing['outputs'] = [];
  for (const d of OUTPUT_DIRS) {
    const dir = path.join(project, d);
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) continue;
    for (const name of fs.readdirSync(dir).sort()) {
      if (!name.endsWith('.bin')) continue;
      const p = path.join(dir, name);
      if (outputs.some((o) => o.path === p)) continue;
      outputs.push({ name: path.relative(project, p), path: p, size: fs.statSync(p).size });
    }
  }
  return { project, board, outputs };
}
