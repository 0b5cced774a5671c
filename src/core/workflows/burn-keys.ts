import { AuditLog, readAudit, type AuditRecord } from '../audit/audit-log';
import { readEfuses, type EfuseSnapshot } from '../efuse/access';
import { decodeEfuses, isThreeFour } from '../efuse/decode';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CLI_BURN_KEYS_HINTS, OPERATION, planBurnKeys, type BurnKeysHints } from '../efuse/burn/burn-keys';
import { bootEfusesFromRaw } from '../boot/boot-efuses';
import { checkKeysTakenOnWord, keySlot } from './evidence';
import { fingerprint } from '../util/fingerprint';
import { readHardwareKeyFile, readSigningKeyFile } from '../keys/key-files';
import { digestPrivateKey } from '../crypto/secure-boot-key';
import { refuseUnsupportedCodingScheme } from '../efuse/burn/coding-support';
import { CodingScheme } from '../efuse/fields';
import { checkConfirmation, notConfirmedError as notConfirmed, closeInterruptedRun, executeBurnKeys, type ExecuteResult } from '../efuse/burn/execute';
import { HARDENING_FUSES } from '../efuse/burn/hardening';
import { pendingSteps, type BurnPlan } from '../efuse/burn/plan';
import { identify, type ChipInfo } from '../chip/identify';
import { isUserError, UserError } from '../errors';
import { isLinkLoss, withWhatWasLeft } from '../loader/link-error';
import type { KeyStore } from '../keystore/key-store';
import { isInFlight, withKeyStoreLock } from '../keystore/lock';
import type { BoardSession } from './board';
import type { Choice, UiPort } from './ui-port';

/** The keys Burn Keys burns, in key-file order (as espsecure writes them). */
export interface BurnKeysKeys {
  flashKey: Uint8Array;
  /** The reflashable secure boot key (SHA-256 of the signing key, or the store's random key; cut to 24 bytes with 3/4 coding). */
  secureBootKey: Uint8Array;
  /** Where it comes from, in words (describeSecureBootKey); said in the plan and so in the audit record. */
  secureBootKeySource?: string;
  /**
   * For a key made for this run and not yet on disk (a new per-device key): writes it. Called once
   * the burn is confirmed, before the first step, so a refused, cancelled or dry run leaves no key
   * file, and no key is ever burned that is not on disk. Throwing stops the run, nothing burned.
   */
  persist?: () => void;
}

export interface BurnKeysRequest {
  /** The key store whose audit log records the run (and whose exposure to git is checked). */
  store: KeyStore;
  /**
   * The keys for this board, asked once the chip is read: `threeFour` says whether the chip uses
   * the 3/4 coding scheme (192-bit keys), `mac` which board it is (per-device keys) and `burned`
   * which key blocks already hold a key or are read-protected (so a store without keys can be told
   * it is not this board's: keysNotInStoreError).
   */
  keys(board: { mac: string; threeFour: boolean; burned: KeyBlockName[] }): BurnKeysKeys;
  /** The ways forward in the front end's words when a key block is already protected (default: the CLI's). */
  hints?: BurnKeysHints;
  /**
   * Other key stores to look in for a key a block already holds (the CLI's default secure/ when
   * another store is used), so that refusal names the store that holds it (knownKeyHolders).
   */
  otherStores?: readonly KeyStore[];
  /** Also burn the hardening fuses (the CLI's --hardening); undefined asks the user through `ui.choose`. */
  hardening?: boolean;
  /**
   * Key blocks already read- and write-protected by another tool or workstation are taken as holding
   * these keys, NOT verified (said in the plan and the audit log); only the missing steps are burned
   * and those blocks are never written (the CLI's --keys-burned-elsewhere). The board's flash is
   * read first and judged with these keys as `flash` judges it (evidence.ts checkKeysTakenOnWord):
   * keys it contradicts are refused (E_KEY_CONTRADICTED), and what it showed goes into each
   * taken key's reason in the plan and the audit record.
   */
  keysBurnedElsewhere?: boolean;
  /** Show the plan and stop. */
  dryRun?: boolean;
  /**
   * Burn a board with the 3/4 coding scheme anyway. Only the fault campaigns set it: they test the
   * burn engine's 3/4 path (3/4-coded blocks under faults). No front end does: the CLI, the editor
   * and provision are refused on such a board (E_CODING_34, coding-support.ts).
   */
  allowThreeFour?: boolean;
  /** The MAC given up front (the CLI's --confirm); otherwise `ui.confirmMac` asks. */
  confirm?: string;
  /** True when the board is virtual (said in the confirmation question). */
  virtual?: boolean;
  /** Called with the plan once it is made, before anything is asked or burned: the front end shows it. */
  showPlan(plan: BurnPlan, before: EfuseSnapshot): void;
  /** The board record this burn is part of (a provision run's id): said on the run's audit lines (ExecuteOptions.within). */
  within?: string;
}

