import { UserError } from '../../errors';
import { fingerprint } from '../../util/fingerprint';
import { completedSteps, interruptedOperations, type AuditRecord } from '../../audit/audit-log';
import { normaliseMac } from '../../keystore/key-store';
import { field, fieldWords, isRdDisSet, isWrDisSet, popcount, readFieldRaw, type EfuseBlock, type EfuseWords } from '../fields';
import { blockDataBytes } from '../coding';
import { keyFileToBlockWords, keyFileToReadWords } from '../../crypto/efuse-key-layout';
import { decodeEfuses, type DecodedEfuses, type KeyBlockState } from '../decode';
import { engineCodingScheme } from './coding-support';
import type { EfuseSnapshot } from '../access';
import { block0Changes, keyBlockChanges, type BurnPlan, type PlanStep, type UnverifiedKey } from './plan';
import { checkKeys, checkTarget, type BurnTarget } from './key-checks';
import { HARDENING_FIELDS, hardeningLines } from './hardening';
import { hex } from '../../util/hex';
import { keyBytes } from '../../chip/esp32';

/**
 * Pycom's eFuse sequence (the espefuse steps pycom-micropython-sigfox's esp32/application.mk prints
 * for SECURE=on, and Pycom's "SecureBoot and Encryption" docs) as one plan, in the order that
 * cannot leave a board
 * with keys nobody knows: both keys first (read back and compared while still readable), then
 * their read/write protection, then FLASH_CRYPT_CONFIG, encryption on, secure boot on, and the
 * optional hardening.
 */
export const OPERATION = 'burn-keys';

export interface BurnKeysInput {
  target: BurnTarget;
  /** Key-file order (as espsecure writes it); burned reversed, like espefuse's `flash_encryption` alias. */
  flashKey?: Uint8Array;
  /** The reflashable secure boot key (digest of the signing key, or a random key), key-file order. */
  secureBootKey?: Uint8Array;
  /**
   * Where the secure boot key comes from, in words (describeSecureBootKey: derived from the PEM
   * signing key, or the store's random key; fingerprints only). Said in the BLOCK2 step, so the
   * plan shown and the audit record know which.
   */
  secureBootKeySource?: string;
  hardening: boolean;
  /** Earlier audit records of this key store, to recognise steps of an interrupted run. */
  history?: readonly AuditRecord[];
  /**
   * The user says a key block that is already read- and write-protected holds the given key,
   * burned by another tool (espefuse `burn_key flash_encryption` / `secure_boot_v1`) or from another
   * workstation (the CLI's --keys-burned-elsewhere). Such a block cannot be read back, so the plan
   * takes its key step as done, marks it NOT verified and never writes that block; without this, a
   * protected block with no verified record in `history` is refused.
   */
  keysBurnedElsewhere?: boolean;
  /** The ways forward in the front end's words, for the refusal of a protected key block (default: the CLI's, CLI_BURN_KEYS_HINTS). */
  hints?: BurnKeysHints;
  /**
   * Where known keys are, by fingerprint (key-file order): one phrase each naming the key file or
   * key store that holds the key and the Burn Keys run that burned it (workflows/burn-keys.ts
   * knownKeyHolders), so the refusal of a readable key block that holds another key names it.
   */
  keyHolders?: ReadonlyMap<string, string>;
}

/**
 * How a front end says the ways forward when a key block is already read-protected and no
 * verified record in the key store names the given key: `keyStore` takes another key store (the
 * CLI's "--key-store DIR", the editor's setting), `keysBurnedElsewhere` finishes a board whose keys
 * another tool or workstation burned (the CLI's flag; the editor has none and names the CLI's).
 */
export interface BurnKeysHints {
  keyStore: string;
  keysBurnedElsewhere: string;
  /**
   * How the key for each block is given, for the refusal when the board's flash contradicts a key
   * taken on the user's word (only the CLI takes keys so; default: the CLI's options).
   */
  givenKey?: { BLOCK1: string; BLOCK2: string };
}

