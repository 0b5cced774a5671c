import * as fs from 'node:fs';
import * as path from 'node:path';
import { findProjectRoot } from '../../core/firmware/project';
import type { BuildListing } from '../trees/builds-nodes';

/** Where build outputs are looked for, relative to esp32/ (never the folder itself: it holds key files). */
const OUTPUT_DIRS = ['build'];

/**
 * Finds the firmware project (a pycom-micropython-sigfox checkout, recognised by the core) and
 * the .bin files under its esp32/ folder.
 */
export function listBuilds(start: string | undefined, board: string): BuildListing | undefined {
  if (!start || !fs.existsSync(start)) return undefined;
  const root = findProjectRoot(start);
  if (!root) return undefined;
  const project = path.join(root, 'esp32');
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
