import { withBoard } from '../board-session';
import type { CliCommand, CliIo } from '../command';
import type { Args } from '../args';
import { AuditLog, checkConfirmation, closeInterruptedRun, decodeEfuses, DEFAULT_KEY_STORE, digestPrivateKey, dumpText, executeBurnKeys, hardeningHelp, isThreeFour, keyBits, KeyStore, parseSigningKey, pendingSteps, planBurnKeys, readAudit, readEfuses, readInputFile, renderPlan, summaryJson, summaryText, UserError } from '../../core';

const PORT_OPTS = [{ name: 'port', aliases: ['-p'] }, { name: 'baud', aliases: ['-b'] }];

const summary: CliCommand = {
  name: 'efuse summary',
  summary: 'Show every eFuse field of the connected ESP32 (espefuse names; --json in espefuse\'s summary JSON shape). Key bytes are never shown.',
  usage: 'efuse summary --port PORT [--json]',
  options: [...PORT_OPTS, { name: 'json', flag: true }],
  async run(args, io) {
    args.maxPositionals(0);
    const dec = await withBoard(args, io, async (conn) => decodeEfuses(await readEfuses(conn.loader)));
    io.out(args.flag('json') ? JSON.stringify(summaryJson(dec), null, 4) : summaryText(dec));
  },
};

const dump: CliCommand = {
  name: 'efuse dump',
  summary: 'Print the raw eFuse block words (espefuse dump format; words of readable key blocks are masked).',
  usage: 'efuse dump --port PORT',
  options: PORT_OPTS,
  async run(args, io) {
    args.maxPositionals(0);
    const dec = await withBoard(args, io, async (conn) => decodeEfuses(await readEfuses(conn.loader)));
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

/** Interrupted runs this run could not vouch for stay open in the audit log; the user is told which and why. */
function reportLeftOpen(io: CliIo, leftOpen: readonly { id: string; reason: string }[]): void {
  for (const r of leftOpen) io.err(`Warning: ${r.reason}. Check the board with \`efuse summary\` and keep the audit log.`);
}

const burnKeys: CliCommand = {
  name: 'efuse burn-keys',
  summary: 'Burn the flash-encryption and secure boot keys and enable flash encryption and secure boot, as one plan you see and confirm. Permanent.',
  usage: 'efuse burn-keys --port PORT --flash-key FLASH_KEY.bin (--secure-boot-key KEY.bin | --signing-key SIGNING.pem) [--hardening] [--dry-run] [--confirm MAC] [--key-store DIR]',
  help: [
    'Steps: flash-encryption key -> BLOCK1, secure boot key -> BLOCK2 (both read back and compared),',
    'then both read- and write-protected, FLASH_CRYPT_CONFIG = 0xF, FLASH_CRYPT_CNT odd (encryption on),',
    'ABS_DONE_0 (secure boot on). None of this can be undone. --dry-run prints the plan and burns nothing.',
    'Without --dry-run nothing is burned unless --confirm repeats the MAC of the connected board (or you type it when asked).',
    'An interrupted burn resumes: run the same command again; finished steps are verified and skipped.',
    'Every step is recorded in KEY_STORE/audit.jsonl (fingerprints only, never key bytes).',
    '',
    hardeningHelp(),
  ].join('\n'),
  options: [...PORT_OPTS, { name: 'flash-key' }, { name: 'secure-boot-key' }, { name: 'signing-key' }, { name: 'hardening', flag: true }, { name: 'dry-run', flag: true }, { name: 'confirm' }, { name: 'key-store' }],
  async run(args, io) {
    args.maxPositionals(0);
    const flashKey = readInputFile(args.need('flash-key'), 'flash-encryption key file');
    const store = new KeyStore(args.opt('key-store') ?? DEFAULT_KEY_STORE);
    const warning = store.exposureWarning();
    if (warning) io.err(`Warning: ${warning}`);
    const audit = new AuditLog(store.auditPath);
    const history = readAudit(audit.file);
    for (const d of history.damaged) io.err(`Warning: line ${d.line} of ${audit.file} is damaged${d.last ? ' (torn last line: the previous run was cut off while writing it)' : ''}; the other lines are used.`);
    return withBoard(args, io, async (conn, chip) => {
      const snap = await readEfuses(conn.loader);
      const threeFour = isThreeFour(decodeEfuses(snap).codingScheme);
      const secureBootKey = loadSecureBootKey(args, threeFour);
      const plan = planBurnKeys(snap, {
        target: { chip: chip.chip, revision: chip.revision.major, mac: chip.mac.address },
        flashKey, secureBootKey, hardening: args.flag('hardening'), history: history.records,
      });
      io.out(renderPlan(plan));
      if (args.flag('dry-run')) {
        io.out('Dry run: nothing was burned.');
        return 0;
      }
      if (pendingSteps(plan).length === 0) {
        const closed = await closeInterruptedRun(conn.loader, plan, { flashKey, secureBootKey, audit, revision: chip.revision.text });
        if (closed) {
          if (closed.closed.length) io.out(`The interrupted run${closed.closed.length === 1 ? '' : 's'} ${closed.closed.join(', ')} had burned every step; verified and recorded as done in ${audit.file}.`);
          reportLeftOpen(io, closed.leftOpen);
        }
        return 0;
      }
      let confirm = args.opt('confirm');
      if (confirm === undefined && io.prompt) confirm = await io.prompt(`Type the MAC of this board (${plan.mac}) to burn, anything else aborts: `);
      checkConfirmation(plan, confirm);
      store.ensureDir();
      // The crystal sets the eFuse timing; 48 MHz has no entry in the table, 40 MHz timing is the safe choice (UNCONFIRMED).
      const apbMhz = chip.crystalMhz === 26 ? 26 : 40;
      const r = await executeBurnKeys(conn.loader, plan, {
        confirmMac: confirm, flashKey, secureBootKey, audit, revision: chip.revision.text, engine: { apbMhz }, onProgress: (m) => io.err(m),
      });
      io.out(`Done: ${r.burned.length} step(s) burned and verified; both keys protected, flash encryption and secure boot on. Recorded in ${audit.file} (${r.id}).`);
      if (r.closed.length) io.out(`Earlier interrupted run(s) ${r.closed.join(', ')} verified and recorded as done.`);
      reportLeftOpen(io, r.leftOpen);
      return 0;
    });
  },
};

export const efuseCommands: CliCommand[] = [summary, dump, burnKeys];
