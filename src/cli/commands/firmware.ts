import * as path from 'node:path';
import { otaImage, bootLogLines, flash as flashWorkflow, monitor as monitorWorkflow, secureBuild, checkPlan, DEFAULT_KEY_STORE, describeRegion, differingRanges, explainBootLog, findBuildOutputs, fingerprint, hex, keysForBoard, KeyStore, planFromBuild, planFromPairs, queryOtaSlot, readHardwareKeyFile, romFlashIo, UserError, type BuildTarget, type FlashPlan } from '../../core';
import { boardOption, resetModeOption } from '../common-options';
import { withBoard, withPort } from '../board-session';
import { terminalUi } from '../terminal-ui';
import type { CliCommand, CliIo } from '../command';
import { parseIntArg, type Args } from '../args';
import * as fs from 'node:fs';

function store(args: Args): KeyStore {
  return new KeyStore(args.opt('key-store') ?? DEFAULT_KEY_STORE);
}

/** `--build DIR` or `ADDR FILE ...` pairs. */
function plan(args: Args, flashSize: number | undefined, flashKey?: Uint8Array): FlashPlan {
  const build = args.opt('build');
  const pos = args.parsed.positionals;
  if (build && pos.length) throw new UserError('E_USAGE', `${args.command}: give either --build DIR or ADDR FILE pairs, not both.`);
  if (build) return planFromBuild(findBuildOutputs(build, { ...(boardOption(args, false) ? { board: boardOption(args, false)! } : {}), ...(flashKey ? { flashKey } : {}) }), flashSize !== undefined ? { flashSize } : {});
  if (pos.length === 0 || pos.length % 2 !== 0) throw new UserError('E_USAGE', `${args.command}: give --build DIR or pairs of ADDR FILE.`);
  const pairs = [];
  for (let i = 0; i < pos.length; i += 2) pairs.push({ address: parseIntArg(pos[i]!, 'ADDR', args.command), file: pos[i + 1]! });
  return planFromPairs(pairs);
}

function printBootLog(io: CliIo, text: string): number {
  const ex = explainBootLog(text);
  for (const l of bootLogLines(text, ex)) io.out(l.startsWith('|') || l.startsWith('✗') || l.startsWith('✓') || l.startsWith('•') ? `  ${l}` : l);
  return ex.verdict === 'failed' ? 1 : 0;
}

const PROGRESS_STEP = 0.1;

const build: CliCommand = {
  name: 'build',
  summary: "Run Pycom's secure build (make SECURE=on) for a board, with diagnostics.",
  usage: 'build --board GPY [--project DIR] [--target boot|app|boot_app] [--signing-key PEM] [--flash-key BIN] [--key-store DIR]',
  help: "Needs Pycom's xtensa-esp32-elf toolchain on PATH and IDF_PATH set to pycom-esp-idf. Keys default to the key store's secure_boot_signing_key.pem and flash_encryption_key.bin. --target boot_app (the default) runs make TARGET=boot then TARGET=app on 1.17-1.18 checkouts, which have no boot_app target.",
  options: [{ name: 'board' }, { name: 'project' }, { name: 'target' }, { name: 'signing-key' }, { name: 'flash-key' }, { name: 'key-store' }],
  async run(args, io) {
    args.maxPositionals(0);
    const b = boardOption(args, true)!;
    const target = (args.opt('target') ?? 'boot_app') as BuildTarget;
    if (!['boot', 'app', 'boot_app'].includes(target)) throw new UserError('E_USAGE', 'build: --target must be boot, app or boot_app.');
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    try {
      const res = await secureBuild({
        project: args.opt('project') ?? process.cwd(),
        board: b,
        target,
        store: store(args),
        ...(args.opt('signing-key') ? { signingKey: args.opt('signing-key')! } : {}),
        ...(args.opt('flash-key') ? { flashKey: args.opt('flash-key')! } : {}),
        signal: ac.signal,
        onLine: (line) => io.err(line),
      });
      io.out(res.summary);
      return res.exitCode === 0 ? 0 : 1;
    } finally {
      process.off('SIGINT', onSig);
    }
  },
};

const flashOptions = [
  { name: 'port' }, { name: 'build' }, { name: 'board' }, { name: 'baud' }, { name: 'reset' }, { name: 'key-store' }, { name: 'flash-size' },
  { name: 'incremental', flag: true }, { name: 'dry-run', flag: true }, { name: 'force-config-sector', flag: true }, { name: 'no-compress', flag: true }, { name: 'boot-log-ms' },
];