/** The CLI's ways forward (`efuse burn-keys`): the default of BurnKeysInput.hints. */
export const CLI_BURN_KEYS_HINTS: BurnKeysHints & Required<Pick<BurnKeysHints, 'givenKey'>> = {
  keyStore: '--key-store DIR',
  keysBurnedElsewhere: 'run again with --keys-burned-elsewhere',
  givenKey: { BLOCK1: '--flash-key FILE', BLOCK2: '--secure-boot-key FILE or --signing-key FILE' },
};

export const STEP = {
  flashKey: 'flash-key',
  secureBootKey: 'secure-boot-key',
  protectKeys: 'protect-keys',
  cryptConfig: 'flash-crypt-config',
  cryptCnt: 'flash-crypt-cnt',
  secureBoot: 'abs-done-0',
  hardening: 'hardening',
} as const;

export { HARDENING_FIELDS };

/** Key-block data in register order: the key file reversed (what the hardware expects). */
export function keyRegisterBytes(key: Uint8Array): Buffer {
  return Buffer.from(key).reverse();
}

/** What goes into the audit log and the plan about the state: BLOCK0 in full, key blocks as status only. */
export function redactState(dec: DecodedEfuses): unknown {
  const kb = (k: KeyBlockState): unknown => ({ status: k.status, readable: k.readable, writeable: k.writeable, ...(k.fingerprint ? { fingerprint: k.fingerprint } : {}) });
  return {
    block0: dec.words[0]!.map((w) => `0x${(w >>> 0).toString(16).padStart(8, '0')}`),
    block1: kb(dec.keyBlocks[1]),
    block2: kb(dec.keyBlocks[2]),
    block3: kb(dec.keyBlocks[3]),
    decStatus: dec.decStatus,
  };
}

interface Ctx {
  keysBurnedElsewhere: boolean;
  keyHolders: ReadonlyMap<string, string>;
  hints: BurnKeysHints;
  /** Key steps taken as done on the user's word alone, filled by keyStep. */
  unverified: UnverifiedKey[];
  words: EfuseWords;
  dec: DecodedEfuses;
  threeFour: boolean;
  /** Steps with a verified step-done record for this MAC, by step id → key fingerprint. */
  verified: Map<string, string | undefined>;
  /** Key fingerprints an interrupted run of this MAC was burning (partial bits allowed). */
  interruptedKeys: Set<string>;
}

function auditEvidence(history: readonly AuditRecord[], mac: string): Pick<Ctx, 'verified' | 'interruptedKeys'> {
  const mine = history.filter((r) => r.mac === mac && r.operation === OPERATION);
  const verified = new Map<string, string | undefined>();
  for (const r of mine) {
    if (r.phase === 'step-done' && r.step) verified.set(`${r.step}:${r.keyFingerprints?.[r.step] ?? ''}`, r.keyFingerprints?.[r.step]);
    // A run whose plan found a key already in its readable block (read back and compared before
    // anything was burned) may be cut off after protecting it: its intent line is the evidence, as
    // no step-done line is written for a step that was already done. Keys taken on the user's word
    // (not-verified) are no evidence.
    if (r.phase === 'intent') {
      for (const s of planSteps(r.plan)) {
        if (s.status === 'done' && (s.verifiedBy === 'readback' || s.verifiedBy === 'audit') && s.keyFingerprint) verified.set(`${s.id}:${s.keyFingerprint}`, s.keyFingerprint);
      }
    }
  }
  const interruptedKeys = new Set<string>();
  for (const r of interruptedOperations(mine, mac)) for (const fp of Object.values(r.keyFingerprints ?? {})) interruptedKeys.add(fp);
  return { verified, interruptedKeys };
}

/** Steps pending now (not on the chip) that a step-done line of this MAC records as verified: the latest such line per step. */
function recordedButMissing(history: readonly AuditRecord[], mac: string, steps: readonly PlanStep[]): { step: string; id: string; time: string }[] {
  const pending = new Set(steps.filter((s) => s.status === 'pending').map((s) => s.id));
  const last = new Map<string, AuditRecord>();
  for (const r of history) {
    if (r.mac === mac && r.operation === OPERATION && r.phase === 'step-done' && r.result === 'verified' && r.step && pending.has(r.step)) last.set(r.step, r);
  }
  return [...last.values()].map((r) => ({ step: r.step!, id: r.id, time: r.time }));
}

