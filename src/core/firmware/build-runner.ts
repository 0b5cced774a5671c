import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { UserError } from '../errors';
import type { BoardId } from '../boards/catalog';
import { parseDiagnostic, type Diagnostic } from './diagnostics';
import { buildDirFor, type Generation, type MakeTarget } from './generations';
import { parseSigningKey } from '../crypto/signing-key';
import { digestPrivateKey } from '../crypto/secure-boot-key';
import { fingerprint } from '../util/fingerprint';
import { signingPublicKey, tokenUriOf } from '../keys/signer';
import { pkcs11CheckAccess, pkcs11ModulePath, PKCS11_MODULE_ENV, PKCS11_PIN_ENV, type Pkcs11Access } from '../keys/pkcs11';
import { parsePkcs11Uri } from '../keys/pkcs11-uri';
import { readHardwareKeyFile } from '../keys/key-files';

/**
 * Runs Pycom's secure build: `make BOARD=<b> SECURE=on SECURE_KEY=<pem> ENCRYPT_KEY=<bin> TARGET=…`
 * in `esp32/`, as a child process with an argument array (never a shell, so paths with spaces or
 * quotes cannot change the command). Output is streamed line by line; gcc diagnostics are parsed.
 */
export type BuildTarget = MakeTarget;

export interface BuildOptions {
  esp32Dir: string;
  board: BoardId;
  target: BuildTarget;
  /**
   * Signing key and flash-encryption key (raw): absolute, or relative to esp32Dir like the makefile.
   * The signing key is a PEM file, or a file holding a pkcs11: URI (the key store's
   * secure_boot_signing_key.pkcs11): see `token`.
   */
  signingKey: string;
  flashKey: string;
  /**
   * The key store the keys were looked for in (when they come from it): a missing key there then
   * names the store and how to point at another first (`hint`, default the CLI's "pass --key-store
   * DIR (or run this tool from the folder that holds secure/)"), creating a new key last.
   */
  keyStore?: { dir: string; hint?: string };
  /**
   * For a signing key in a PKCS#11 token. The real makefiles sign with `$(SIGN_BINARY) $@`
   * (`SIGN_BINARY = $(ESPSECUREPY) sign_data --keyfile $(SECURE_KEY)` in application.mk of every
   * generation from 1.17 to 1.20), and derive signature_verification_key.bin and
   * secure-bootloader-key.bin from SECURE_KEY only when it is newer than them. So make keeps
   * running as the user runs it, with SIGN_BINARY set on its command line to `signCommand`
   * `sign-data --keyfile SECURE_KEY` (this tool's espsecure-compatible signing, in place, through
   * the token), and the two derived files written beforehand: the token's public key and the
   * random secure boot key. The PIN reaches make's children in the environment only.
   */
  token?: {
    /** argv prefix that runs this tool's CLI (e.g. [node, bin/pycom-secure.js]); each word make-safe. */
    signCommand: string[];
    /** The random secure boot key file (secure_boot_key.bin). */
    secureBootKeyFile: string;
    access?: Pkcs11Access;
  };
  /** Needed only by Era A checkouts (ENCRYPT=on). */
  encryptFlag?: boolean;
  /**
   * The checkout's generation: decides which make invocations `target` needs (boot then app
   * before 1.19, which has no boot_app), which BOARD values exist and which variables are fixed.
   * Without it, `target` is passed to one make as given.
   */
  generation?: Generation;
  /** The build directory relative to esp32Dir (default `build/<BOARD>/release`), where the key record is kept. */
  buildDir?: string;
  extraVars?: Record<string, string>;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  onDiagnostic?: (d: Diagnostic) => void;
  /** `make` executable (tests may point at another one). */
  make?: string;
}

export interface BuildResult {
  /** make's exit status: that of the first make that failed, or 0. */
  exitCode: number;
  diagnostics: Diagnostic[];
  /** The argv given to the last make run, for display (contains paths only, never key bytes). */
  argv: string[];
  /** Every make run, in order, as argv (one per target: `TARGET=boot`, then `TARGET=app` before 1.19). */
  invocations: string[][];
  /** Derived key files removed before make ran because another signing key made them (paths). */
  staleDerivedKeys: string[];
  /** Signed/encrypted outputs removed before make ran: the build dir's key record named other keys, or none (paths). */
  staleOutputs: string[];
}

