import { readHardwareKeyFile } from '../keys/key-files';
import * as path from 'node:path';
import { detectProject, type FirmwareProject } from '../firmware/project';
import { KEY_STAMP_FILE, makeTargets, runBuild, type BuildResult, type BuildTarget } from '../firmware/build-runner';
import { board as boardFacts, boardGeneration, type BoardId } from '../boards/catalog';
import { countDiagnostics, firstError, type Diagnostic } from '../firmware/diagnostics';
import { buildDirFor, DIGEST_FILE, factoryName, otaCopyName, PLAIN_BOOTLOADER_FILE, tableOutputs } from '../firmware/generations';
import { bootloaderVerificationKey } from '../image/bootloader-key';
import { fingerprint } from '../util/fingerprint';
import * as fs from 'node:fs';
import type { KeyStore } from '../keystore/key-store';
import type { Pkcs11Access } from '../keys/pkcs11';
import { tokenUriOf } from '../keys/signer';

export interface SecureBuildRequest {
  /** Any folder inside the pycom-micropython-sigfox checkout (its esp32/ folder is found from there). */
  project: string;
  /** The board as Pycom's makefile spells BOARD (GPY, LOPY4, ...); a function gets the project first (the editor picks the only board built so far). */
  board: BoardId | ((project: FirmwareProject) => BoardId);
  /** Pycom's make target; boot_app builds both. */
  target: BuildTarget;
  store: KeyStore;
  /** Key files instead of the store's (absolute, or relative to the current directory); the signing key may be a file holding a pkcs11: URI. */
  signingKey?: string;
  flashKey?: string;
  /**
   * For a signing key in a token: the argv prefix that runs this tool's CLI (make signs through
   * its sign-data), and how to reach the token (module, PIN). The secure boot key is then the
   * store's random secure_boot_key.bin.
   */
  signCommand?: string[];
  pkcs11?: Pkcs11Access;
  /**
   * How this front end points at another key store, for the message when the store's keys are
   * missing (default the CLI's "pass --key-store DIR (or run this tool from the folder that holds secure/)").
   */
  keyStoreHint?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Every line make prints, as it comes (a terminal, the editor's task pseudo-terminal). */
  onLine(line: string): void;
}

export interface SecureBuildOutcome extends BuildResult {
  project: FirmwareProject;
  board: BoardId;
  errors: number;
  warnings: number;
  /** The error that says why the build failed (diagnostics.ts firstError), when it failed with one. */
  firstError?: Diagnostic;
  /** On success: the outputs to flash and the OTA copies, relative to esp32/, that exist after the build. */
  outputs: string[];
  /**
   * The closing lines: "make exited with N: E error(s), W warning(s).", then on failure
   * "First error: <the line as make printed it>", on success "Outputs (in <build dir>): ..."
   * (or that none was found there).
   */
  summary: string;
}

/**
 * Pycom's secure build (`make SECURE=on ...` in esp32/) for one board, the one body of the CLI's
 * `build` and the editor's build task: detect the checkout and its firmware generation (said in
 * one line with its evidence, with the generation's known issues as `warning:` lines), run make with the
 * key store's keys (paths only, never key bytes, on make's command line), collect diagnostics.
 *
 * Errors: UserError when the checkout is not found, a prerequisite (toolchain, IDF_PATH, a key
 * file) is missing, or the build is cancelled; a failing make is a result (exitCode != 0), not
 * an exception.
 */
export async function secureBuild(req: SecureBuildRequest): Promise<SecureBuildOutcome> {
  const project = detectProject(req.project);
  const board = typeof req.board === 'function' ? req.board(project) : req.board;
  req.onLine(`Firmware ${project.version ?? '(version unknown)'}: generation ${project.generation.id}, ${project.generation.label} (${project.evidence}).`);
  for (const k of project.generation.knownIssues) req.onLine(`warning: ${k}`);
  if (project.generation.fixedVarsReason) req.onLine(`note: ${project.generation.fixedVarsReason}`);
  const targets = makeTargets(req.target, project.generation);
  if (targets.length > 1) req.onLine(`note: firmware ${project.generation.versions} has no ${req.target} target (it arrived in 1.19.0.b2), so this tool runs ${targets.map((t) => `make TARGET=${t}`).join(', then ')}.`);
  const signingKey = path.resolve(req.signingKey ?? req.store.signingKeyFile() ?? req.store.signingKeyPath);
  const inToken = fs.existsSync(signingKey) && tokenUriOf(signingKey) !== undefined;
  const flashKey = path.resolve(req.flashKey ?? req.store.sharedFlashKeyPath);
  // Read (length, format) before the runner removes the old outputs: a bad key must not cost the
  // last good build (a new-user trial lost one to a 16-byte --flash-key). A missing key is the
  // runner's to report, with the other missing prerequisites.
  if (fs.existsSync(flashKey)) readHardwareKeyFile(flashKey, 'flash-encryption');
  const notesSeen = new Set<string>();
  const res = await runBuild({
    esp32Dir: project.esp32Dir,
    board,
    target: req.target,
    generation: project.generation,
    signingKey,
    ...(inToken ? { token: { signCommand: req.signCommand ?? [], secureBootKeyFile: req.store.secureBootKeyPath, ...(req.pkcs11 ? { access: req.pkcs11 } : {}) } } : {}),
    flashKey,
    keyStore: { dir: req.store.dir, ...(req.keyStoreHint ? { hint: req.keyStoreHint } : {}) },
    encryptFlag: project.generation.needsEncryptFlag,
    ...(req.signal ? { signal: req.signal } : {}),
    ...(req.env ? { env: req.env } : {}),
    onLine: (l) => {
      // A tool make runs once per file (encrypt-flash-data's "Note: padded with 12 bytes ...") says the
      // same note each time: shown once per build, as it is one fact. Other lines all pass.
      if (/^note:/i.test(l.trim())) {
        if (notesSeen.has(l.trim())) return;
        notesSeen.add(l.trim());
      }
      req.onLine(l);
    },
  });
  const { errors, warnings } = countDiagnostics(res.diagnostics);
  const first = firstError(res.diagnostics);
  const outputs = res.exitCode === 0 ? expectedOutputs(project, board).filter((rel) => fs.existsSync(path.join(project.esp32Dir, rel))) : [];
  const lines = [`make exited with ${res.exitCode}: ${errors} error(s), ${warnings} warning(s).`];
  if (res.exitCode !== 0) lines.push(first ? `First error: ${first.text}` : 'First error: make printed no line this tool recognises as an error; read the output above.');
  else if (outputs.length) {
    lines.push(`Outputs (in ${path.join(project.esp32Dir, buildDirFor(board))}): ${outputs.map((o) => path.relative(buildDirFor(board), o)).join(', ')}.`);
    const keys = madeWith(path.join(project.esp32Dir, buildDirFor(board)));
    if (keys) lines.push(keys);
    const stale = bootloaderKeyMismatch(path.join(project.esp32Dir, buildDirFor(board)));
    if (stale) lines.push(stale);
  }
  else lines.push(`make succeeded, but none of the outputs a secure ${board} build writes is in ${path.join(project.esp32Dir, buildDirFor(board))}; read make's output above before flashing.`);
  return { ...res, project, board, errors, warnings, ...(first && res.exitCode !== 0 ? { firstError: first } : {}), outputs, summary: lines.join('\n') };
}

/** The secure outputs a generation's build writes for a board, relative to esp32/ (tables, digest, app, OTA copies). */
function expectedOutputs(project: FirmwareProject, board: BoardId): string[] {
  const gen = project.generation;
  const facts = boardGeneration(board, gen.id);
  const app = boardFacts(board).appBin;
  const dir = buildDirFor(board);
  return [
    DIGEST_FILE,
    ...tableOutputs(gen, facts.layouts).map((t) => t.file),
    factoryName(gen, app),
    ...facts.otaCopies.map((a) => otaCopyName(app, a)),
  ].map((rel) => path.posix.join(dir, rel));
}

/** Which keys made a build's outputs, by fingerprint, from the stamp the build runner leaves (KEY_STAMP_FILE). */
function madeWith(buildDir: string): string | undefined {
  try {
    const k = JSON.parse(fs.readFileSync(path.join(buildDir, KEY_STAMP_FILE), 'utf8')) as { signingKey?: string; flashKey?: string; secureBootKey?: string };
    const parts = [
      k.signingKey ? `signing key ${k.signingKey} (its public key)` : undefined,
      k.secureBootKey ? `secure boot key ${k.secureBootKey}` : undefined,
      k.flashKey ? `flash-encryption key ${k.flashKey}` : undefined,
    ].filter((x): x is string => x !== undefined);
    return parts.length ? `Keys used (fingerprints): ${parts.join(', ')}.` : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A warning when the build's bootloader (PLAIN_BOOTLOADER_FILE) embeds another verification key
 * than the public key of the signing key that signed this build (by fingerprint, from the key
 * stamp): such a bootloader refuses this build's partition table and app ("secure boot check
 * fail"). It happens when make reuses a bootloader linked before the signing key changed (its
 * dependencies are by timestamp, and only TARGET=boot relinks it). The key is found as IDF links
 * it, the raw P-256 point of signature_verification_key.bin (image/bootloader-key.ts). Undefined
 * when the keys agree, or when there is no bootloader, no stamp or no key to compare.
 */
export function bootloaderKeyMismatch(buildDir: string): string | undefined {
  let signing: string | undefined;
  let image: Uint8Array;
  try {
    signing = (JSON.parse(fs.readFileSync(path.join(buildDir, KEY_STAMP_FILE), 'utf8')) as { signingKey?: string }).signingKey;
    image = fs.readFileSync(path.join(buildDir, PLAIN_BOOTLOADER_FILE));
  } catch {
    return undefined;
  }
  const key = signing ? bootloaderVerificationKey(image) : undefined;
  if (!key || fingerprint(key) === signing) return undefined;
  const where = path.join(buildDir, path.dirname(PLAIN_BOOTLOADER_FILE));
  return `warning: the bootloader in ${where} verifies signatures with the key ${fingerprint(key)}, not the signing key ${signing} this build was signed with, so a board given this bootloader refuses this build's partition table and app; delete ${where} and build again with --target boot_app (the editor: Build Secure Firmware) so the bootloader is linked with this key.`;
}