/** The steps of a plan as an intent line recorded it (JSON), keeping only well-formed ones. */
function planSteps(plan: unknown): { id: string; status?: unknown; verifiedBy?: unknown; keyFingerprint?: string }[] {
  const steps = (plan as { steps?: unknown } | undefined)?.steps;
  if (!Array.isArray(steps)) return [];
  return (steps as { id?: unknown; keyFingerprint?: unknown }[]).filter((s): s is { id: string; keyFingerprint?: string } => typeof s?.id === 'string' && (s.keyFingerprint === undefined || typeof s.keyFingerprint === 'string'));
}

function keyStep(ctx: Ctx, id: string, block: 1 | 2, key: Uint8Array, title: string, effect: string): PlanStep {
  const state = ctx.dec.keyBlocks[block];
  const fp = fingerprint(key);
  const data = keyRegisterBytes(key);
  // The espefuse alias semantics: key file reversed into the block, 3/4-encoded when the chip codes.
  const layout = { reverse: true, coding: ctx.threeFour ? '3/4' : 'none' } as const;
  const program = keyFileToBlockWords(key, layout);
  const expect = [...keyFileToReadWords(key, layout), ...(ctx.threeFour ? [0, 0] : [])];
  const name = `BLOCK${block}`;
  const base = { id, title, effect, block: block as EfuseBlock, fields: [] as PlanStep['fields'], protections: [] as string[], irreversible: true as const, keyFingerprint: fp };
  if (state.status === 'protected') {
    if (ctx.verified.has(`${id}:${fp}`)) return { ...base, registers: [], status: 'done', verifiedBy: 'audit' };
    if (state.writeable) {
      // espefuse's burn_key (and the bootloader's own key generation) set RD_DIS and WR_DIS together;
      // a block hidden but still writable was left by something else and may well be empty.
      throw new UserError('E_KEY_BLOCK_HALF_PROTECTED', `${name} is read-protected but still writable (WR_DIS bit ${6 + block} not set), which is not how espefuse's burn_key or the bootloader leave a key, so it may be empty and cannot be checked; nothing was burned, and --keys-burned-elsewhere does not apply to it.`);
    }
    // The store's own verified record names another key for this block: that record, not a guess
    // about another tool, is what holds (with --keys-burned-elsewhere too: the record contradicts it).
    const recorded = [...ctx.verified.entries()].find(([k, v]) => k.startsWith(`${id}:`) && v !== undefined && v !== fp)?.[1];
    if (recorded) {
      throw new UserError('E_KEY_MISMATCH', `${name} is read-protected, and this key store's verified Burn Keys record for this board says it holds the key with fingerprint ${recorded}, not this one (${fp}); give that key (the one this store burned into this board); nothing was burned.`);
    }
    if (ctx.keysBurnedElsewhere) {
      ctx.unverified.push({ step: id, block, keyFingerprint: fp, result: 'not verified', reason: `${name} was read- and write-protected before this run (burned by another tool or workstation); it reads as zeros, so it cannot be compared with the key file` });
      return { ...base, registers: [], status: 'done', verifiedBy: 'not-verified' };
    }
    const other = ctx.dec.keyBlocks[block === 1 ? 2 : 1];
    const otherNote = other.status === 'empty' ? ` (BLOCK${block === 1 ? 2 : 1} is empty: that run burns only the key it lacks and the missing flags, never ${name})` : '';
    throw new UserError('E_KEY_BLOCK_PROTECTED', `${name} is already read-protected and no verified record in this key store says it holds this key (fingerprint ${fp}), so it cannot be checked; if another key store burned it, use that one (${ctx.hints.keyStore}); if espefuse or another workstation burned it, ${ctx.hints.keysBurnedElsewhere} to finish only the steps that do not write ${name}, the key then NOT verified${otherNote}; nothing was burned.`);
  }
  const current = blockDataBytes(ctx.words[block]!, ctx.threeFour);
  if (current.equals(data)) return { ...base, registers: [], status: 'done', verifiedBy: 'readback' };
  if (!state.writeable) {
    throw new UserError('E_KEY_BLOCK_PROTECTED', `${name} is write-protected (WR_DIS bit ${6 + block}) ${state.status === 'empty' ? 'while empty, so it can never take a key' : 'and holds a different key'}; nothing was burned.`);
  }
  if (state.status === 'data') {
    const subset = current.every((b, i) => (b & ~data[i]!) === 0);
    if (!(subset && ctx.interruptedKeys.has(fp))) {
      // What to do: give the key the block holds, named where it is known (a key file, a key store's run).
      const holder = state.fingerprint ? ctx.keyHolders.get(state.fingerprint) : undefined;
      const instead = holder
        ? `${holder}, so give that key instead (or use that key store: ${ctx.hints.keyStore})`
        : `give the key with that fingerprint instead: the key file, or the key store that burned this board (${ctx.hints.keyStore})`;
      throw new UserError('E_KEY_BLOCK_USED', `${name} already holds a different key (fingerprint ${state.fingerprint}) than the one given (${fp}), and bits can only be added, never cleared, so nothing was burned; ${instead}.`);
    }
  }
  return {
    ...base,
    fields: [{ name, from: state.status === 'empty' ? 'empty' : 'partly burned (interrupted run)', to: `key ${fp}` }],
    registers: keyBlockChanges(block, program),
    status: 'pending',
    burn: () => ({ block, program, expect }),
  };
}

