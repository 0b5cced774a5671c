import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../errors';
import type { BoardId } from '../boards/catalog';
import { parseDiagnostic, type Diagnostic } from './diagnostics';

/**
 * Runs Pycom's secure build: `make BOARD=<b> SECURE=on SECURE_KEY=<pem> ENCRYPT_KEY=<bin> TARGET=…`
 * in `esp32/`, as a child process with an argument array (never a shell, so paths with spaces or
 * quotes cannot change the command). Output is streamed line by line; gcc diagnostics are parsed.
 */
export type BuildTarget = 'boot' | 'app' | 'boot_app';

export interface BuildOptions {
  esp32Dir: string;
  board: BoardId;
  target: BuildTarget;
  /** Signing key (PEM) and flash-encryption key (raw): absolute, or relative to esp32Dir like the makefile. */
  signingKey: string;
  flashKey: string;
  /** Needed only by Era A checkouts (ENCRYPT=on). */
  encryptFlag?: boolean;
  extraVars?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  onDiagnostic?: (d: Diagnostic) => void;
  /** `make` executable (tests may point at another one). */
  make?: string;
}

export interface BuildResult {
  exitCode: number;
  diagnostics: Diagnostic[];
  /** The argv given to make, for display (contains paths only, never key bytes). */
  argv: string[];
}

export const TOOLCHAIN_GCC = 'xtensa-esp32-elf-gcc';

/** Finds an executable on PATH the way a shell would, without running one. */
export function which(cmd: string, env: NodeJS.ProcessEnv): string | undefined {
  const dirs = (env.PATH ?? env.Path ?? '').split(path.delimiter).filter(Boolean);
  const exts = process.platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';') : [''];
  for (const d of dirs) {
    for (const e of exts) {
      const p = path.join(d, cmd + e);
      try {
        if (fs.statSync(p).isFile()) {
          fs.accessSync(p, fs.constants.X_OK);
          return p;
        }
      } catch {
        /* not here */
      }
    }
  }
  return undefined;
}

/** Checks everything the makefile would otherwise fail on later with a less helpful message. */
export function preflight(o: BuildOptions): void {
  const env = o.env ?? process.env;
  const make = o.make ?? 'make';
  if (!fs.existsSync(path.join(o.esp32Dir, 'Makefile'))) {
    throw new UserError('E_NOT_PYCOM', `${o.esp32Dir} has no Makefile; give the esp32/ directory of a pycom-micropython-sigfox checkout.`);
  }
  if (!(path.isAbsolute(make) ? fs.existsSync(make) : which(make, env))) {
    throw new UserError('E_NO_MAKE', `\`${make}\` was not found on PATH; install GNU make (e.g. \`apt install make\`, or Xcode's command line tools on macOS).`);
  }
  if (!which(TOOLCHAIN_GCC, env)) {
    throw new UserError('E_NO_TOOLCHAIN', `The ESP32 toolchain (${TOOLCHAIN_GCC}) is not on PATH; install Pycom's xtensa-esp32-elf toolchain and add its bin/ directory to PATH (the real firmware cannot be built without it).`);
  }
  const idf = env.IDF_PATH;
  if (!idf) {
    throw new UserError('E_NO_IDF', 'IDF_PATH is not set; clone pycom-esp-idf (the commit the checkout pins) and set IDF_PATH to it.');
  }
  if (!fs.existsSync(idf)) {
    throw new UserError('E_NO_IDF', `IDF_PATH points to ${idf}, which does not exist; set it to your pycom-esp-idf checkout.`);
  }
  // Each key names the CLI command that makes exactly that file, and the editor command that fills the key store.
  for (const [file, what, command] of [[o.signingKey, 'secure boot signing key', 'pycom-secure generate-signing-key'], [o.flashKey, 'flash encryption key', 'pycom-secure generate-flash-encryption-key']] as const) {
    const abs = path.resolve(o.esp32Dir, file);
    if (!fs.existsSync(abs)) {
      throw new UserError('E_NO_KEY_FILE', `The ${what} ${abs} does not exist; create it with \`${command} ${abs}\` (or "Pycom: Generate Keys" in the editor) before building with SECURE=on.`);
    }
  }
}