/** A key block Burn Keys burns. */
export type KeyBlockName = 'BLOCK1' | 'BLOCK2';

/**
 * The refusal when the key store lacks key files (`missing`: their paths) for a board whose key
 * blocks already hold keys (`burned`, from BurnKeysRequest.keys): this store is not the one that
 * burned the board, and generating new keys would not help (a burned block keeps its key), so the
 * way forward is the store that burned it, in the front end's words (`keyStoreHint`, default the
 * CLI's "--key-store DIR"). Code E_NO_KEY; nothing was burned.
 */
export function keysNotInStoreError(o: { mac: string; burned: readonly KeyBlockName[]; storeDir: string; missing: readonly string[]; keyStoreHint?: string }): UserError {
  return new UserError(
    'E_NO_KEY',
    `${o.mac} already has keys burned (${o.burned.join(' and ')}), but this key store (${o.storeDir}) does not hold them (there is no ${o.missing.join(' and no ')}), so it is not the key store that burned this board; use the key store that burned it (${o.keyStoreHint ?? '--key-store DIR'}); generating new keys would not help, as a burned key block keeps its key; nothing was burned.`,
  );
}

/** How a Burn Keys run ended. Every kind but `burned` and `closed` burned nothing. */
export type BurnKeysOutcome =
  | { kind: 'dry-run'; plan: BurnPlan }
  /** `releaseOpen`: the development profile is complete but Release's hardening fuses are not burned (nothing was asked). */
  | { kind: 'nothing-to-do'; plan: BurnPlan; releaseOpen?: boolean }
  /** Nothing was left to burn, and interrupted runs that had burned everything were verified and closed. */
  | { kind: 'closed'; plan: BurnPlan; result: ExecuteResult }
  | { kind: 'not-chosen' }
  | { kind: 'not-confirmed'; plan: BurnPlan }
  | { kind: 'cancelled'; plan: BurnPlan; message: string; after: EfuseSnapshot; chip: ChipInfo }
  | { kind: 'burned'; plan: BurnPlan; result: ExecuteResult; after: EfuseSnapshot; chip: ChipInfo };

/** The Burn Keys profiles as choices: Development (the default, Pycom's flow) and Release (hardening too). */
export function hardeningChoices(): Choice<boolean>[] {
  return [
    {
      label: 'Development (keys + encryption + secure boot)',
      description: 'default',
      detail: 'UART download mode can still encrypt and decrypt flash and JTAG stays open, so the board can be debugged and reflashed over serial.',
      value: false,
    },
    {
      label: 'Release: also close UART download-mode crypto and JTAG',
      description: 'permanent',
      detail: HARDENING_FUSES.map((f) => `${f.name} closes: ${f.closes} (cost: ${f.cost})`).join(' · '),
      value: true,
    },
  ];
}

/**
 * Burn Keys, the one implementation the CLI, the editor and the fault campaigns run: read the
 * board's eFuses → plan (resuming an interrupted run from the audit log) → show → confirm by the
 * typed MAC → burn step by step, each read back and verified, audit-logged (fingerprints only) →
 * verify the final state → close earlier interrupted runs this run can vouch for → read the
 * eFuses again for the front end. A run with nothing left to burn still verifies and closes
 * interrupted runs that had burned everything (Espressif's espefuse has no such record).
 *
 * Asking "development or release?" is skipped when the board already has every fuse the
 * development profile burns: the user hears there is nothing to do before being asked anything
 * (`releaseOpen` says whether Release's hardening fuses could still be burned).
 *
 * Errors: UserError before any key is asked for (E_CODING_34: the board uses the 3/4 coding
 * scheme, which this tool's 256-bit builds cannot boot on; E_CODING_RESERVED, E_CODING_HIDDEN,
 * E_CODING_REPEAT), from the plan (a board that cannot take these keys), E_KEY_CONTRADICTED (keys
 * taken on the user's word that the board's flash contradicts; before anything is asked or shown), the confirmation (a MAC
 * that does not match, E_NOT_CONFIRMED) and the burn (E_KEY_READBACK, E_PROTECT_FAILED,
 * E_FINAL_STATE); link errors. A cancel (the signal of `ui.task`) stops between steps and is
 * returned as `cancelled`, never thrown.
 */
