import * as path from 'node:path';
import { verifyFlash as verifyFlashWorkflow, regionVerificationLine, checkOutputPath, askOtaSlot, boardPlanFromBuild, BOOT_LOG_CAP_MS, BOOT_LOG_SILENCE_MS, bootLogLines, checkPlan, DEFAULT_KEY_STORE, describeRegion, explainBootLog, fingerprint, flash as flashWorkflow, hex, KeyStore, monitor as monitorWorkflow, normaliseMac, checkGivenOtaSlot, otaBoardEvidence, otaImage, planFromPairs, readHardwareKeyFile, regionsWritten, secureBuild, sha256Hex, storeBuildKey, UserError, type BuildTarget, type FlashPlan, type FlashProgressEvent, buildBoard, recordOtaImage } from '../../core';
import { boardOption, bootLogMsOption, flashSizeOption, resetModeOption } from '../common-options';
import { withBoard, withPort, ALLOW_REMOTE_OPTION } from '../board-session';
import { terminalUi } from '../terminal-ui';
import { keyAccess, PKCS11_MODULE_OPTION } from '../key-access';
import type { CliCommand, CliIo } from '../command';
import { parseIntArg, type Args } from '../args';

function store(args: Args): KeyStore {
  return KeyStore.named(args.opt('key-store') ?? DEFAULT_KEY_STORE);
}

/** `--build DIR` or `ADDR FILE ...` pairs. */
function plan(args: Args, flashSize: number | undefined, flashKey?: Uint8Array): FlashPlan {
  const build = args.opt('build');
  const b = boardOption(args, false);
  const pos = args.parsed.positionals;
  if (build && pos.length) throw new UserError('E_USAGE', `${args.command}: give either --build DIR or ADDR FILE pairs, not both.`);
  // A board with its own key (per-device keys) gets the build re-encrypted for it from the store's build key.
  if (build) {
    const buildKey = storeBuildKey(store(args));
    return boardPlanFromBuild(build, { ...(b ? { board: b } : {}), ...(flashSize !== undefined ? { flashSize } : {}), ...(flashKey ? { flashKey } : {}), ...(buildKey ? { buildKey } : {}) }).plan;
  }
  if (pos.length === 0 || pos.length % 2 !== 0) throw new UserError('E_USAGE', `${args.command}: give --build DIR or pairs of ADDR FILE.`);
  const pairs = [];
  for (let i = 0; i < pos.length; i += 2) pairs.push({ address: parseIntArg(pos[i]!, 'ADDR', args.command), file: pos[i + 1]! });
  return planFromPairs(pairs);
}

function printBootLog(io: CliIo, text: string, o: { summary?: boolean } = {}): number {
  const ex = explainBootLog(text);
  const lines = bootLogLines(text, ex);
  // Without its summary when the caller says what it means instead (a refuted key: the summary's generic advice would contradict it).
  for (const l of o.summary === false ? lines.slice(0, -1) : lines) io.out(l.startsWith('|') || l.startsWith('✗') || l.startsWith('✓') || l.startsWith('•') ? `  ${l}` : l);
  return ex.verdict === 'failed' ? 1 : 0;
}

const PROGRESS_STEP = 0.1;
/** Regions from this size on get an "erasing" line before their first block (the ROM erases them whole first). */
const ERASE_LINE_BYTES = 64 * 1024;

/**
 * One progress line: region, bytes done of the plan, rate and time left, e.g.
 * `[3/3] appimg.bin @ 0x10000: 45% (880/1950 KiB, 89.6 KiB/s, 12 s left)`.
 */