export function makeArgs(o: BuildOptions): string[] {
  const vars: Record<string, string> = {
    BOARD: o.board,
    SECURE: 'on',
    SECURE_KEY: path.resolve(o.esp32Dir, o.signingKey),
    ENCRYPT_KEY: path.resolve(o.esp32Dir, o.flashKey),
    TARGET: o.target,
    ...(o.encryptFlag ? { ENCRYPT: 'on' } : {}),
    ...(o.extraVars ?? {}),
  };
  return Object.entries(vars).map(([k, v]) => `${k}=${v}`);
}

/** Splits a stream into lines, holding back a partial last line until more arrives. */
function lineSplitter(emit: (line: string) => void): { push(chunk: Buffer): void; end(): void } {
  let rest = '';
  return {
    push(chunk) {
      rest += chunk.toString('utf8');
      const parts = rest.split('\n');
      rest = parts.pop()!;
      for (const p of parts) emit(p.replace(/\r$/, ''));
    },
    end() {
      if (rest) emit(rest);
      rest = '';
    },
  };
}

/**
 * Characters that reach the makefile unchanged. make expands `$(...)` in command-line variables
 * (so `$(shell …)` in a path would run), splits `$(wildcard …)` at spaces, and Pycom's recipes
 * pass the key paths to /bin/sh unquoted; the argument array alone cannot protect such a path.
 */
const MAKE_SAFE = process.platform === 'win32' ? /^[\w.,/\\+@:-]+$/ : /^[\w.,/+@:-]+$/;

/**
 * Key paths make cannot take literally are handed over as symlinks with plain names in a private
 * (0700) temporary directory, removed when the build ends. A symlink holds the path, not the key,
 * so no key material is copied out of its place.
 */
function makeSafeKeyPaths(o: BuildOptions): { opts: BuildOptions; cleanup(): void } {
  const sign = path.resolve(o.esp32Dir, o.signingKey);
  const flash = path.resolve(o.esp32Dir, o.flashKey);
  if (MAKE_SAFE.test(sign) && MAKE_SAFE.test(flash)) return { opts: o, cleanup: () => undefined };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pycom-build-keys-'));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    if (!MAKE_SAFE.test(dir)) throw new Error(`the temporary directory ${dir} has characters make cannot pass`);
    const link = (target: string, name: string) => {
      if (MAKE_SAFE.test(target)) return target;
      fs.symlinkSync(target, path.join(dir, name));
      return path.join(dir, name);
    };
    return { opts: { ...o, signingKey: link(sign, 'secure_boot_signing_key.pem'), flashKey: link(flash, 'flash_encryption_key.bin') }, cleanup };
  } catch (e) {
    cleanup();
    throw new UserError('E_KEY_PATH', `The key paths cannot be passed to make safely (${(e as Error).message}); move the keys to a folder whose path has only letters, digits and . , / + @ : - _.`);
  }
}

export async function runBuild(o: BuildOptions): Promise<BuildResult> {
  preflight(o);
  if (o.signal?.aborted) throw new UserError('E_CANCELLED', 'The build was cancelled.');
  const safe = makeSafeKeyPaths(o);
  try {
    return await runMake(safe.opts);
  } finally {
    safe.cleanup();
  }
}

function runMake(o: BuildOptions): Promise<BuildResult> {
  const argv = makeArgs(o);
  const diagnostics: Diagnostic[] = [];
  return new Promise<BuildResult>((resolve, reject) => {
    // detached: the child leads its own process group, so a cancel reaches the compilers make started.
    const child = spawn(o.make ?? 'make', argv, { cwd: o.esp32Dir, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    let cancelled = false;
    const onAbort = () => {
      cancelled = true;
      try {
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGTERM');
        else child.kill('SIGTERM');
      } catch {
        /* already gone */
      }
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const handle = (stream: 'stdout' | 'stderr') => (line: string) => {
      o.onLine?.(line, stream);
      const d = parseDiagnostic(line);
      if (d) {
        diagnostics.push(d);
        o.onDiagnostic?.(d);
      }
    };
    const out = lineSplitter(handle('stdout'));
    const err = lineSplitter(handle('stderr'));
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => {
      o.signal?.removeEventListener('abort', onAbort);
      reject(new UserError('E_NO_MAKE', `Could not start make: ${e.message}.`));
    });
    child.on('close', (code) => {
      o.signal?.removeEventListener('abort', onAbort);
      out.end();
      err.end();
      if (cancelled) reject(new UserError('E_CANCELLED', 'The build was cancelled; the build directory may hold partial outputs, so build again before flashing.'));
      else resolve({ exitCode: code ?? 1, diagnostics, argv });
    });
  });
}
