import * as fs from 'node:fs';
import { boardOption, bootLogMsOption, resetModeOption } from '../common-options';
import { ALLOW_REMOTE_OPTION, linkJob } from '../board-session';
import type { CliCommand } from '../command';
import type { Args } from '../args';
import {
  boardRecordsCsv, checkLoaderBaud, damagedLinesPhrase, readAudit, DEFAULT_BAUD, DEFAULT_KEY_STORE, isSocketUrl, KeyStore, listPorts, parseApprovedMacs, provision, provisionSummary, readBoardRecords, readHardwareKeyFile, readInputFile, UserError, latestBoardRecords,
  type BoardTarget, type ProvisionEvent, type ProvisionSummaryTerms, type UiPort,
} from '../../core';

/** The approved MACs: --confirm-macs MAC,MAC,... or --confirm-macs-file FILE (one per line or comma-separated; # starts a comment). */
function approvedMacs(args: Args): string[] {
  const list = args.opt('confirm-macs');
  const file = args.opt('confirm-macs-file');
  if (list !== undefined && file !== undefined) throw new UserError('E_USAGE', 'provision: give --confirm-macs or --confirm-macs-file, not both.');
  if (list !== undefined) return parseApprovedMacs(list.split(/[\s,;]+/), '--confirm-macs');
  if (file !== undefined) {
    const text = Buffer.from(readInputFile(file, 'approved MAC list')).toString('utf8');
    return parseApprovedMacs(text.split('\n').map((l) => l.replace(/#.*/, '')).join(',').split(/[\s,;]+/), file);
  }
  throw new UserError('E_USAGE', 'provision: give the MACs you approve with --confirm-macs MAC,MAC,... or --confirm-macs-file FILE; a board whose MAC is not listed is left untouched.');
}

async function ports(args: Args): Promise<string[]> {
  const given = args.all('port');
  if (args.flag('all-ports')) {
    if (given.length) throw new UserError('E_USAGE', 'provision: give --port (repeatable) or --all-ports, not both.');
    const listing = await listPorts();
    const pycom = listing.ports.filter((p) => p.board?.pycom).map((p) => p.path);
    if (pycom.length === 0) throw new UserError('E_USAGE', 'provision: --all-ports found no Pycom board on a serial port; plug the boards in or give each with --port.');
    return pycom;
  }
  if (given.length === 0) throw new UserError('E_USAGE', 'provision: give each board\'s port with --port (repeatable) or --all-ports.');
  const dup = given.find((p, i) => given.indexOf(p) !== i);
  if (dup) throw new UserError('E_USAGE', `provision: the port ${dup} is given twice; give each port once.`);
  return given;
}

/** The CLI's ways on, in provision's summary line (provisionSummary). */
/** The most boards `provision --jobs` works on at once (each its own port and link). */
const MAX_JOBS = 64;

const SUMMARY_TERMS: ProvisionSummaryTerms = {
  rerun: 'run the same command again',
  givePort: { one: 'give its port with --port (or use --all-ports)', many: 'give their ports with --port (or use --all-ports)' },
};

const provisionCommand: CliCommand = {
  name: 'provision',
  summary: 'Provision many boards at once: keys (per-device with --per-device-keys), Burn Keys, the build re-encrypted per board, flash, boot check, a record per board.',
  usage: 'provision (--port PORT ... | --all-ports) --build DIR --key-store DIR (--confirm-macs MAC,MAC,... | --confirm-macs-file FILE) [--per-device-keys] [--hardening] [--jobs N] [--build-key FILE] [--board B] [--override-module-evidence] [--boot-log-ms N] [--baud N] [--reset MODE] [--allow-remote] [--json]',
  help: [
    'Every board in parallel: download mode, identify, approval, keys, Burn Keys (an interrupted run resumes),',
    'the build re-encrypted for the board\'s key, flash (only what differs is written, every region verified),',
    'boot check, record (KEY_STORE/audit.jsonl; export with `pycom-secure records`).',
    'Only boards whose MAC is in --confirm-macs / --confirm-macs-file are touched; the others are reported.',
    'A failure stops that board only; run the same command again to resume each board where it stopped.',
    '--per-device-keys: each board gets its own flash-encryption key, created in KEY_STORE/devices/<MAC>/ the',
    'first time (0600, never overwritten). The build key (--build-key, default KEY_STORE/flash_encryption_key.bin)',
    'is the key the build was made with: the build is decrypted with it and re-encrypted for each board.',
    '--board B states the Pycom module every board is (an ESP32 does not say which module it sits on): the build',
    'must be for it. Without it, a terminal asks "These boards are GPy modules?" (the build\'s module) before any',
    'board is opened, and a run that cannot ask (--json, no terminal) is refused. Each board\'s flash size and',
    'chip revision are checked against the module\'s either way. A board the key store\'s records name another module',
    '(its latest provision or flash record) is asked about in a terminal, else refused (E_MODULE_EVIDENCE, nothing',
    'burned or written) unless --override-module-evidence (your word that every board is the build\'s module, recorded).',
    '--boot-log-ms 0 skips reading the boot log (the boot is still predicted before writing).',
    '--json prints one JSON event per line and a summary line. Exit 0 only when every approved board finished.',
  ].join('\n'),
  options: [
    { name: 'port', aliases: ['-p'], repeat: true }, { name: 'all-ports', flag: true }, { name: 'build' }, { name: 'key-store' }, { name: 'board' },
    { name: 'confirm-macs' }, { name: 'confirm-macs-file' }, { name: 'per-device-keys', flag: true }, { name: 'hardening', flag: true },
    { name: 'jobs' }, { name: 'build-key' }, { name: 'boot-log-ms' }, { name: 'baud', aliases: ['-b'] }, { name: 'reset' }, { name: 'json', flag: true }, ALLOW_REMOTE_OPTION,
    { name: 'override-module-evidence', flag: true },
  ],
  async run(args, io) {
    args.maxPositionals(0);
    const macs = approvedMacs(args);
    const buildDir = args.need('build');
    const store = KeyStore.named(args.need('key-store'));
    const jobs = args.opt('jobs') !== undefined ? args.intIn('jobs', { min: 1, max: MAX_JOBS, what: 'a whole number of boards at once' }) : undefined;
    const bootMs = bootLogMsOption(args);
    const reset = resetModeOption(args);
    const baud = checkLoaderBaud(args.opt('baud') ?? DEFAULT_BAUD);
    const board = boardOption(args, false);
    const buildKeyFile = args.opt('build-key');
    const buildKey = buildKeyFile ? readHardwareKeyFile(buildKeyFile, 'flash-encryption') : undefined;
    const list = await ports(args);
    const allowRemote = args.flag('allow-remote');
    const targets: BoardTarget[] = list.map((port) => ({ port, reset, baud, ...(allowRemote ? { allowRemote } : {}), ...linkJob(args) }));
    const json = args.flag('json');
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    let lastFraction = new Map<string, number>();
    const onEvent = (e: ProvisionEvent): void => {
      if (json) {
        if (e.type === 'progress') {
          // At most one progress event per board and tenth, so the stream stays readable.
          const k = `${e.port} ${e.state}`;
          const step = Math.floor(e.fraction * 10);
          if (lastFraction.get(k) === step && e.fraction < 1) return;
          lastFraction.set(k, step);
        }
        io.out(JSON.stringify(e));
        return;
      }
      if (e.type === 'firmware') io.out(`Plan: ${e.message}`);
      else if (e.type === 'state') io.out(`${e.port}  ${e.mac ?? '-'}  ${e.state}: ${e.message}`);
      else if (e.type === 'plan') io.err(`${e.port}  ${e.mac}  Burn Keys plan (${e.steps} step(s) to burn):\n${e.text.split('\n').map((l) => `    ${l}`).join('\n')}`);
    };
    // The module question (no --board) on a terminal only: --json and scripts give --board.
    const ui: Pick<UiPort, 'info' | 'warn' | 'confirm'> = json ? { info: () => undefined, warn: () => undefined } : {
      info: (l) => io.err(l), warn: (l) => io.err(`Warning: ${l}`),
      ...(io.prompt ? {
        confirm: async (q) => {
          io.err(q.detail);
          const a = await io.prompt!(`${q.title} [yes/no] `);
          return /^y(es)?$/i.test(a?.trim() ?? '');
        },
      } : {}),
    };
    try {
      const outcome = await provision({
        ports: targets, store, buildDir, ...(board ? { board } : {}), perDeviceKeys: args.flag('per-device-keys'), hardening: args.flag('hardening'),
        ...(args.flag('override-module-evidence') ? { overrideModule: true } : {}),
        approvedMacs: macs, ...(jobs !== undefined ? { jobs } : {}), ...(buildKey ? { buildKey } : {}),
        bootLog: bootMs > 0 ? { ms: bootMs, mode: reset } : false,
        isVirtual: (p) => isSocketUrl(p), signal: ac.signal, onEvent,
      }, ui);
      lastFraction = new Map();
      if (json) {
        io.out(JSON.stringify({ type: 'summary', ok: outcome.ok, boards: outcome.boards, notSeen: outcome.notSeen }));
      } else {
        const rows = outcome.boards.map((b) => [b.port, b.mac ?? '-', b.state, b.flashKeyFingerprint ?? '-', `${b.burned ?? '-'}${b.resumed?.burnedSteps.length ? ` (+${b.resumed.burnedSteps.length} earlier)` : ''}`, b.bytesWritten ?? '-', b.message].map(String));
        const head = ['PORT', 'MAC', 'RESULT', 'FLASH KEY', 'BURNED', 'WRITTEN', 'MESSAGE'];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (i < 6 ? r[i]!.length : 0))));
        io.out('');
        for (const r of [head, ...rows]) io.out(r.map((c, i) => (i < 6 ? c.padEnd(widths[i]!) : c)).join('  '));
        for (const m of outcome.notSeen) io.out(`${m} was approved but no port answered with it.`);
        io.out(provisionSummary(outcome, store.auditPath, SUMMARY_TERMS, ac.signal.aborted));
      }
      return outcome.ok ? 0 : 1;
    } finally {
      process.off('SIGINT', onSig);
    }
  },
};