export function progressLine(e: FlashProgressEvent): string {
  const frac = e.bytesDone / Math.max(1, e.bytesTotal);
  const kib = (n: number): string => String(Math.round(n / 1024));
  const rate = e.throughput > 0 ? `, ${(e.throughput / 1024).toFixed(1)} KiB/s` : '';
  const eta = e.etaSeconds !== undefined ? `, ${e.etaEstimated ? 'about ' : ''}${Math.ceil(e.etaSeconds)} s left` : '';
  const where = `[${e.region}/${e.regions}] ${path.basename(e.file)} @ ${hex(e.address)}`;
  if (e.phase === 'erase') return `${where}: erasing ${kib(e.eraseBytes ?? 0)} KiB, then writing it (${Math.round(frac * 100)}% of ${kib(e.bytesTotal)} KiB done${eta})`;
  return `${where}: ${Math.round(frac * 100)}% (${kib(e.bytesDone)}/${kib(e.bytesTotal)} KiB${rate}${eta})`;
}

/** `build`'s exit code when make fails: 2, make's own (documented in docs/cli.md and docs/safety.md). */
export const BUILD_FAILED_EXIT = 2;

const build: CliCommand = {
  name: 'build',
  summary: "Run Pycom's secure build (make SECURE=on) for a board, with diagnostics.",
  usage: 'build --board GPY [--project DIR] [--target boot|app|boot_app] [--signing-key PEM|FILE.pkcs11] [--flash-key BIN] [--key-store DIR] [--pkcs11-module PATH]',
  help: [
    "Needs Pycom's xtensa-esp32-elf toolchain on PATH and IDF_PATH set to pycom-esp-idf. Keys default to the key store's secure_boot_signing_key.pem and flash_encryption_key.bin. --target boot_app (the default) runs make TARGET=boot then TARGET=app on 1.17-1.18 checkouts, which have no boot_app target.",
    "A signing key in a token (the store's secure_boot_signing_key.pkcs11, or --signing-key naming such a file) is used by the same make: its SIGN_BINARY is set to this tool's sign-data, which signs through the token, and the secure boot key is the store's secure_boot_key.bin (generate-secure-boot-key). The PIN comes from PYCOM_PKCS11_PIN or is asked for once.",
  ].join('\n'),
  options: [{ name: 'board' }, { name: 'project' }, { name: 'target' }, { name: 'signing-key' }, { name: 'flash-key' }, { name: 'key-store' }, PKCS11_MODULE_OPTION],
  async run(args, io) {
    args.maxPositionals(0);
    const b = boardOption(args, true)!;
    const target = (args.opt('target') ?? 'boot_app') as BuildTarget;
    if (!['boot', 'app', 'boot_app'].includes(target)) throw new UserError('E_USAGE', 'build: --target must be boot, app or boot_app.');
    const ks = store(args);
    const signing = args.opt('signing-key') ?? ks.signingKeyFile();
    const pkcs11 = await keyAccess(args, io, signing, true);
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    try {
      const res = await secureBuild({
        project: args.opt('project') ?? process.cwd(),
        board: b,
        target,
        store: ks,
        // make runs this same CLI (node + its entry script) as SIGN_BINARY when the key is in a token.
        signCommand: [process.execPath, path.resolve(process.argv[1] ?? '')],
        pkcs11,
        ...(args.opt('signing-key') ? { signingKey: args.opt('signing-key')! } : {}),
        ...(args.opt('flash-key') ? { flashKey: args.opt('flash-key')! } : {}),
        signal: ac.signal,
        onLine: (line) => io.err(line),
      });
      io.out(res.summary);
      // A failed build exits 2, as make itself does (docs/cli.md, docs/safety.md): nothing usable was made.
      return res.exitCode === 0 ? 0 : BUILD_FAILED_EXIT;
    } finally {
      process.off('SIGINT', onSig);
    }
  },
};

const flashOptions = [
  { name: 'port' }, ALLOW_REMOTE_OPTION, { name: 'build' }, { name: 'board' }, { name: 'baud' }, { name: 'reset' }, { name: 'key-store' }, { name: 'flash-size' },
  { name: 'incremental', flag: true }, { name: 'dry-run', flag: true }, { name: 'force-config-sector', flag: true }, { name: 'no-compress', flag: true }, { name: 'boot-log-ms' },
  { name: 'trust-key-store', flag: true }, { name: 'override-module-evidence', flag: true }, { name: 'json', flag: true },
];