/**
 * The make invocations (TARGET values, in order) that build `target` in this generation: boot_app
 * before v1.19.0.b2 is boot then app (the makefile has no boot_app target, see Generation.targets).
 */
export function makeTargets(target: BuildTarget, gen?: Generation): MakeTarget[] {
  if (!gen || gen.targets.includes(target)) return [target];
  if (target === 'boot_app') return ['boot', 'app'];
  return [target];
}

/** The files Pycom's makefiles derive from the signing key, in esp32/ (v1.18.2.r7 application.mk about 462-472). */
export const DERIVED_KEY_FILES = ['signature_verification_key.bin', 'secure-bootloader-key.bin'] as const;

/**
 * Keeps the derived key files in step with the signing key's content. make rebuilds them only when
 * the key file is newer than they are, so after switching to another (older) key file it would
 * silently reuse the previous key's digest key and verification key. Each derived file that is not
 * what this key gives (espsecure extract_public_key: raw X||Y; digest_private_key: SHA-256 of the
 * private scalar, 32 bytes, or its first 24 with --keylen 192) is removed, so make derives it again.
 * Returns the removed paths. Never reads or writes key bytes anywhere but these files. (runBuild
 * also removes secure-bootloader-key.bin after every build: it is the secure boot key itself.)
 */
export function syncDerivedKeys(esp32Dir: string, signingKeyPath: string): string[] {
  if (tokenUriOf(signingKeyPath) !== undefined) throw new Error('syncDerivedKeys is for PEM keys; token builds write the derived files (writeTokenDerivedKeys)');
  const key = parseSigningKey(fs.readFileSync(signingKeyPath), signingKeyPath);
  const digest = digestPrivateKey(key, 256);
  const expected: Record<(typeof DERIVED_KEY_FILES)[number], (have: Buffer) => boolean> = {
    'signature_verification_key.bin': (have) => Buffer.from(key.publicKey).equals(have),
    'secure-bootloader-key.bin': (have) => (have.length === 32 || have.length === 24) && Buffer.from(digest.subarray(0, have.length)).equals(have),
  };
  const removed: string[] = [];
  for (const name of DERIVED_KEY_FILES) {
    const p = path.join(esp32Dir, name);
    let have: Buffer;
    try {
      have = fs.readFileSync(p);
    } catch {
      continue;
    }
    if (!expected[name](have)) {
      fs.rmSync(p, { force: true });
      removed.push(p);
    }
  }
  return removed;
}

/**
 * For a token key: writes signature_verification_key.bin (the token's public key, X‖Y, what
 * espsecure extract_public_key writes) and secure-bootloader-key.bin (the random secure boot
 * key, what digest_private_key would have written) into esp32/ when they are missing or differ,
 * with a modification time after the reference file's, so make does not run espsecure on the
 * reference file (a URI, not a PEM). Returns the names written.
 */
export function writeTokenDerivedKeys(esp32Dir: string, refFile: string, publicKey: Uint8Array, secureBootKey: Uint8Array): string[] {
  const refTime = fs.statSync(refFile).mtimeMs / 1000;
  const when = Math.max(Date.now() / 1000, refTime + 2);
  const written: string[] = [];
  for (const [name, bytes] of [['signature_verification_key.bin', publicKey], ['secure-bootloader-key.bin', secureBootKey]] as const) {
    const p = path.join(esp32Dir, name);
    let have: Buffer | undefined;
    try {
      have = fs.readFileSync(p);
    } catch {
      have = undefined;
    }
    if (have && Buffer.from(bytes).equals(have) && fs.statSync(p).mtimeMs / 1000 > refTime) continue;
    fs.rmSync(p, { force: true });
    fs.writeFileSync(p, bytes, { mode: 0o600 });
    fs.utimesSync(p, when, when);
    written.push(name);
  }
  return written;
}

/** The record, in the build directory, of which keys (fingerprints only) made its outputs. */
export const KEY_STAMP_FILE = '.pycom-secure-keys.json';