/** A BLOCK0 step that sets fields to values; `done` when they already hold them. */
function block0Step(ctx: Ctx, id: string, title: string, effect: string, sets: { name: string; value: number; show?: (v: number) => string }[], protections: string[]): PlanStep {
  const setWords = new Array<number>(7).fill(0);
  const fields: PlanStep['fields'] = [];
  for (const s of sets) {
    const f = field(s.name);
    const cur = Number(readFieldRaw(ctx.words, f));
    if ((cur & s.value) === s.value) continue;
    if (f.rdDis !== undefined && isRdDisSet(ctx.words, f.rdDis)) {
      throw new UserError('E_FIELD_HIDDEN', `${f.name} is read-protected, so its current value cannot be checked; nothing was burned.`);
    }
    if (f.wrDis !== undefined && isWrDisSet(ctx.words, f.wrDis)) {
      throw new UserError('E_FIELD_PROTECTED', `${f.name} is write-protected (WR_DIS bit ${f.wrDis}) at ${cur}, so it can never become ${s.value}; nothing was burned.`);
    }
    const show = s.show ?? ((v: number) => String(v));
    fields.push({ name: f.name, from: show(cur), to: show(cur | s.value) });
    fieldWords(f, cur | s.value).forEach((w, i) => (setWords[i] = (setWords[i]! | w) >>> 0));
  }
  const registers = block0Changes(ctx.words[0]!, setWords);
  const step: PlanStep = { id, title, effect, block: 0, fields, registers, protections, irreversible: true, status: registers.length ? 'pending' : 'done' };
  if (step.status === 'done') step.verifiedBy = 'readback';
  else step.burn = () => ({ block: 0, program: setWords, expect: setWords });
  return step;
}

const showHex = (v: number): string => hex(v);

