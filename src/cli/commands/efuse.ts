import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { withBoard, ALLOW_REMOTE_OPTION } from '../board-session';
import type { CliCommand } from '../command';
import type { Args } from '../args';
import { burnKeys, decodeEfuses, DEFAULT_KEY_STORE, digestPrivateKey, dumpText, fingerprint, hardeningHelp, keyBits, KeyStore, leftOpenWarnings, notConfirmedError, pemPrivateKey, readEfuses, readHardwareKeyFile, readSummarySource, renderPlan, summaryJson, summaryText, UserError } from '../../core';
import { terminalUi } from '../terminal-ui';

const PORT_OPTS = [{ name: 'port', aliases: ['-p'] }, ALLOW_REMOTE_OPTION, { name: 'baud', aliases: ['-b'] }];

const summary: CliCommand = {
  name: 'efuse summary',
  summary: 'Show every eFuse field of the connected ESP32 (espefuse names; --json in espefuse\'s summary JSON shape). Key bytes are never shown.',
  usage: 'efuse summary --port PORT [--allow-remote] [--baud N] [--json]',
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
  usage: 'efuse dump --port PORT [--allow-remote] [--baud N]',
  options: PORT_OPTS,
  async run(args, io) {
    args.maxPositionals(0);
    const dec = await withBoard(args, io, async ({ conn }) => decodeEfuses(await readEfuses(conn.loader)));
    io.out(dumpText(dec));
  },
};


/**
 * The secure boot key: the file given, or the signing key it is derived from, read and checked now
 * (before the board is touched); the result is a function of the coding scheme.
 */
function loadSecureBootKey(args: Args): (threeFour: boolean) => { secureBootKey: Uint8Array; secureBootKeySource: string } {
  const file = args.opt('secure-boot-key');
  const pem = args.opt('signing-key');
  if ((file === undefined) === (pem === undefined)) {
    throw new UserError('E_USAGE', `${args.command}: give exactly one of --secure-boot-key KEY.bin or --signing-key SIGNING.pem.`);
  }
  if (file !== undefined) {
    const key = readHardwareKeyFile(file, 'secure-boot');
    const source = `the secure boot key file ${file} (fingerprint ${fingerprint(key)})`;
    return () => ({ secureBootKey: key, secureBootKeySource: source });
  }
  // The reflashable secure boot key is the digest of the signing key, never its public key; a
  // key in a token has no private key here to digest (it needs --secure-boot-key).
  const priv = pemPrivateKey(pem!, 'the secure boot key (pass --secure-boot-key with the key from generate-secure-boot-key instead)');
  return (threeFour) => {
    const key = digestPrivateKey(priv, keyBits(threeFour ? '3/4' : 'none'));
    return { secureBootKey: key, secureBootKeySource: `derived from the signing key ${pem} (SHA-256 of its private key, fingerprint ${fingerprint(key)})` };
  };
}