/**
 * The signed and encrypted outputs depend on the key files by timestamp only too: the app and the
 * tables are re-signed only when the ELF or CSV changes, re-encrypted only when the flash key FILE
 * is newer (v1.20.2.r4 application.mk about 793, 884; v1.18.2.r7 about 583, 646). So when the keys
 * (by fingerprint) differ from those recorded by the last build in `buildDir`, or no record exists,
 * the outputs make derives from the keys are removed (make redoes them from the ELF and CSVs:
 * elf2image, sign, encrypt, no recompilation). Returns the removed paths.
 */
export function removeOutputsOfOtherKeys(buildDir: string, stamp: string): string[] {
  if (!fs.existsSync(buildDir)) return [];
  let recorded: string | undefined;
  try {
    recorded = fs.readFileSync(path.join(buildDir, KEY_STAMP_FILE), 'utf8');
  } catch {
    recorded = undefined;
  }
  if (recorded === stamp) return [];
  const removed: string[] = [];
  const keyMade = (name: string) => /\.bin(?:_enc.*)?$/.test(name);
  for (const sub of ['.', 'lib', 'bootloader']) {
    const d = path.join(buildDir, sub);
    let names: string[];
    try {
      names = fs.readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names.filter(keyMade)) {
      const p = path.join(d, n);
      if (!fs.statSync(p).isFile()) continue;
      fs.rmSync(p, { force: true });
      removed.push(p);
    }
  }
  return removed;
}

/** The stamp text for these key files: their fingerprints, never their bytes. */
export function keyStamp(signingKeyPath: string, flashKeyPath: string, access: Pkcs11Access = {}, secureBootKey?: Uint8Array): string {
  const pub = signingPublicKey(signingKeyPath, access);
  return `${JSON.stringify({ signingKey: fingerprint(pub), flashKey: fingerprint(fs.readFileSync(flashKeyPath)), ...(secureBootKey ? { secureBootKey: fingerprint(secureBootKey) } : {}) })}\n`;
}

/** One line for the user about removed derived keys (the signing key by fingerprint only). */
export function staleKeysLine(removed: readonly string[], signingKeyPath: string): string {
  const key = parseSigningKey(fs.readFileSync(signingKeyPath), signingKeyPath);
  return `Removed ${removed.map((p) => path.basename(p)).join(' and ')}: made from another signing key, so make derives it again from ${path.basename(signingKeyPath)} (public key fingerprint ${fingerprint(key.publicKey)}).`;
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

/** One build prerequisite that is missing: a stable code and one sentence (what is missing, what to do). */
export interface MissingPrerequisite {
  code: 'E_NO_MAKE' | 'E_NO_TOOLCHAIN' | 'E_NO_PYTHON' | 'E_NO_IDF' | 'E_NO_KEY_FILE';
  sentence: string;
}

/** A regular file (following symlinks)? */
function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The Python interpreter Pycom's makefiles run (espsecure.py, esptool.py elf2image,
 * gen_esp32part.py): `PYTHON = python` in the checkout's py/mkenv.mk (v1.18.2.r7 line 45, v1.20.2.r4
 * line 47), a plain assignment that the environment cannot override, only make's command line.
 * Undefined when the tree has no py/mkenv.mk (then nothing is known about its Python) or the
 * command line sets PYTHON.
 */
export function makefilePython(esp32Dir: string, extraVars?: Record<string, string>): string | undefined {
  if (extraVars?.PYTHON) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(path.join(esp32Dir, '..', 'py', 'mkenv.mk'), 'utf8');
  } catch {
    return undefined;
  }
  return text.match(/^PYTHON\s*[:?]?=\s*(\S+)\s*$/m)?.[1] ?? 'python';
}

/**
 * Every prerequisite of the build that is missing, in the order a user would fix them: make, the
 * xtensa toolchain on PATH, the Python the makefiles run, IDF_PATH (set, an existing folder), the
 * signing key and the flash encryption key (regular files). Empty when the build can start. Reads
 * only file metadata and PATH; runs nothing.
 */
