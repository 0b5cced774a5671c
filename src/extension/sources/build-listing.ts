import * as fs from 'node:fs';
import * as path from 'node:path';
import { boardIds, findBuildOutputs, findProjectRoot, parseBoard } from '../../core';
import type { BuildListing } from '../trees/builds-nodes';

/**
 * Finds the firmware project (a pycom-micropython-sigfox checkout, recognised by the core) and
 * its secure build outputs in esp32/build/<BOARD>/release, classified by the core: role,
 * address, encrypted, signed, and (with the key store's flash key) whether they decrypt right.
 */
export function listBuilds(start: string | undefined, boardSetting: string, flashKey?: Uint8Array): BuildListing | undefined {
  if (!start || !fs.existsSync(start)) return undefined;
  const root = findProjectRoot(start);
  if (!root) return undefined;
  const project = path.join(root, 'esp32');
  const buildDir = path.join(project, 'build');
  const built = fs.existsSync(buildDir) ? fs.readdirSync(buildDir).filter((d) => parseBoard(d) !== undefined) : [];
  const board = parseBoard(boardSetting) ?? (built.length === 1 ? parseBoard(built[0]!) : undefined);
  const label = board ?? (boardSetting === 'auto' ? 'board not set' : boardSetting);
  if (!board) return { project, board: label, outputs: [], ...(built.length > 1 ? { error: `builds for ${built.join(', ')}: set pycom.board (one of ${boardIds().join(', ')})` } : {}) };
  const dir = path.join(buildDir, board, 'release');
  if (!fs.existsSync(dir)) return { project, board, outputs: [] };
  try {
    const b = findBuildOutputs(dir, { board, ...(flashKey ? { flashKey } : {}) });
    return {
      project, board, generation: b.generation,
      outputs: b.outputs.map((o) => ({
        name: o.rel, path: o.path, size: fs.statSync(o.path).size, role: o.role, address: o.address, encrypted: o.encrypted,
        ...(o.signed !== undefined ? { signed: o.signed } : {}),
        ...(o.decryptsValid !== undefined ? { decryptsValid: o.decryptsValid } : {}),
        ...(o.warning ? { warning: o.warning } : {}),
      })),
    };
  } catch (e) {
    return { project, board, outputs: [], error: e instanceof Error ? e.message : String(e) };
  }
}