const burnKeysCommand: CliCommand = {
  name: 'efuse burn-keys',
  summary: 'Burn the flash-encryption and secure boot keys and enable flash encryption and secure boot, as one plan you see and confirm. Permanent.',
  usage: 'efuse burn-keys --port PORT [--allow-remote] [--baud N] (--flash-key FLASH_KEY.bin | --per-device-keys) (--secure-boot-key KEY.bin | --signing-key SIGNING.pem) [--hardening] [--keys-burned-elsewhere] [--dry-run] [--confirm MAC] [--key-store DIR] [--json]',
  help: [
    'Steps: flash-encryption key -> BLOCK1, secure boot key -> BLOCK2 (both read back and compared),',
    'then both read- and write-protected, FLASH_CRYPT_CONFIG = 0xF, FLASH_CRYPT_CNT odd (encryption on),',
    'ABS_DONE_0 (secure boot on). None of this can be undone. --dry-run prints the plan and burns nothing.',
    'Without --dry-run nothing is burned unless --confirm repeats the MAC of the connected board (or you type it when asked).',
    'An interrupted burn resumes: run the same command again; finished steps are verified and skipped.',
    'Every step is recorded in KEY_STORE/audit.jsonl (fingerprints only, never key bytes); `pycom-secure records` exports it.',
    'KEY_STORE is --key-store, else the store the flash key lives in (KEY_STORE/flash_encryption_key.bin), else secure/ here.',
    '--per-device-keys instead of --flash-key: the board gets its own flash-encryption key, KEY_STORE/devices/<MAC>/',
    'flash_encryption_key.bin, made (random, 0600) the first time and never overwritten; flash --build then',
    're-encrypts the build for it, as after provision --per-device-keys. --dry-run makes no key (the plan uses a throwaway one).',
    '--json prints the outcome as JSON on stdout (the plan goes to stderr).',
    '--keys-burned-elsewhere: a key block already read- and write-protected by espefuse or another workstation',
    'is taken as holding the given key and never written; only the missing steps are burned. Such a key cannot',
    'be read back, so it is NOT verified against the key file (said in the plan and the audit log); the board\'s',
    'flash is read first, and a key it contradicts (as flash would find) is refused, nothing burned.',
    '',
    hardeningHelp(),
  ].join('\n'),
  options: [...PORT_OPTS, { name: 'flash-key' }, { name: 'secure-boot-key' }, { name: 'signing-key' }, { name: 'hardening', flag: true }, { name: 'keys-burned-elsewhere', flag: true }, { name: 'dry-run', flag: true }, { name: 'confirm' }, { name: 'key-store' }, { name: 'json', flag: true }, { name: 'per-device-keys', flag: true }],
  interrupted: 'some steps may be burned and others not: run the same command again; steps already burned are verified, not burned again.',
  async run(args, io) {
    args.maxPositionals(0);
    const json = args.flag('json');
    const perDevice = args.flag('per-device-keys');
    const flashKeyFile = args.opt('flash-key');
    if (perDevice === (flashKeyFile !== undefined)) {
      throw new UserError('E_USAGE', `${args.command}: give exactly one of --flash-key FLASH_KEY.bin (one key, e.g. the store's shared flash_encryption_key.bin) or --per-device-keys (this board's own key in KEY_STORE/devices/<MAC>/).`);
    }
    const flashKey = flashKeyFile !== undefined ? readHardwareKeyFile(flashKeyFile, 'flash-encryption') : undefined;
    const secureBootKey = loadSecureBootKey(args);
    // Without --key-store the run is recorded in the store the flash key lives in (KEY_STORE/flash_encryption_key.bin), else secure/.
    const store = KeyStore.named(args.opt('key-store') ?? (flashKeyFile !== undefined ? KeyStore.holding(flashKeyFile) : undefined) ?? DEFAULT_KEY_STORE);
    const dryRun = args.flag('dry-run');
    const ui = terminalUi(io);
    return withBoard(args, io, async (board) => {
      const confirm = args.opt('confirm');
      /**
       * The board's own key (--per-device-keys): the one in devices/<MAC>/, or a new one, written
       * (0600, never over anything) only once the burn is confirmed and before it starts.
       */
      const ownKey = (mac: string, threeFour: boolean): { flashKey: Uint8Array; persist?: () => void } => {
        const file = store.deviceFlashKeyPath(mac);
        if (fs.existsSync(file)) return { flashKey: readHardwareKeyFile(file, 'flash-encryption') };
        if (board.chip.security.keys.flashEncryption !== 'empty') {
          throw new UserError('E_NO_KEY', `${mac} already has a flash-encryption key in BLOCK1, but the key store ${store.dir} has no key of its own for it in devices/; burn it with --flash-key and the key it was burned with; nothing was burned.`);
        }
        const key = new Uint8Array(randomBytes(threeFour ? 24 : 32));
        if (dryRun) {
          ui.warn(`This board has no key of its own yet; the real run makes ${file}. The plan below uses a throwaway key, so its fingerprint will differ.`);
          return { flashKey: key };
        }
        return {
          flashKey: key,
          persist: () => {
            const fp = store.saveDeviceFlashKey(mac, key);
            io.err(`Made this board's own flash-encryption key ${file} (fingerprint ${fp}); back it up with the rest of the key store.`);
          },
        };
      };
      const r = await burnKeys(board, {
        store,
        keys: ({ mac, threeFour }) => ({ ...(flashKey ? { flashKey } : ownKey(mac, threeFour)), ...secureBootKey(threeFour) }),
        hardening: args.flag('hardening'),
        keysBurnedElsewhere: args.flag('keys-burned-elsewhere'),
        // A block holding another key is named with the store that holds it: secure/ here too, when another store is used.
        otherStores: [KeyStore.named(DEFAULT_KEY_STORE)],
        dryRun,
        ...(confirm !== undefined ? { confirm } : {}),
        showPlan: (plan) => (json ? io.err(renderPlan(plan)) : io.out(renderPlan(plan))),
      }, ui);
      if (json && r.kind !== 'not-confirmed' && r.kind !== 'cancelled') {
        // For scripts and CI: what happened, the run's id in the audit log (its board record), never key bytes.
        const result = 'result' in r ? r.result : undefined;
        io.out(JSON.stringify({
          outcome: r.kind, mac: board.chip.mac.address, recordId: result?.id ?? null, burned: result?.burned ?? [],
          closed: result?.closed ?? [], leftOpen: result?.leftOpen ?? [], auditLog: store.auditPath,
        }, null, 2));
        return 0;
      }
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