/** Builds the plan, or throws a UserError saying why nothing may be burned. Reads nothing from the device. */
export function planBurnKeys(snap: EfuseSnapshot, input: BurnKeysInput): BurnPlan {
  checkTarget(input.target);
  const mac = normaliseMac(input.target.mac);
  const dec = decodeEfuses(snap);
  // The engine burns 3/4-coded blocks too (as espefuse does); Burn Keys refuses 3/4 boards before
  // it gets here (coding-support.ts refuseUnsupportedCodingScheme).
  const { threeFour } = engineCodingScheme(dec.codingScheme);
  if (dec.mac !== mac) throw new UserError('E_MAC_MISMATCH', `The eFuses report MAC ${dec.mac} but the board was identified as ${mac}; reconnect and try again, nothing was burned.`);
  if (!input.flashKey && !dec.flashEncryptionEnabled) {
    throw new UserError('E_NO_FLASH_KEY', 'The plan would enable flash encryption without a flash-encryption key in BLOCK1; the chip would then make up a key nobody knows. Give --flash-key; nothing was burned.');
  }
  if (!input.secureBootKey && !dec.secureBootV1) {
    throw new UserError('E_NO_SECURE_BOOT_KEY', 'The plan would enable secure boot without a secure boot key in BLOCK2; the bootloader could then never be updated. Give --secure-boot-key or --signing-key; nothing was burned.');
  }
  if (!input.flashKey || !input.secureBootKey) {
    throw new UserError('E_KEYS_REQUIRED', 'Burn Keys needs both the flash-encryption key and the secure boot key, so that every burned key is known and recorded; nothing was burned.');
  }
  checkKeys(input.flashKey, input.secureBootKey, keyBytes(threeFour ? '3/4' : 'none'));
  const history = input.history ?? [];
  const ctx: Ctx = { keysBurnedElsewhere: input.keysBurnedElsewhere ?? false, keyHolders: input.keyHolders ?? new Map(), hints: input.hints ?? CLI_BURN_KEYS_HINTS, unverified: [], words: snap.words, dec, threeFour, ...auditEvidence(history, mac) };

  const steps: PlanStep[] = [
    keyStep(ctx, STEP.flashKey, 1, input.flashKey, 'Burn the flash-encryption key into BLOCK1',
      'The AES key the flash cache decrypts with; written byte-reversed (the espefuse "flash_encryption" order) and read back before it is protected.'),
    keyStep(ctx, STEP.secureBootKey, 2, input.secureBootKey, 'Burn the secure boot key into BLOCK2',
      `The reflashable secure boot key (${input.secureBootKeySource ?? 'digest of the signing key'}); written byte-reversed (the "secure_boot_v1" order) and read back before it is protected.`),
    block0Step(ctx, STEP.protectKeys, 'Read- and write-protect both key blocks',
      'Software (and every tool) can no longer read or change BLOCK1 and BLOCK2; the hardware still uses them. The bootloader insists on this.',
      [{ name: 'RD_DIS', value: 0b0011, show: showHex }, { name: 'WR_DIS', value: (1 << 7) | (1 << 8), show: showHex }],
      ['BLOCK1 and BLOCK2 read as zeros from now on', 'BLOCK1 and BLOCK2 can never be changed']),
    block0Step(ctx, STEP.cryptConfig, 'Set FLASH_CRYPT_CONFIG to 0xF', 'Every key bit gets the per-address tweak (what ESP-IDF uses).',
      [{ name: 'FLASH_CRYPT_CONFIG', value: 0xf, show: showHex }], []),
    cryptCntStep(ctx),
    block0Step(ctx, STEP.secureBoot, 'Enable secure boot v1 (ABS_DONE_0)',
      'From the next reset the ROM only starts a bootloader whose digest at 0x0 matches the BLOCK2 key.', [{ name: 'ABS_DONE_0', value: 1 }], []),
  ];
  if (input.hardening) {
    steps.push(block0Step(ctx, STEP.hardening, 'Hardening: disable download-mode encryption, decryption, cache and JTAG',
      'Closes the serial and JTAG ways to use or read the keys; afterwards the board can only be updated with images encrypted on the host.',
      HARDENING_FIELDS.map((name) => ({ name, value: 1 })), hardeningLines()));
  }
  const warnings: string[] = inconsistentStateWarnings(dec);
  if (ctx.keysBurnedElsewhere && ctx.unverified.length === 0) {
    warnings.push('--keys-burned-elsewhere was given but no key block is read-protected without a verified record, so every key in this plan is verified as usual.');
  }
  if (!input.hardening) warnings.push('Without --hardening the UART download mode can still encrypt and decrypt flash and JTAG stays open (Pycom\'s default flow).');
  const open = openBurnRuns(history, mac);
  const plan: BurnPlan = {
    operation: OPERATION,
    mac,
    revision: String(input.target.revision),
    codingScheme: threeFour ? '3/4 (192-bit keys)' : 'None (256-bit keys)',
    before: redactState(dec),
    steps,
    warnings,
  };
  if (ctx.unverified.length) plan.keysNotVerified = ctx.unverified;
  // The record and the chip disagree: steps this MAC's audit log lists as burned and verified are
  // not on the chip (another board with the same MAC, or a board whose eFuses were not kept, such
  // as a virtual board run without its state file). Said plainly, never burned as if new.
  const missing = recordedButMissing(history, mac, steps);
  if (missing.length) {
    plan.missingFromChip = missing;
    warnings.unshift(`The audit log records ${missing.map((m) => `"${m.step}" (run ${m.id}, ${m.time})`).join(', ')} as burned and verified on ${mac}, but the chip does not have ${missing.length === 1 ? 'it' : 'them'}: this is another board with the same MAC, or this board's eFuses were not kept (a virtual board started without its state file); the plan burns ${missing.length === 1 ? 'it' : 'them'} again only if you confirm, so check which board this is first.`);
  }
  if (open) {
    plan.resumes = { id: open.last.id, time: open.last.time, stepsDone: open.stepsDone };
    if (open.runs.length > 1) plan.resumes.earlier = open.runs.slice(0, -1).map((r) => ({ id: r.id, time: r.time }));
  }
  return plan;
}