export async function burnKeys(board: BoardSession, req: BurnKeysRequest, ui: UiPort): Promise<BurnKeysOutcome> {
  // A dry run only reads the store; any other run holds its lock from reading the record to the
  // last line written (another process is refused; this process's other tasks share it).
  if (req.dryRun) return burnKeysLocked(board, req, ui, () => undefined);
  return withKeyStoreLock(req.store.dir, `Burn Keys on ${board.chip.mac.address}`, (hold) => burnKeysLocked(board, req, ui, hold));
}

async function burnKeysLocked(board: BoardSession, req: BurnKeysRequest, ui: UiPort, hold: () => void): Promise<BurnKeysOutcome> {
  const { conn, chip } = board;
  const warning = req.store.exposureWarning();
  if (warning) ui.warn(warning);
  for (const w of req.store.permissionWarnings()) ui.warn(w);
  const audit = new AuditLog(req.store.auditPath);
  const read = readAudit(audit.file);
  // Runs of this process still going (other boards, one store) are not interrupted runs.
  const history = { ...read, records: read.records.filter((r) => !isInFlight(audit.file, r.id)) };
  for (const d of history.damaged) ui.warn(`line ${d.line} of ${audit.file} is damaged${d.last ? ' (torn last line: the previous run was cut off while writing it)' : ''}; the other lines are used.`);

  const snap = await readEfuses(conn.loader);
  const dec = decodeEfuses(snap);
  // Refused here, at plan time, before any key is asked for (made, stored) or anything is shown
  // as a plan or burned: a 3/4 board (192-bit keys) can never run this tool's 256-bit builds.
  if (!req.allowThreeFour || dec.codingScheme !== CodingScheme.THREE_FOUR) refuseUnsupportedCodingScheme(dec);
  const threeFour = isThreeFour(dec.codingScheme);
  const burned: KeyBlockName[] = [...(dec.keyBlocks[1].status !== 'empty' ? ['BLOCK1' as const] : []), ...(dec.keyBlocks[2].status !== 'empty' ? ['BLOCK2' as const] : [])];
  const keys = req.keys({ mac: chip.mac.address, threeFour, burned });
  hold(); // req.keys may have made the store's folder (a new per-device key)
  const planFor = (hardening: boolean): BurnPlan => planBurnKeys(snap, {
    target: { chip: chip.chip, revision: chip.revision.major, mac: chip.mac.address },
    flashKey: keys.flashKey, secureBootKey: keys.secureBootKey, hardening, history: history.records,
    ...(keys.secureBootKeySource ? { secureBootKeySource: keys.secureBootKeySource } : {}),
    keysBurnedElsewhere: req.keysBurnedElsewhere ?? false,
    ...(req.hints ? { hints: req.hints } : {}),
    keyHolders: knownKeyHolders([req.store, ...(req.otherStores ?? [])], chip.mac.address, history.records),
  });

  // Keys about to be taken on the user's word are first held against the board's flash, as
  // `flash` will hold them afterwards: a contradiction is refused here, before anything is asked.
  const onWord = await flashOnKeysTakenOnWord(board, req, snap, keys, planFor(req.hardening ?? false));
  if (onWord) ui.info(`The key${onWord.blocks.length === 1 ? '' : 's'} in ${onWord.blocks.join(' and ')} taken on your word: ${onWord.said}.`);

  let hardening = req.hardening;
  let releaseOpen = false;
  if (hardening === undefined) {
    const release = planFor(true);
    // Everything either profile burns is there already: say so before asking anything.
    if (pendingSteps(release).length === 0) hardening = true;
    // Keys, encryption and secure boot are there (development): that is said before anything is
    // asked; Release's hardening stays open, and the front end offers it (hardening: true).
    else if (pendingSteps(planFor(false)).length === 0) {
      hardening = false;
      releaseOpen = true;
    } else {
      hardening = await ui.choose({
        title: `Burn Keys on ${chip.mac.address}: development or release?`,
        placeholder: 'Development is the default; Release also burns DISABLE_DL_ENCRYPT, DISABLE_DL_DECRYPT, DISABLE_DL_CACHE and JTAG_DISABLE (shown in the plan)',
        items: hardeningChoices(),
      });
      if (hardening === undefined) return { kind: 'not-chosen' };
    }
  }
  const plan = planFor(hardening);
  // What the flash said goes with each key taken on the user's word: into the plan and the audit record.
  if (onWord && plan.keysNotVerified) plan.keysNotVerified = plan.keysNotVerified.map((u) => ({ ...u, reason: `${u.reason}; ${onWord.said}` }));
  req.showPlan(plan, snap);
  // A rehearsed script's --confirm is checked by its dry run too: a MAC that would refuse the real run fails here first.
  if (req.dryRun && req.confirm !== undefined) checkConfirmation(plan, req.confirm);
  if (req.dryRun) return { kind: 'dry-run', plan };

  const exec = { flashKey: keys.flashKey, secureBootKey: keys.secureBootKey, audit, revision: chip.revision.text, engine: { apbMhz: eFuseApbMhz(chip) }, ...(req.within ? { within: req.within } : {}) } as const;
  const steps = pendingSteps(plan).length;
  if (steps === 0) {
    const closed = await closeInterruptedRun(conn.loader, plan, exec);
    return closed ? { kind: 'closed', plan, result: closed } : { kind: 'nothing-to-do', plan, ...(releaseOpen ? { releaseOpen } : {}) };
  }

  const typed = req.confirm ?? await ui.confirmMac({
    mac: plan.mac,
    virtual: req.virtual ?? false,
    title: `Burn Keys on ${req.virtual ? 'the VIRTUAL board' : 'a REAL board'} ${plan.mac}`,
    prompt: `Type this board's MAC (${plan.mac}) to burn ${steps} step(s); eFuses cannot be unburned, anything else aborts.`,
  });
  if (typed === undefined) return { kind: 'not-confirmed', plan };
  checkConfirmation(plan, typed);

  req.store.ensureDir();
  keys.persist?.();
  hold();
  try {
    const result = await ui.task(`Burning eFuses on ${plan.mac}`, (report, signal) => {
      let done = 0;
      return executeBurnKeys(conn.loader, plan, {
        ...exec, confirmMac: typed, signal,
        onProgress: (m) => {
          if (m.startsWith('Burning: ')) done++;
          report(m, Math.min(1, done / steps));
        },
      });
    });
    // Read back through the link, not from the burn result, so the front end shows what the chip reports now.
    return { kind: 'burned', plan, result, after: await readEfuses(conn.loader), chip: await identify(conn) };
  } catch (e) {
    if (isUserError(e) && e.code === 'E_CANCELLED') {
      // What the chip holds now; the audit log keeps the run open and the next Burn Keys resumes it.
      return { kind: 'cancelled', plan, message: e.message, after: await readEfuses(conn.loader), chip: await identify(conn) };
    }
    // The link went mid-burn: the audit log keeps the run open, and the next Burn Keys resumes it.
    if (isLinkLoss(e)) throw withWhatWasLeft(e, 'The burn was cut off: some eFuse steps may be burned and others not; once the board is back, run the same command again (steps already burned are verified, not burned again).');
    throw e;
  }
}