export function missingPrerequisites(o: BuildOptions): MissingPrerequisite[] {
  const env = o.env ?? process.env;
  const make = o.make ?? 'make';
  const missing: MissingPrerequisite[] = [];
  if (!(path.isAbsolute(make) ? fs.existsSync(make) : which(make, env))) {
    missing.push({ code: 'E_NO_MAKE', sentence: `\`${make}\` was not found on PATH; install GNU make (e.g. \`apt install make\`, or Xcode's command line tools on macOS).` });
  }
  if (!which(TOOLCHAIN_GCC, env)) {
    missing.push({ code: 'E_NO_TOOLCHAIN', sentence: `The ESP32 toolchain (${TOOLCHAIN_GCC}) is not on PATH; install Pycom's xtensa-esp32-elf toolchain and add its bin/ directory to PATH (in the editor: the pycom.toolchainPath setting); the real firmware cannot be built without it.` });
  }
  const python = makefilePython(o.esp32Dir, o.extraVars);
  if (python && !(path.isAbsolute(python) ? isFile(python) : which(python, env))) {
    missing.push({ code: 'E_NO_PYTHON', sentence: `\`${python}\` (the Python that Pycom's makefiles run for espsecure.py and gen_esp32part.py, PYTHON in py/mkenv.mk) was not found on PATH; install Python, or put a \`${python}\` that runs it on PATH (e.g. Debian's python-is-python3).` });
  }
  const idf = env.IDF_PATH;
  if (!idf) {
    missing.push({ code: 'E_NO_IDF', sentence: 'IDF_PATH is not set; clone pycom-esp-idf (the commit the checkout pins) and set IDF_PATH to it (in the editor: the pycom.idfPath setting).' });
  } else if (!fs.existsSync(idf) || !fs.statSync(idf).isDirectory()) {
    missing.push({ code: 'E_NO_IDF', sentence: `IDF_PATH points to ${idf}, which does not exist or is not a folder; set it to your pycom-esp-idf checkout.` });
  }
  // Each key names the CLI command that makes exactly that file, and the editor command that fills the key store.
  for (const [file, what, command] of [[o.signingKey, 'secure boot signing key', 'pycom-secure generate-signing-key'], [o.flashKey, 'flash encryption key', 'pycom-secure generate-flash-encryption-key']] as const) {
    const abs = path.resolve(o.esp32Dir, file);
    const storeDir = o.keyStore ? path.resolve(o.keyStore.dir) : undefined;
    if (!fs.existsSync(abs) && storeDir !== undefined && path.dirname(abs) === storeDir) {
      // Most often the wrong key store (run from another folder, whose ./secure is not the keys'):
      // new keys would make images no board burned with the old ones boots, so they come last.
      const hint = o.keyStore!.hint ?? 'pass --key-store DIR (or run this tool from the folder that holds secure/)';
      const store = fs.existsSync(storeDir) ? `the key store ${storeDir}` : `the key store ${storeDir} (that folder does not exist)`;
      missing.push({ code: 'E_NO_KEY_FILE', sentence: `The ${what} ${path.basename(abs)} is not in ${store}; if your keys are in another key store, ${hint}; only for a new project create it with \`${command} ${abs}\` (or "Pycom: Generate Keys" in the editor) before building with SECURE=on.` });
    } else if (!fs.existsSync(abs)) {
      missing.push({ code: 'E_NO_KEY_FILE', sentence: `The ${what} ${abs} does not exist; create it with \`${command} ${abs}\` (or "Pycom: Generate Keys" in the editor) before building with SECURE=on.` });
    } else if (!isFile(abs)) {
      missing.push({ code: 'E_NO_KEY_FILE', sentence: `The ${what} ${abs} is not a regular file; give the key file itself.` });
    }
  }
  return missing;
}

/**
 * Checks everything the makefile would otherwise fail on later with a less helpful message.
 * Errors: UserError E_NOT_PYCOM (no Makefile), E_BOARD_NOT_IN_RELEASE, then every missing
 * prerequisite (missingPrerequisites) together: one alone keeps its own code and sentence,
 * several are E_BUILD_PREREQUISITES, one line each.
 */