/** Burn Keys runs of one MAC that were cut off (an intent line, no done line), as the plan resumes them. */
export interface OpenBurnRuns {
  /** The open runs' intent lines, oldest first (several: the first run and the user's rerun can both be cut off). */
  runs: AuditRecord[];
  /** The most recent one. */
  last: AuditRecord;
  /** Steps with a step-done line in any open run. */
  stepsDone: string[];
}

/**
 * The interrupted Burn Keys runs of `mac` (normalised) in a key store's audit records: what a plan
 * resumes (BurnPlan.resumes, "finishes an interrupted run") and what the key-evidence checks name
 * before anything else (unfinishedBurnRun). Undefined when no run of this MAC is open.
 */
export function openBurnRuns(history: readonly AuditRecord[], mac: string): OpenBurnRuns | undefined {
  const runs = interruptedOperations(history.filter((r) => r.operation === OPERATION), mac);
  const last = runs[runs.length - 1];
  if (!last) return undefined;
  return { runs, last, stepsDone: [...new Set(runs.flatMap((r) => [...completedSteps(history, r.id)]))] };
}

/** An interrupted Burn Keys run that no later run finished: the board is half-way through Pycom's sequence. */
export interface UnfinishedBurnRun {
  id: string;
  time: string;
  mac: string;
  /** Steps of its plan done: already done when it planned, or with a step-done line in an open run. */
  done: number;
  /** Steps in its plan (undefined when its intent line holds no readable plan). */
  total?: number;
  /** The provision run it was part of (its intent line's `within`). */
  within?: string;
}

/**
 * The latest interrupted Burn Keys run of `mac` (openBurnRuns) unless a later run of the same MAC
 * ended verified (a `done` line, result ok: the final state was read back, so the board is
 * finished whatever the earlier run had planned). `history`: the key store's audit records.
 */
export function unfinishedBurnRun(history: readonly AuditRecord[], mac: string): UnfinishedBurnRun | undefined {
  const m = normaliseMac(mac);
  const open = openBurnRuns(history, m);
  if (!open) return undefined;
  const { last } = open;
  const at = history.indexOf(last);
  if (history.slice(at + 1).some((r) => r.operation === OPERATION && r.mac === m && r.phase === 'done' && r.result === 'ok')) return undefined;
  const steps = (last.plan as { steps?: unknown } | undefined)?.steps;
  const out: UnfinishedBurnRun = { id: last.id, time: last.time, mac: m, done: open.stepsDone.length, ...(last.within ? { within: last.within } : {}) };
  if (Array.isArray(steps)) {
    const done = new Set(open.stepsDone);
    const listed = planSteps(last.plan);
    out.total = steps.length;
    out.done = listed.filter((s) => s.status === 'done' || done.has(s.id)).length;
  }
  return out;
}