const flash: CliCommand = {
  name: 'flash',
  summary: 'Check a flash plan against the board, its eFuses and the key store, then write it (verified) and show the boot log.',
  usage: 'flash --port PORT (--build DIR | ADDR FILE ...) [--incremental] [--dry-run] [--force-config-sector] [--key-store DIR]',
  options: flashOptions,
  async run(args, io) {
    const port = args.opt('port');
    const ks = store(args);
    if (!port) {
      if (!args.flag('dry-run')) throw new UserError('E_USAGE', 'flash: --port is required (only --dry-run checks a plan without a board).');
      const key = fs.existsSync(ks.sharedFlashKeyPath) ? readHardwareKeyFile(ks.sharedFlashKeyPath, 'flash-encryption') : undefined;
      const p = plan(args, args.opt('flash-size') ? args.int('flash-size') : undefined, key);
      const r = await checkPlan(p, key ? { flashKey: key } : {});
      for (const reg of p.regions) io.out(`  ${describeRegion(reg)}`);
      for (const n of r.notes) io.err(`note: ${n}`);
      io.out('Dry run: the plan passed the checks that need no board; nothing was written.');
      return;
    }
    return withBoard(args, io, async (board) => {
      let nextShown = 0;
      const r = await flashWorkflow(board, {
        store: ks,
        plan: ({ flashKey, flashSize }) => plan(args, flashSize, flashKey),
        incremental: args.flag('incremental'),
        dryRun: args.flag('dry-run'),
        forceConfigSector: args.flag('force-config-sector'),
        compress: !args.flag('no-compress'),
        bootLog: { ms: args.int('boot-log-ms', 2000), mode: resetModeOption(args) },
        onProgress: (e) => {
          const frac = e.bytesDone / Math.max(1, e.bytesTotal);
          if (e.phase === 'done' || frac >= nextShown) {
            nextShown = frac + PROGRESS_STEP;
            io.err(`[${e.region}/${e.regions}] ${path.basename(e.file)} @ ${hex(e.address)}: ${Math.round(frac * 100)}% (${Math.round(e.throughput / 1024)} KiB/s${e.etaSeconds !== undefined ? `, ${Math.ceil(e.etaSeconds)} s left` : ''})`);
          }
        },
      }, terminalUi(io));
      for (const n of r.report.notes) io.err(`note: ${n}`);
      if (args.flag('dry-run')) {
        io.out('Dry run: every check passed; nothing was written.');
        return;
      }
      for (const x of r.results) io.out(`${path.basename(x.file)} @ ${hex(x.address)}: ${x.bytesWritten === 0 ? 'unchanged' : `${x.bytesWritten} of ${x.length} bytes written`}, verified (MD5).`);
      return printBootLog(io, r.boot!.text);
    });
  },
};

const verifyFlash: CliCommand = {
  name: 'verify-flash',
  summary: 'Compare the board\'s flash with a build or ADDR FILE pairs (MD5 per 4 KB sector).',
  usage: 'verify-flash --port PORT (--build DIR | ADDR FILE ...) [--board B]',
  options: [{ name: 'port' }, { name: 'build' }, { name: 'board' }, { name: 'baud' }, { name: 'reset' }, { name: 'key-store' }],
  async run(args, io) {
    return withBoard(args, io, async ({ conn, chip: info }) => {
      const p = plan(args, info.flash.sizeBytes, keysForBoard(store(args), info).flashKey);
      const fio = romFlashIo(conn.loader);
      let bad = 0;
      for (const r of p.regions) {
        const diff = await differingRanges(fio, r.address, r.data);
        if (diff.length) bad++;
        io.out(`${describeRegion(r)}: ${diff.length ? `differs in ${diff.map(([a, b]) => `${hex(r.address + a)}-${hex(r.address + b)}`).join(', ')}` : 'verify OK (digest matched)'}`);
      }
      return bad ? 1 : 0;
    });
  },
};

const otaImageCommand: CliCommand = {
  name: 'ota-image',
  summary: 'Write the app encrypted for the board\'s OTA slot (asked from the running board unless --slot is given).',
  usage: 'ota-image --board GPY --build DIR [--slot ADDR] [--port PORT] --output OUT [--key-store DIR] [--mac MAC]',
  options: [{ name: 'board' }, { name: 'build' }, { name: 'slot' }, { name: 'port' }, { name: 'output' }, { name: 'key-store' }, { name: 'mac' }],
  async run(args, io) {
    args.maxPositionals(0);
    const b = boardOption(args, true)!;
    const out = args.need('output');
    const mac = args.opt('mac');
    const slotOpt = args.opt('slot');
    const img = await otaImage({
      store: store(args),
      ...(mac ? { mac } : {}),
      buildDir: args.need('build'),
      board: b,
      output: out,
      slot: slotOpt !== undefined ? args.int('slot') : async () => {
        const port = args.opt('port');
        if (!port) throw new UserError('E_USAGE', 'ota-image: give --slot ADDR, or --port PORT to ask the running board for pycom.ota_slot().');
        const slot = await withPort(port, (t) => queryOtaSlot(t));
        io.err(`The board says its next OTA slot is ${hex(slot)}.`);
        return slot;
      },
    });
    io.out(`Wrote ${out}: ${img.data.length} bytes for slot ${hex(img.slot)} from ${img.source}${img.flashKey ? ` (flash key ${fingerprint(img.flashKey)})` : ''}.`);
  },
};

const monitor: CliCommand = {
  name: 'monitor',
  summary: 'Show what the board prints at 115200 baud (after a reset into normal boot), with explanations of known failure lines.',
  usage: 'monitor --port PORT [--seconds N] [--no-reset] [--reset auto|pic|classic|none]',
  options: [{ name: 'port' }, { name: 'seconds' }, { name: 'no-reset', flag: true }, { name: 'reset' }],
  async run(args, io) {
    args.maxPositionals(0);
    return withPort(args.need('port'), async (t) => {
      const r = await monitorWorkflow(t, { ms: args.int('seconds', 5) * 1000, mode: resetModeOption(args), noReset: args.flag('no-reset') }, terminalUi(io));
      return printBootLog(io, r.text);
    });
  },
};

export const firmwareCommands: CliCommand[] = [build, flash, verifyFlash, otaImageCommand, monitor];