const flash: CliCommand = {
  name: 'flash',
  summary: 'Check a flash plan against the board, its eFuses and the key store, then write it (verified) and show the boot log.',
  usage: 'flash --port PORT [--allow-remote] (--build DIR | ADDR FILE ...) [--board B] [--flash-size BYTES] [--incremental] [--dry-run] [--force-config-sector] [--no-compress] [--boot-log-ms N] [--baud N] [--reset MODE] [--key-store DIR] [--trust-key-store] [--override-module-evidence] [--json]',
  help: [
    'Read-protected key blocks cannot be read over the serial port, so the key store\'s keys count as the',
    'board\'s only with evidence: a verified Burn Keys run for this board in the store\'s audit log, or the',
    'board\'s current flash decrypting (with the store\'s keys) to a valid image set. --trust-key-store is your',
    'word instead, recorded in the audit log (fingerprints only).',
    'Each run is recorded for the board (regions, SHA-256, result) in KEY_STORE/audit.jsonl; `pycom-secure records` exports it.',
    '--board B refuses a --build made for another board before the board is opened; with --build, the chip\'s flash',
    'size and revision must be those of a module of the build\'s board (an ESP32 does not say which module it is),',
    'and when the key store\'s records of this board (its last provision or flash) name another module, it is refused;',
    '--override-module-evidence says the board is the build\'s module all the same (recorded in the audit log).',
    'A board with its own key (KEY_STORE/devices/<MAC>/) gets --build re-encrypted for it from the store\'s build key.',
    'After writing, the boot log is read until a line settles the outcome (the MicroPython banner or a known',
    `failure), or after ${BOOT_LOG_SILENCE_MS / 1000} s of silence, for at most --boot-log-ms (default ${BOOT_LOG_CAP_MS}; 0 reads no boot log). Regions that shrink`,
    'meaningfully are sent compressed (encrypted ones never do); --no-compress sends everything plain. --baud',
    'is asked of the chip over serial and socket:// alike, checked, and falls back to 115200 if the link does not hold.',
  ].join('\n'),
  options: flashOptions,
  interrupted: 'the flash may be partly written and the board may not boot until it is finished; run the same flash command again, which writes the regions again (with --incremental only what differs) and verifies each.',
  async run(args, io) {
    const port = args.opt('port');
    const ks = store(args);
    if (!port) {
      if (!args.flag('dry-run')) throw new UserError('E_USAGE', 'flash: --port is required (only --dry-run checks a plan without a board).');
      const keyFile = ks.flashKeyFileFor();
      const key = keyFile ? readHardwareKeyFile(keyFile, 'flash-encryption') : undefined;
      const p = plan(args, flashSizeOption(args), key);
      const r = await checkPlan(p, key ? { flashKey: key } : {});
      for (const reg of p.regions) io.out(`  ${describeRegion(reg)}`);
      for (const n of r.notes) io.err(`note: ${n}`);
      io.out('Dry run: the plan passed the checks that need no board; nothing was written.');
      return;
    }
    const json = args.flag('json');
    // Checked before the board is opened: a bad number is said before anything happens.
    const bootLogMs = bootLogMsOption(args);
    // A build made for another board than --board is refused before the board is opened.
    const buildDir = args.opt('build');
    if (buildDir) buildBoard(buildDir, boardOption(args, false));
    // ADDR FILE pairs do not depend on the board: a bad address or a missing file is said before it is opened.
    const pairsPlan = buildDir ? undefined : plan(args, undefined);
    return withBoard(args, io, async (board) => {
      let nextShown = 0;
      // The board's record (issue #14) is the workflow's: begun at the first write, ended by the boot log.
      const r = await flashWorkflow(board, {
        store: ks,
        plan: ({ flashKey, flashSize }) => pairsPlan ?? plan(args, flashSize, flashKey),
        incremental: args.flag('incremental'),
        dryRun: args.flag('dry-run'),
        forceConfigSector: args.flag('force-config-sector'),
        trustKeyStore: args.flag('trust-key-store'),
        overrideModule: args.flag('override-module-evidence'),
        // Single files: the module --board names is checked against the records (with --build it names the build's).
        ...(!buildDir && boardOption(args, false) ? { board: boardOption(args, false)! } : {}),
        compress: !args.flag('no-compress'),
        bootLog: bootLogMs > 0 ? { ms: bootLogMs, mode: resetModeOption(args) } : false,
        onProgress: (e) => {
          const frac = e.bytesDone / Math.max(1, e.bytesTotal);
          // A large region's erase takes seconds with nothing else to show: say it is under way.
          if (e.phase === 'erase' && (e.eraseBytes ?? 0) >= ERASE_LINE_BYTES) io.err(progressLine(e));
          else if (e.phase === 'done' || (e.phase === 'write' && frac >= nextShown)) {
            nextShown = frac + PROGRESS_STEP;
            io.err(progressLine(e));
          }
        },
      }, terminalUi(io));
      for (const n of r.report.notes) io.err(`note: ${n}`);
      if (json) {
        io.out(JSON.stringify({
          mac: board.chip.mac.address, dryRun: args.flag('dry-run'), recordId: r.recordId ?? null,
          regions: args.flag('dry-run') ? r.plan.regions.map((g) => ({ address: g.address, file: g.file, role: g.role, encrypted: g.encrypted, length: g.data.length })) : regionsWritten(r.plan, r.results),
          boot: r.boot ? { verdict: r.boot.explanation.verdict, summary: r.boot.explanation.summary } : null,
          ...(r.keyRefuted ? { keyRefuted: r.keyRefuted } : {}),
        }, null, 2));
        return r.boot?.explanation.verdict === 'failed' ? 1 : 0;
      }
      if (args.flag('dry-run')) {
        // The plan as it would be carried out: what goes where, encrypted for which key, and how.
        for (const reg of r.plan.regions) {
          const key = reg.encrypted && r.keys.flashKey ? `, encrypted for the key ${fingerprint(r.keys.flashKey)}` : '';
          io.out(`  ${describeRegion(reg)}${key}: ${args.flag('incremental') ? 'only the sectors that differ would be written' : 'would be written and verified'}`);
        }
        io.out('Dry run: every check passed; nothing was written.');
        return;
      }
      for (const x of r.results) io.out(`${path.basename(x.file)} @ ${hex(x.address)}: ${x.bytesWritten === 0 ? 'unchanged' : `${x.bytesWritten} of ${x.length} bytes written`}, verified (MD5).`);
      if (!r.boot) {
        io.out(`Boot log not captured (--boot-log-ms 0); to see the board boot, run \`pycom-secure monitor --port ${port}\`.`);
        return 0;
      }
      const code = printBootLog(io, r.boot.text, r.keyRefuted ? { summary: false } : {});
      // The boot refuted the key taken on the user's word: said last, as what to do next.
      if (r.keyRefuted) io.out(r.keyRefuted);
      return code;
    });
  },
};

