import * as fs from 'node:fs';
import * as path from 'node:path';
import { VECTORS_DIR, type Vector } from './manifest';

/** Commands whose output file is their last positional argument (no --output). */
const OUTFILE_LAST = new Set(['extract_public_key', 'digest_private_key', 'generate_flash_encryption_key', 'generate_signing_key']);

export interface Translated {
  argv: string[];
  /** Where our output goes (a temp path), or undefined for commands without output. */
  outPath?: string;
  /** The manifest's name for that output. */
  outToken?: string;
}

/**
 * Turns a recorded `espsecure.py op_name ...` line into pycom-secure argv: the v4 command name
 * becomes its hyphenated form, v4 option spellings are passed through unchanged (the CLI accepts
 * them as aliases), inputs resolve into the fixture set and the output is redirected into `tmp`.
 */
export function translate(v: Vector, tmp: string): Translated {
  const tokens = v.command.split(/\s+/);
  if (tokens[0] !== 'espsecure.py') throw new Error(`not an espsecure command: ${v.id}`);
  const op = tokens[1]!;
  const rest = tokens.slice(2);
  const outIdx = rest.findIndex((t) => t === '--output' || t === '-o');
  const outAt = outIdx >= 0 ? outIdx + 1 : OUTFILE_LAST.has(op) ? rest.length - 1 : -1;
  let outPath: string | undefined;
  let outToken: string | undefined;
  const argv = [op.replace(/_/g, '-')];
  rest.forEach((t, i) => {
    if (i === outAt) {
      outToken = t;
      outPath = path.join(tmp, path.basename(t));
      argv.push(outPath);
    } else if (/^(inputs|outputs)\//.test(t)) {
      argv.push(path.join(VECTORS_DIR, t));
    } else {
      argv.push(t);
    }
  });
  // A vector that expects "already exists" needs the existing file where the output goes.
  if (outPath && outToken && v.check === 'error_expected' && fs.existsSync(path.join(VECTORS_DIR, outToken))) {
    fs.copyFileSync(path.join(VECTORS_DIR, outToken), outPath);
  }
  return { argv, outPath, outToken };
}
