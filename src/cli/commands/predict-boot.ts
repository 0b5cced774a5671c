import * as path from 'node:path';
import { boardOption, flashSizeOption } from '../common-options';
import { PKCS11_MODULE_OPTION } from '../key-access';
import { withBoard, ALLOW_REMOTE_OPTION } from '../board-session';
import { terminalUi } from '../terminal-ui';
import type { CliCommand, CliIo } from '../command';
import type { Args } from '../args';
import { boardFlashSize, boardPlanFromBuild, DEFAULT_KEY_STORE, findBuildOutputs, KeyStore, overlayFlash, PLANNED_EFUSE_STATES, plannedBootEfuses, predictBoot, predictBootOnBoard, predictionKeys, predictionReport, storeBuildKey, UserError, type BoardId, type BootVerdict, type FlashPlan, type KeyEvidence, type KnownKeys, type PartlyWritten, type PlannedEfuseState, type ResolvedEfuses } from '../../core';

/**
 * Keys for the prediction (the core's predictionKeys): the files named by --flash-key,
 * --secure-boot-key and --signing-key first, then the key store.
 */
function knownKeys(args: Args, ks: KeyStore, mac: string | undefined, threeFour: boolean): KnownKeys {
  if (args.opt('secure-boot-key') !== undefined && args.opt('signing-key') !== undefined) throw new UserError('E_USAGE', `${args.command}: give --secure-boot-key or --signing-key, not both.`);
  const given = { flashKeyFile: args.opt('flash-key'), signingKey: args.opt('signing-key'), secureBootKeyFile: args.opt('secure-boot-key'), pkcs11Module: args.opt('pkcs11-module') };
  return predictionKeys(ks, { ...(mac !== undefined ? { mac } : {}), threeFour }, Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)));
}

function report(args: Args, io: CliIo, source: string, r: ResolvedEfuses, v: BootVerdict | undefined, evidence?: KeyEvidence, diagnosis?: string, partlyWritten?: PartlyWritten, notes?: string[]): number {
  const said = predictionReport(source, { resolved: r, ...(v ? { verdict: v } : {}), ...(diagnosis ? { diagnosis } : {}), ...(notes ? { notes } : {}) });
  const decided = said.status !== 'undecided' && v !== undefined;
  if (args.flag('json')) {
    io.out(JSON.stringify({
      source, decided,
      boots: decided ? v.boots : null, outcome: decided ? v.outcome : null, reason: decided ? v.reason : null, resetLoop: decided ? v.resetLoop : null,
      log: decided ? v.log : [], hazards: decided ? v.hazards : [], assumptions: r.assumptions, undecidable: r.undecidable,
      evidence: evidence ? { kind: evidence.kind, text: evidence.text } : null,
      diagnosis: diagnosis ?? null,
      notes: notes ?? [],
      partlyWritten: partlyWritten ? {
        address: partlyWritten.address, length: partlyWritten.length ?? null, written: partlyWritten.written ?? null, file: partlyWritten.file ?? null,
        source: partlyWritten.source, run: partlyWritten.run?.id ?? null,
      } : null,
    }, null, 2));
  } else {
    for (const l of said.lines) io.out(l);
    for (const a of r.assumptions) io.err(`assumption: ${a}`);
  }
  // 0: boots into the app; 1: does not, or would generate its own keys on first boot; 4: cannot decide.
  return said.status === 'undecided' ? 4 : said.status === 'boots' ? 0 : 1;
}

function buildPlan(args: Args, ks: KeyStore, dir: string, flashKey: Uint8Array | undefined, flashSize: number | undefined): { plan: FlashPlan; board: BoardId } {
  const b = boardOption(args) ?? findBuildOutputs(dir).board;
  // A board with its own key (per-device keys): the build re-encrypted for it from the store's build key.
  const buildKey = storeBuildKey(ks);
  const r = boardPlanFromBuild(dir, { board: b, flashSize: flashSize ?? boardFlashSize(b), ...(flashKey ? { flashKey } : {}), ...(buildKey ? { buildKey } : {}) });
  return { plan: r.plan, board: r.build.board };
}

async function planned(args: Args, io: CliIo, ks: KeyStore): Promise<number> {
  if (args.opt('port')) throw new UserError('E_USAGE', 'predict-boot: --plan predicts a board that is not connected; drop --port, or drop --plan to ask the board.');
  const dir = args.opt('build');
  if (!dir) throw new UserError('E_USAGE', 'predict-boot: --plan needs --build DIR (the build to predict).');
  const state = (args.opt('efuses') ?? 'burned') as PlannedEfuseState;
  if (!(PLANNED_EFUSE_STATES as readonly string[]).includes(state)) throw new UserError('E_USAGE', `predict-boot: --efuses must be ${PLANNED_EFUSE_STATES.slice(0, -1).join(', ')} or ${PLANNED_EFUSE_STATES[PLANNED_EFUSE_STATES.length - 1]} (the eFuse state --plan assumes), not "${state}".`);
  const keys = knownKeys(args, ks, undefined, false);
  const explicitSize = flashSizeOption(args);
  const { plan, board: b } = buildPlan(args, ks, dir, keys.flashKey, explicitSize);
  const flashSize = explicitSize ?? boardFlashSize(b);
  const r = plannedBootEfuses(state, keys);
  const v = r.undecidable.length
    ? undefined
    : predictBoot({ efuse: r.efuse, flashSize, readFlash: overlayFlash(plan, undefined), ...(keys.signingPublicKey ? { signingPublicKey: keys.signingPublicKey } : {}) });
  return report(args, io, `A ${b} with ${state} eFuses and this build on an erased flash`, r, v);
}