const verifyFlash: CliCommand = {
  name: 'verify-flash',
  summary: 'Compare the board\'s flash with a build or ADDR FILE pairs (MD5 per 4 KB sector).',
  usage: 'verify-flash --port PORT [--allow-remote] [--baud N] [--reset MODE] (--build DIR | ADDR FILE ...) [--board B] [--key-store DIR] [--trust-key-store]',
  options: [{ name: 'port' }, ALLOW_REMOTE_OPTION, { name: 'build' }, { name: 'board' }, { name: 'baud' }, { name: 'reset' }, { name: 'key-store' }, { name: 'trust-key-store', flag: true }],
  async run(args, io) {
    // ADDR FILE pairs are read (and a key file among them refused) before the board is opened.
    const pairsPlan = args.opt('build') ? undefined : plan(args, undefined);
    return withBoard(args, io, async (board) => {
      const r = await verifyFlashWorkflow(board, {
        store: store(args),
        plan: ({ flashKey, flashSize }) => pairsPlan ?? plan(args, flashSize, flashKey),
        ...(args.flag('trust-key-store') ? { trustKeyStore: true } : {}),
        onRegion: (v) => {
          io.out(regionVerificationLine(v));
          if (v.diagnosis) io.out(`  Diagnosis: ${v.diagnosis}`);
        },
      }, terminalUi(io));
      return r.ok ? 0 : 1;
    });
  },
};