const recordsCommand: CliCommand = {
  name: 'records',
  summary: 'Export the board records of a key store (provision, flash, ota-image, burn-keys runs) as JSON or CSV.',
  usage: 'records [--key-store DIR] [--format json|csv] [--mac MAC] [--latest]',
  help: [
    'One record per board and run: MAC, board, chip revision, key fingerprints (never key bytes), eFuse state before and after, each region written (address, file, sha256), firmware generation, tool version, start and end times, result and error.',
    'A run that was cut off stays `interrupted` (it happened); the next flash or provision of that board names it in `supersedes`, and the',
    'cut-off record names that run in `supersededBy`. --latest gives one record per board, its latest run that changed it (burn-keys, flash, provision; not ota-image, which only reads it): the board\'s current state.',
    'Exit code 0: every line of the audit log is a record; 1: the records are printed, but some lines are damaged (named on stderr:',
    'file and line numbers); 2: the audit log holds lines but no record at all (a file that is not an audit log), or bad input; an empty one gives no records.',
  ].join('\n'),
  options: [{ name: 'key-store' }, { name: 'format' }, { name: 'mac' }, { name: 'latest', flag: true }],
  run(args, io) {
    args.maxPositionals(0);
    const format = args.opt('format') ?? 'json';
    if (format !== 'json' && format !== 'csv') throw new UserError('E_USAGE', `records: --format must be json or csv, not "${format}".`);
    const store = KeyStore.named(args.opt('key-store') ?? DEFAULT_KEY_STORE);
    // A mistyped folder would otherwise print no records, as if no board had been worked on.
    if (!fs.existsSync(store.dir)) {
      throw new UserError('E_NO_DIR', `records: the key store folder ${store.dir} does not exist; give the folder that holds audit.jsonl with --key-store DIR${args.opt('key-store') === undefined ? ' (the default is ./secure)' : ''}.`);
    }
    // The audit log is the evidence: a damaged line is named, never skipped silently (trial 6).
    const { records: good, damaged } = readAudit(store.auditPath);
    if (damaged.length && !good.length) {
      throw new UserError('E_AUDIT_DAMAGED', `records: ${store.auditPath} is not a key store's audit log: none of its ${damaged.length} line${damaged.length === 1 ? ' is a record' : 's is a record'} (one JSON object per line, with an id and a phase); restore it from your backup of the key store, or give the folder that holds the right audit.jsonl with --key-store DIR.`);
    }
    const all = readBoardRecords(store.auditPath, args.opt('mac'));
    const recs = args.flag('latest') ? latestBoardRecords(all) : all;
    if (format === 'csv') io.out(boardRecordsCsv(recs).trimEnd());
    else io.out(JSON.stringify(recs, null, 2));
    if (damaged.length) {
      io.err(`Warning: ${damagedLinesPhrase(store.auditPath, damaged)}, so what ${damaged.length === 1 ? 'it held is' : 'they held is'} missing from these records; restore the audit log from your backup of the key store if you have one (exit code 1).`);
      return 1;
    }
    return 0;
  },
};

export const fleetCommands: CliCommand[] = [provisionCommand, recordsCommand];
