import * as fs from 'node:fs';
import * as path from 'node:path';
import { createHash } from 'node:crypto';

export const VECTORS_DIR = path.join(__dirname, '..', '..', 'fixtures', 'vectors');

export interface FileRef {
  path: string;
  size: number;
  sha256: string;
}

export interface RegisterWrite {
  reg: string;
  word: string;
}

export interface Vector {
  id: string;
  operation: string;
  command: string;
  check: string;
  params?: Record<string, unknown>;
  inputs: FileRef[];
  exit_code?: number;
  output?: FileRef;
  tool_message?: string;
  original_input?: string;
  deterministic_prefix_len?: number;
  deterministic_prefix_sha256?: string;
  roundtrip_prefix_len?: number;
  write_registers?: Record<string, RegisterWrite[]>;
  read_back_dump?: Record<string, string[]>;
}

export interface Manifest {
  check_kinds: Record<string, string>;
  vectors: Vector[];
}

export function loadManifest(): Manifest {
  return JSON.parse(fs.readFileSync(path.join(VECTORS_DIR, 'manifest.json'), 'utf8')) as Manifest;
}

export function fixture(rel: string): Buffer {
  return fs.readFileSync(path.join(VECTORS_DIR, rel));
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}