const otaImageCommand: CliCommand = {
  name: 'ota-image',
  summary: 'Write the app encrypted for the board\'s OTA slot (asked from the running board unless --slot is given).',
  usage: 'ota-image --board GPY --build DIR [--slot ADDR] [--port PORT [--baud N] [--reset MODE] [--allow-remote]] --output OUT [--key-store DIR] [--mac MAC] [--trust-key-store] [--override-module-evidence] [--json]',
  help: [
    'The image is for one board when its MAC is known: --port PORT reads it from the connected board (download mode, as',
    'the other board commands connect; --mac too must then be that MAC), or --mac MAC gives it. Such an image uses the',
    'board\'s own key under KEY_STORE/devices/<MAC>/ when it has one (the build is then re-encrypted from the store\'s',
    'build key), else the shared key, and is recorded in the board\'s records. The key must be shown to be the board\'s:',
    'with --port a readable key block is compared, or a verified Burn Keys run for it in the key store\'s audit log, or',
    'the board\'s flash read back; with --mac only the Burn Keys run; or --trust-key-store (your word, recorded in the',
    'audit log). A key store holding per-device keys needs --port or --mac. Without --slot, the board on --port is',
    'asked for its next slot (pycom.ota_slot()). The build must be for the board\'s module as far as this tool knows it:',
    'the key store\'s records of the board (its last provision or flash) and, with --port, the banner its firmware prints',
    '("...; GPy with ESP32"); another module\'s build is refused, or taken with --override-module-evidence (recorded).',
  ].join('\n'),
  options: [{ name: 'board' }, { name: 'build' }, { name: 'slot' }, { name: 'port' }, { name: 'baud' }, { name: 'reset' }, ALLOW_REMOTE_OPTION, { name: 'output' }, { name: 'key-store' }, { name: 'mac' }, { name: 'trust-key-store', flag: true }, { name: 'override-module-evidence', flag: true }, { name: 'json', flag: true }],
  async run(args, io) {
    args.maxPositionals(0);
    const b = boardOption(args, true)!;
    const out = args.need('output');
    // A folder or a key given as the output is said before any board is opened or started.
    checkOutputPath(out);
    const given = args.opt('mac');
    const slotOpt = args.opt('slot');
    const port = args.opt('port');
    if (port === undefined) {
      const stray = ['baud', 'reset', 'allow-remote'].filter((o) => (o === 'allow-remote' ? args.flag(o) : args.opt(o) !== undefined));
      if (stray.length) throw new UserError('E_USAGE', `ota-image: ${stray.map((o) => `--${o}`).join(' and ')} ${stray.length === 1 ? 'goes' : 'go'} with --port PORT (the board to connect to); give --port, or leave ${stray.length === 1 ? 'it' : 'them'} out.`);
    }
    // The arguments first: a --slot that is not one of the build's slots is said before the key store or a board.
    const slotGiven = slotOpt !== undefined ? args.int('slot') : undefined;
    if (slotGiven !== undefined) checkGivenOtaSlot(args.need('build'), b, slotGiven);
    let mac = given !== undefined ? normaliseMac(given) : undefined;
    const ks = store(args);
    let boardEvidence: Awaited<ReturnType<typeof otaBoardEvidence>>['evidence'] | undefined;
    let flashSize: number | undefined;
    if (port !== undefined) {
      // The board's MAC from its eFuses (download mode), and the evidence for its key found on it.
      const read = await withBoard(args, io, async (board) => {
        if (mac !== undefined && board.chip.mac.address !== mac) {
          throw new UserError('E_MAC_MISMATCH', `ota-image: --mac ${mac} is not the board on ${port}, whose MAC is ${board.chip.mac.address}; give that board's MAC, or leave --mac out to take it from the board; nothing was written.`);
        }
        return otaBoardEvidence(board, { store: ks, trustKeyStore: args.flag('trust-key-store') }, terminalUi(io));
      });
      io.err(`The board on ${port} is ${read.mac}.`);
      mac = read.mac;
      boardEvidence = read.evidence;
      flashSize = read.flashSize;
    }
    const img = await otaImage({
      store: ks,
      ...(mac ? { mac } : {}),
      ...(boardEvidence ? { boardEvidence } : {}),
      // The connected board's flash size: a slot of another size's layout (0x210000 on a 4 MB board) is refused.
      ...(flashSize !== undefined ? { flashSize } : {}),
      buildDir: args.need('build'),
      board: b,
      output: out,
      trustKeyStore: args.flag('trust-key-store'),
      overrideModule: args.flag('override-module-evidence'),
      slot: slotGiven !== undefined ? slotGiven : async () => {
        if (!port) throw new UserError('E_USAGE', 'ota-image: give --slot ADDR, or --port PORT to ask the running board for pycom.ota_slot().');
        const asked = await withPort(port, (t) => askOtaSlot(t, { note: (l) => io.err(l) }), args);
        io.err(`The board says its next OTA slot is ${hex(asked.slot)}.`);
        // The banner it printed says which module's firmware runs on it: checked before the image is made.
        return { slot: asked.slot, ...(asked.banner !== undefined ? { banner: asked.banner } : {}) };
      },
    }, terminalUi(io));
    // Evidence found on the board was said as it was found (establishKeyEvidence tells the UI).
    if (img.evidence && !boardEvidence) io.err(`Key evidence: ${img.evidence.text}.`);
    // An image made for a board (--mac) goes into that board's records (issue #14).
    const recordId = mac ? recordOtaImage(ks, mac, b, img) : undefined;
    if (args.flag('json')) {
      io.out(JSON.stringify({ output: out, slot: img.slot, slotSource: img.slotSource, bytes: img.data.length, sha256: sha256Hex(img.data), source: img.source, flashKey: img.flashKey ? fingerprint(img.flashKey) : null, mac: mac ? normaliseMac(mac) : null, recordId: recordId ?? null }, null, 2));
      return;
    }
    io.out(`Wrote ${out}: ${img.data.length} bytes for slot ${hex(img.slot)} from ${img.source}${img.flashKey ? ` (flash key ${fingerprint(img.flashKey)})` : ''}.`);
  },
};

const monitor: CliCommand = {
  name: 'monitor',
  summary: 'Show what the board prints at 115200 baud (after a reset into normal boot), with explanations of known failure lines.',
  usage: 'monitor --port PORT [--allow-remote] [--seconds N] [--no-reset] [--reset auto|pic|classic|none]',
  options: [{ name: 'port' }, ALLOW_REMOTE_OPTION, { name: 'seconds' }, { name: 'no-reset', flag: true }, { name: 'reset' }],
  async run(args, io) {
    args.maxPositionals(0);
    // Checked before the port is opened; 0 would show nothing, and a day is the most a timer here holds comfortably.
    const seconds = args.intIn('seconds', { min: 1, max: 86_400, what: 'a whole number of seconds' }, 5);
    return withPort(args.need('port'), async (t) => {
      const r = await monitorWorkflow(t, { ms: seconds * 1000, mode: resetModeOption(args), noReset: args.flag('no-reset') }, terminalUi(io));
      return printBootLog(io, r.text);
    }, args);
  },
};

export const firmwareCommands: CliCommand[] = [build, flash, verifyFlash, otaImageCommand, monitor];
