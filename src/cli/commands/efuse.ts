import { withBoard, ALLOW_REMOTE_OPTION } from '../board-session';
import type { CliCommand } from '../command';
import type { Args } from '../args';
import { burnKeys, decodeEfuses, DEFAULT_KEY_STORE, digestPrivateKey, dumpText, hardeningHelp, keyBits, KeyStore, leftOpenWarnings, notConfirmedError, parseSigningKey, readEfuses, readInputFile, readSummarySource, renderPlan, summaryJson, summaryText, UserError } from '../../core';
import { terminalUi } from '../terminal-ui';

const PORT_OPTS = [{ name: 'port', aliases: ['-p'] }, ALLOW_REMOTE_OPTION, { name: 'baud', aliases: ['-b'] }];

const summary: CliCommand = {
  name: 'efuse summary',
  summary: 'Show every eFuse field of the connected ESP32 (espefuse names; --json in espefuse\'s summary JSON shape). Key bytes are never shown.',
  usage: 'efuse summary --port PORT [--allow-remote] [--json]',
  options: [...PORT_OPTS, { name: 'json', flag: true }],
  async run(args, io) {
    args.maxPositionals(0);
    const { dec, apbCtlDate } = await withBoard(args, io, async ({ conn }) => readSummarySource(conn.loader));
    io.out(args.flag('json') ? JSON.stringify(summaryJson(dec, apbCtlDate), null, 4) : summaryText(dec, apbCtlDate));
  },
};

const dump: CliCommand = {
  name: 'efuse dump',
  summary: 'Print the raw eFuse block words (espefuse dump format; words of readable key blocks are masked).',
  usage: 'efuse dump --port PORT [--allow-remote]',
  options: PORT_OPTS,
  async run(args, io) {
    args.maxPositionals(0);
    const dec = await withBoard(args, io, async ({ conn }) => decodeEfuses(await readEfuses(conn.loader)));
    io.out(dumpText(dec));
  },
};


function loadSecureBootKey(args: Args, threeFour: boolean): Uint8Array {
  const file = args.opt('secure-boot-key');
  const pem = args.opt('signing-key');
  if ((file === undefined) === (pem === undefined)) {
    throw new UserError('E_USAGE', `${args.command}: give exactly one of --secure-boot-key KEY.bin or --signing-key SIGNING.pem.`);
  }
  if (file !== undefined) return readInputFile(file, 'secure boot key file');
  // The reflashable secure boot key is the digest of the signing key, never its public key.
  const key = parseSigningKey(readInputFile(pem!, 'signing key file'), pem!);
  return digestPrivateKey(key, keyBits(threeFour ? '3/4' : 'none'));
}

const burnKeysCommand: CliCommand = {
  name: 'efuse burn-keys',
  summary: 'Burn the flash-encryption and secure boot keys and enable flash encryption and secure boot, as one plan you see and confirm. Permanent.',
  usage: 'efuse burn-keys --port PORT [--allow-remote] --flash-key FLASH_KEY.bin (--secure-boot-key KEY.bin | --signing-key SIGNING.pem) [--hardening] [--keys-burned-elsewhere] [--dry-run] [--confirm MAC] [--key-store DIR]',
  help: [
    'Steps: flash-encryption key -> BLOCK1, secure boot key -> BLOCK2 (both read back and compared),',
    'then both read- and write-protected, FLASH_CRYPT_CONFIG = 0xF, FLASH_CRYPT_CNT odd (encryption on),',
    'ABS_DONE_0 (secure boot on). None of this can be undone. --dry-run prints the plan and burns nothing.',
    'Without --dry-run nothing is burned unless --confirm repeats the MAC of the connected board (or you type it when asked).',
    'An interrupted burn resumes: run the same command again; finished steps are verified and skipped.',
    'Every step is recorded in KEY_STORE/audit.jsonl (fingerprints only, never key bytes).',
    '--keys-burned-elsewhere: a key block already read- and write-protected by espefuse or another workstation',
    'is taken as holding the given key and never written; only the missing steps are burned. Such a key cannot',
    'be read back, so it is NOT verified against the key file (said in the plan and the audit log).',
    '',
    hardeningHelp(),
  ].join('\n'),
  options: [...PORT_OPTS, { name: 'flash-key' }, { name: 'secure-boot-key' }, { name: 'signing-key' }, { name: 'hardening', flag: true }, { name: 'keys-burned-elsewhere', flag: true }, { name: 'dry-run', flag: true }, { name: 'confirm' }, { name: 'key-store' }],
  async run(args, io) {
    args.maxPositionals(0);
    const flashKey = readInputFile(args.need('flash-key'), 'flash-encryption key file');
    const store = new KeyStore(args.opt('key-store') ?? DEFAULT_KEY_STORE);
    const ui = terminalUi(io);
    return withBoard(args, io, async (board) => {
      const confirm = args.opt('confirm');
      const r = await burnKeys(board, {
        store,
        keys: ({ threeFour }) => ({ flashKey, secureBootKey: loadSecureBootKey(args, threeFour) }),
        hardening: args.flag('hardening'),
        keysBurnedElsewhere: args.flag('keys-burned-elsewhere'),
        dryRun: args.flag('dry-run'),
        ...(confirm !== undefined ? { confirm } : {}),
        showPlan: (plan) => io.out(renderPlan(plan)),
      }, ui);
      switch (r.kind) {
        case 'dry-run':
          io.out('Dry run: nothing was burned.');
          return 0;
        case 'not-confirmed':
          throw notConfirmedError(r.plan);
        case 'closed':
          if (r.result.closed.length) io.out(`The interrupted run${r.result.closed.length === 1 ? '' : 's'} ${r.result.closed.join(', ')} had burned every step; verified and recorded as done in ${store.auditPath}.`);
          for (const w of leftOpenWarnings(r.result.leftOpen)) ui.warn(w);
          return 0;
        case 'burned': {
          const nv = r.result.keysNotVerified;
          const keys = nv.length
            ? `both key blocks protected, the key${nv.length === 1 ? '' : 's'} in ${nv.map((u) => `BLOCK${u.block}`).join(' and ')} burned elsewhere and NOT verified against the key file${nv.length === 1 ? '' : 's'}`
            : 'both keys protected';
          io.out(`Done: ${r.result.burned.length} step(s) burned and verified; ${keys}, flash encryption and secure boot on. Recorded in ${store.auditPath} (${r.result.id}).`);
          if (r.result.closed.length) io.out(`Earlier interrupted run(s) ${r.result.closed.join(', ')} verified and recorded as done.`);
          for (const w of leftOpenWarnings(r.result.leftOpen)) ui.warn(w);
          return 0;
        }
        case 'cancelled':
          throw new UserError('E_CANCELLED', r.message);
        default:
          // nothing-to-do (the plan said so) and not-chosen (the CLI always chooses) burn nothing.
          return 0;
      }
    });
  },
};

export const efuseCommands: CliCommand[] = [summary, dump, burnKeysCommand];