async function connected(args: Args, io: CliIo, ks: KeyStore, port: string): Promise<number> {
  return withBoard(args, io, async (board) => {
    const dir = args.opt('build');
    const r = await predictBootOnBoard(board, {
      store: ks,
      trustKeyStore: args.flag('trust-key-store'),
      keys: ({ mac, threeFour }) => knownKeys(args, ks, mac, threeFour),
      ...(dir ? { plan: ({ flashKey, flashSize }: { flashKey: Uint8Array | undefined; flashSize: number }) => buildPlan(args, ks, dir, flashKey, flashSize).plan } : {}),
    }, terminalUi(io));
    // The board as it will be after this build is written: the plan's bytes over what it holds now.
    const source = dir && r.verdict ? `The board on ${port} after flashing ${path.basename(dir)}` : `The board on ${port}`;
    return report(args, io, source, r.resolved, r.verdict, r.evidence, r.diagnosis, r.partlyWritten, r.notes);
  });
}

export const predictBootCommand: CliCommand = {
  name: 'predict-boot',
  summary: 'Say whether the connected board (or a planned one, --plan) will boot, and if not what it prints and why.',
  usage: 'predict-boot (--port PORT [--allow-remote] [--baud N] [--reset MODE] [--build DIR] | --plan --build DIR [--efuses fresh|burned|hardened] [--flash-size BYTES]) [--board B] [--key-store DIR] [--flash-key FILE] [--secure-boot-key FILE | --signing-key PEM|pkcs11:URI] [--pkcs11-module PATH] [--trust-key-store] [--json]',
  help: [
    'With --port: the eFuses and flash of the connected board (the flash is read over the ROM loader: digest,',
    'bootloader, partition table and the app image). With --build as well: the board as it will be after that',
    'build is flashed. With --plan: no board; the build on an erased flash and a planned eFuse state (default',
    '"burned", the state efuse burn-keys leaves). Read-protected key blocks cannot be read over the serial port:',
    'the keys come from --flash-key / --secure-boot-key / --signing-key or the key store (default secure/);',
    'without them the answer is "cannot decide", naming the missing key. Those keys count as the board\'s only',
    'with evidence (a verified Burn Keys run for the board in the key store\'s audit log, or the board\'s flash',
    'decrypting with them to a valid image set) or --trust-key-store (your word, recorded in the audit log);',
    'otherwise the answer is "cannot decide" too. Key bytes are never printed.',
    'A signing key in a token (pkcs11: URI, or the store\'s secure_boot_signing_key.pkcs11) gives its public key',
    'without a PIN; its secure boot key is the store\'s secure_boot_key.bin (or --secure-boot-key).',
    '--board B: the module the build is for (default: the build\'s own); --flash-size BYTES (with --plan): the',
    'module\'s flash size in bytes, e.g. 4194304 (default: the board\'s, from the catalog). --baud N and',
    '--reset auto|pic|classic|none (with --port): the loader\'s rate after connecting, and how to enter download mode.',
    'Exit code 0: boots into the app; 1: does not (or would generate its own keys on first boot); 4: cannot decide.',
  ].join('\n'),
  options: [
    { name: 'port', aliases: ['-p'] }, ALLOW_REMOTE_OPTION, { name: 'baud', aliases: ['-b'] }, { name: 'reset' }, { name: 'build' }, { name: 'board' }, { name: 'plan', flag: true },
    { name: 'efuses' }, { name: 'flash-size' }, { name: 'key-store' }, { name: 'flash-key' }, { name: 'secure-boot-key' }, { name: 'signing-key' }, { name: 'json', flag: true },
    { name: 'trust-key-store', flag: true }, PKCS11_MODULE_OPTION,
  ],
  async run(args, io) {
    args.maxPositionals(0);
    const ks = KeyStore.named(args.opt('key-store') ?? DEFAULT_KEY_STORE);
    if (args.flag('plan')) return planned(args, io, ks);
    const port = args.opt('port');
    if (!port) throw new UserError('E_USAGE', 'predict-boot: give --port PORT (a connected board), or --plan --build DIR (a planned one).');
    // The connected board's eFuses are read from it: a planned state given too would be silently ignored.
    if (args.opt('efuses') !== undefined) throw new UserError('E_USAGE', 'predict-boot: --efuses sets the eFuse state of a planned board and goes with --plan; with --port the board\'s own eFuses are read, so drop --efuses (or drop --port and add --plan).');
    return connected(args, io, ks, port);
  },
};