/**
 * For a plan (`probe`) that takes read-protected key blocks on the user's word (keysNotVerified,
 * --keys-burned-elsewhere): the board's flash judged with the given keys and the BLOCK0 fields as
 * the run leaves them (snap's words plus every pending BLOCK0 step's bits), as `flash` judges it
 * afterwards (checkKeysTakenOnWord). Throws E_KEY_CONTRADICTED when the flash shows another key in
 * one of those blocks; resolves to the blocks and the sentence part saying what the flash showed,
 * or undefined when no key is taken on the user's word (nothing is read).
 */
async function flashOnKeysTakenOnWord(board: BoardSession, req: BurnKeysRequest, snap: EfuseSnapshot, keys: BurnKeysKeys, probe: BurnPlan): Promise<{ blocks: string[]; said: string } | undefined> {
  const taken = probe.keysNotVerified ?? [];
  if (taken.length === 0) return undefined;
  const words = snap.words.map((b) => [...b]);
  for (const step of pendingSteps(probe)) {
    const b = step.burn?.();
    if (b?.block === 0) b.program.forEach((w, i) => (words[0]![i] = (words[0]![i]! | w) >>> 0));
  }
  const efuse = { ...bootEfusesFromRaw(words, board.chip.revision.major), flashKey: keys.flashKey, secureBootKey: keys.secureBootKey };
  const given = { ...CLI_BURN_KEYS_HINTS.givenKey, ...req.hints?.givenKey };
  const slots = taken.map((u) => (u.block === 1 ? keySlot('BLOCK1', keys.flashKey) : keySlot('BLOCK2', keys.secureBootKey)));
  const said = await checkKeysTakenOnWord(board, { store: req.store, efuse, slots, keyHint: (s) => given[s.block] });
  return { blocks: slots.map((s) => s.block), said };
}