function cryptCntStep(ctx: Ctx): PlanStep {
  const f = field('FLASH_CRYPT_CNT');
  const cur = Number(readFieldRaw(ctx.words, f));
  if (popcount(cur) % 2 === 1) {
    return block0Step(ctx, STEP.cryptCnt, 'Enable flash encryption (FLASH_CRYPT_CNT)', 'Already odd: flash encryption is on.', [], []);
  }
  if (cur === 0x7f) throw new UserError('E_CRYPT_CNT_FULL', 'FLASH_CRYPT_CNT has no bits left; nothing was burned.');
  // Burn the lowest zero bit, as the bootloader does: the count becomes odd.
  let bit = 0;
  while ((cur >> bit) & 1) bit++;
  const left = Math.floor((7 - popcount(cur | (1 << bit))) / 2);
  return block0Step(ctx, STEP.cryptCnt, 'Enable flash encryption (FLASH_CRYPT_CNT)',
    `An odd count turns flash encryption on: the ROM decrypts everything it reads. ${left} plaintext re-flash cycle${left === 1 ? '' : 's'} remain afterwards.`,
    [{ name: 'FLASH_CRYPT_CNT', value: 1 << bit, show: (v) => `0b${v.toString(2).padStart(7, '0')}` }], []);
}

/**
 * Warnings for eFuse states no complete run leaves behind (ESP-IDF flash-encryption and
 * secure-boot-v1 docs; the bootloader's first-boot code in secure_boot.c and flash_encrypt.c): what
 * the state means on the chip and what Burn Keys will and
 * will not do about it. Reads only readable blocks; a read-protected block says nothing.
 */
export function inconsistentStateWarnings(dec: DecodedEfuses): string[] {
  const out: string[] = [];
  const [b1, b2] = [dec.keyBlocks[1], dec.keyBlocks[2]];
  if (dec.flashEncryptionEnabled && b1.status === 'empty') {
    out.push('Flash encryption is already on (FLASH_CRYPT_CNT has an odd number of bits) but BLOCK1 is empty: the chip decrypts flash with an all-zero key, so nothing encrypted with a real key boots now; Burn Keys burns your flash-encryption key into BLOCK1 and protects it but does not touch FLASH_CRYPT_CNT, so the board boots again only once images encrypted with your key are flashed (pycom-secure flash).');
  }
  if (dec.flashEncryptionEnabled && b1.status === 'data') {
    out.push('Flash encryption is already on but BLOCK1 is not read-protected: any program on the board can read the flash-encryption key; Burn Keys read-protects it once it reads back as your key (it refuses a different one).');
  }
  if (dec.secureBootV1 && b2.status === 'empty') {
    out.push('Secure boot is already on (ABS_DONE_0) but BLOCK2 is empty: the ROM checks the bootloader digest at 0x0 against an all-zero key; Burn Keys burns your secure boot key into BLOCK2 and protects it and leaves ABS_DONE_0 on, so the board boots again only once a bootloader digest made with your key is flashed at 0x0 (pycom-secure flash).');
  }
  if (dec.secureBootV1 && b2.status === 'data') {
    out.push('Secure boot is already on but BLOCK2 is not read-protected: any program on the board can read the secure boot key and sign a bootloader digest with it; Burn Keys read-protects it once it reads back as your key (it refuses a different one).');
  }
  if (!dec.flashEncryptionEnabled && dec.flashCryptCnt !== 0) {
    out.push(`Flash encryption was on before and turned off again (FLASH_CRYPT_CNT has ${popcount(dec.flashCryptCnt)} bits set): turning it on uses one more bit, leaving fewer plaintext re-flash cycles (said in the FLASH_CRYPT_CNT step).`);
  }
  return out;
}
