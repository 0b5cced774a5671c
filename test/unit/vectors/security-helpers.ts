import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { cli, type CliResult } from './cli-harness';
import { VECTORS_DIR } from './manifest';

export const vec = (rel: string): string => path.join(VECTORS_DIR, rel);

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-sec-'));
}

/** Every CLI result seen by a test file, so key-leak checks can cover all of them. */
export const transcript: CliResult[] = [];

export async function run(...argv: string[]): Promise<CliResult> {
  const r = await cli(argv);
  transcript.push(r);
  return r;
}

export function pemOf(kind: 'secp384r1' | 'rsa', type: 'sec1' | 'pkcs8' | 'pkcs1' | 'spki'): string {
  const pair = kind === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 1024 }) : generateKeyPairSync('ec', { namedCurve: kind });
  if (type === 'spki') return pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
  return pair.privateKey.export({ type: type as 'pkcs8', format: 'pem' }) as string;
}