export function preflight(o: BuildOptions): void {
  if (!fs.existsSync(path.join(o.esp32Dir, 'Makefile'))) {
    throw new UserError('E_NOT_PYCOM', `${o.esp32Dir} has no Makefile; give the esp32/ directory of a pycom-micropython-sigfox checkout.`);
  }
  if (o.generation?.boards && !o.generation.boards.includes(o.board)) {
    throw new UserError('E_BOARD_NOT_IN_RELEASE', `Firmware ${o.generation.versions} has no BOARD=${o.board} (esp32/boards/${o.board} does not exist in it); build with one of ${o.generation.boards.join(', ')}, or check out a release that has ${o.board}.`);
  }
  const missing = missingPrerequisites(o);
  if (missing.length === 1) throw new UserError(missing[0]!.code, missing[0]!.sentence);
  if (missing.length > 1) {
    throw new UserError('E_BUILD_PREREQUISITES', [`The build cannot start: ${missing.length} prerequisites are missing (nothing was built):`, ...missing.map((m) => `  - ${m.sentence}`)].join('\n'));
  }
}

/** make's arguments for one invocation (`target` defaults to o.target): variables only, paths never key bytes. */
export function makeArgs(o: BuildOptions, target: MakeTarget = o.target): string[] {
  const secureKey = path.resolve(o.esp32Dir, o.signingKey);
  const vars: Record<string, string> = {
    BOARD: o.board,
    SECURE: 'on',
    SECURE_KEY: secureKey,
    ENCRYPT_KEY: path.resolve(o.esp32Dir, o.flashKey),
    TARGET: target,
    ...(o.token ? { SIGN_BINARY: [...o.token.signCommand, 'sign-data', '--keyfile', secureKey].join(' ') } : {}),
    ...(o.encryptFlag ? { ENCRYPT: 'on' } : {}),
    ...(o.generation?.fixedVars ?? {}),
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

/**
 * Runs the build: preflight, derived keys brought in step with the signing key, then one make per
 * target of `makeTargets` (stopping at the first that fails). Streams every line to onLine and
 * every recognised diagnostic (diagnostics.ts) to onDiagnostic. A failing make is a result
 * (exitCode != 0); UserError for a missing prerequisite or a cancel.
 */
export async function runBuild(o: BuildOptions): Promise<BuildResult> {
  preflight(o);
  if (o.signal?.aborted) throw new UserError('E_CANCELLED', 'The build was cancelled.');
  const signingKey = path.resolve(o.esp32Dir, o.signingKey);
  let staleDerivedKeys: string[] = [];
  let stamp: string;
  const uri = tokenUriOf(signingKey);
  if (uri !== undefined) {
    const t = tokenBuild(o, signingKey, uri);
    o = t.opts;
    o.onLine?.(`The signing key stays in the token ${uri}: make signs with SIGN_BINARY = this tool's sign-data, and ${t.written.length ? `${t.written.join(' and ')} ${t.written.length === 1 ? 'was' : 'were'} written from the token's public key and the random secure boot key` : 'the derived key files already match the token key and the random secure boot key'} (public key fingerprint ${fingerprint(t.publicKey)}, secure boot key fingerprint ${fingerprint(t.secureBootKey)}).`, 'stdout');
    stamp = keyStamp(signingKey, path.resolve(o.esp32Dir, o.flashKey), t.access, t.secureBootKey);
  } else {
    staleDerivedKeys = syncDerivedKeys(o.esp32Dir, signingKey);
    if (staleDerivedKeys.length) o.onLine?.(staleKeysLine(staleDerivedKeys, signingKey), 'stdout');
    stamp = keyStamp(signingKey, path.resolve(o.esp32Dir, o.flashKey));
  }
  const buildDir = path.join(o.esp32Dir, o.buildDir ?? buildDirFor(o.board));
  const staleOutputs = removeOutputsOfOtherKeys(buildDir, stamp);
  if (staleOutputs.length) o.onLine?.(`Removed ${staleOutputs.length} signed or encrypted output(s) in ${buildDir} not known to be made with these keys, so make signs and encrypts them again.`, 'stdout');
  const safe = makeSafeKeyPaths(o);
  const diagnostics: Diagnostic[] = [];
  const invocations: string[][] = [];
  try {
    let res: { exitCode: number; argv: string[] } = { exitCode: 0, argv: [] };
    for (const t of makeTargets(o.target, o.generation)) {
      res = await runMake(safe.opts, t, diagnostics);
      invocations.push(res.argv);
      if (res.exitCode !== 0) break;
    }
    if (res.exitCode === 0 && fs.existsSync(buildDir)) fs.writeFileSync(path.join(buildDir, KEY_STAMP_FILE), stamp);
    else fs.rmSync(path.join(buildDir, KEY_STAMP_FILE), { force: true });
    return { exitCode: res.exitCode, diagnostics, argv: res.argv, invocations, staleDerivedKeys, staleOutputs };
  } finally {
    safe.cleanup();
    // secure-bootloader-key.bin IS the secure boot key (what BLOCK2 holds): no copy stays in the
    // checkout after the build; make derives it again from the signing key when it needs it.
    fs.rmSync(path.join(o.esp32Dir, 'secure-bootloader-key.bin'), { force: true });
  }
}

/**
 * Prepares a build whose signing key is in a token: checks the PIN and the key before make runs
 * (a wrong PIN is found first, not halfway through), writes the derived files, and hands make's
 * children the module path and the PIN in their environment (never on a command line).
 */
function tokenBuild(o: BuildOptions, refFile: string, uri: string): { opts: BuildOptions; written: string[]; publicKey: Uint8Array; secureBootKey: Uint8Array; access: Pkcs11Access } {
  const t = o.token;
  if (!t) throw new Error('a build with a token signing key needs BuildOptions.token (the front end supplies its sign command)');
  for (const w of t.signCommand) {
    if (!MAKE_SAFE.test(w)) {
      throw new UserError('E_KEY_PATH', `This tool's own path ${w} has characters make cannot pass to its shell, so the token build cannot hand make its signing command; install or run this tool from a folder whose path has only letters, digits and . , / + @ : - _.`);
    }
  }
  if (!fs.existsSync(t.secureBootKeyFile)) {
    throw new UserError('E_NO_KEY_FILE', `The signing key is in a token, so the secure boot key cannot be derived from it and ${t.secureBootKeyFile} is needed; create it with \`pycom-secure generate-secure-boot-key ${t.secureBootKeyFile}\` before building with SECURE=on.`);
  }
  const secureBootKey = readHardwareKeyFile(t.secureBootKeyFile, 'digest');
  const access = t.access ?? {};
  const u = parsePkcs11Uri(uri);
  const module = pkcs11ModulePath(u, { ...access, env: o.env ?? process.env });
  pkcs11CheckAccess(uri, { ...access, env: o.env ?? process.env });
  const publicKey = signingPublicKey(refFile, { ...access, env: o.env ?? process.env });
  const written = writeTokenDerivedKeys(o.esp32Dir, refFile, publicKey, secureBootKey);
  const env: NodeJS.ProcessEnv = { ...(o.env ?? process.env), [PKCS11_MODULE_ENV]: module, ELECTRON_RUN_AS_NODE: '1' };
  if (access.pin !== undefined) env[PKCS11_PIN_ENV] = access.pin;
  return { opts: { ...o, env }, written, publicKey, secureBootKey, access: { ...access, module } };
}

const IGNORED = /^g?make(?:\[\d+\])?: \[.*\] Error \d+ \(ignored\)\s*$/;

function runMake(o: BuildOptions, target: MakeTarget, diagnostics: Diagnostic[]): Promise<{ exitCode: number; argv: string[] }> {
  const argv = makeArgs(o, target);
  return new Promise((resolve, reject) => {
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
      // make ran a failing command with its ignore-errors prefix: the failure just reported is not an
      // error of the build (1.17-1.18's `$(MV) -f` with MV undefined runs `-f ...`; make: "f: No such file").
      if (IGNORED.test(line)) {
        const last = diagnostics[diagnostics.length - 1];
        if (last && last.severity === 'error' && !last.consequence && last.kind === 'toolchain') {
          last.severity = 'note';
          last.message += ' (make ignored this failure)';
        }
        return;
      }
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
      else resolve({ exitCode: code ?? 1, argv });
    });
  });
}