/**
 * The APB clock the eFuse timing registers are set for: 26 MHz with a 26 MHz crystal, else 40 MHz.
 * A 48 MHz crystal has no entry in the ESP32 Technical Reference Manual's eFuse timing table; 40 MHz
 * timing is the conservative choice there (UNCONFIRMED).
 */
export function eFuseApbMhz(chip: Pick<ChipInfo, 'crystalMhz'>): 26 | 40 {
  return chip.crystalMhz === 26 ? 26 : 40;
}

/** The one sentence a front end shows for interrupted runs a run could not vouch for. */
export function leftOpenWarnings(leftOpen: readonly { id: string; reason: string }[]): string[] {
  return leftOpen.map((r) => `${r.reason}. Check the board with \`pycom-secure efuse summary\` and keep the audit log.`);
}

/** A `not-confirmed` outcome as the error a script gets (the CLI without a terminal). */
export function notConfirmedError(plan: BurnPlan): UserError {
  return notConfirmed(plan, undefined);
}

/**
 * Where the keys of `stores` are, by fingerprint (key-file order, as efuse/decode.ts fingerprints
 * a readable block): each store's shared and per-board (devices/<MAC>/) flash key, secure_boot_key.bin
 * and the secure boot key derived from its signing key PEM, and the Burn Keys runs of its audit log
 * (`records` for the first store) that recorded the key for `mac`. One phrase per fingerprint, e.g.
 * "secure/flash_encryption_key.bin holds that key (Burn Keys run R of secure/ burned it into M)".
 * Files that cannot be read are left out; never throws.
 */
export function knownKeyHolders(stores: readonly KeyStore[], mac: string, records: readonly AuditRecord[]): Map<string, string> {
  const files = new Map<string, string>();
  const runs = new Map<string, string>();
  const seen = new Set<string>();
  stores.forEach((store, i) => {
    if (seen.has(path.resolve(store.dir))) return;
    seen.add(path.resolve(store.dir));
    const add = (file: string, key: () => Uint8Array): void => {
      try {
        if (!fs.existsSync(file)) return;
        const fp = fingerprint(key());
        if (!files.has(fp)) files.set(fp, file);
      } catch {
        /* a file that is no key says nothing here */
      }
    };
    for (const f of [store.deviceFlashKeyPath(mac), store.sharedFlashKeyPath]) add(f, () => readHardwareKeyFile(f, 'flash-encryption'));
    add(store.secureBootKeyPath, () => readHardwareKeyFile(store.secureBootKeyPath, 'secure-boot'));
    add(store.signingKeyPath, () => digestPrivateKey(readSigningKeyFile(store.signingKeyPath), 256));
    let recs: readonly AuditRecord[] = records;
    if (i > 0) {
      try {
        recs = readAudit(store.auditPath).records;
      } catch {
        recs = [];
      }
    }
    for (const r of recs) {
      if (r.operation !== OPERATION || r.mac !== mac) continue;
      for (const fp of Object.values(r.keyFingerprints ?? {})) if (typeof fp === 'string' && !runs.has(fp)) runs.set(fp, `Burn Keys run ${r.id} (${r.time}) of the key store ${store.dir} burned it into ${mac}`);
    }
  });
  const out = new Map<string, string>();
  for (const fp of new Set([...files.keys(), ...runs.keys()])) {
    const file = files.get(fp);
    const run = runs.get(fp);
    out.set(fp, file ? `${file} holds that key${run ? ` (${run})` : ''}` : `${run!}`);
  }
  return out;
}
