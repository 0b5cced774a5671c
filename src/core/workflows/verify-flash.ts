import { hex } from '../util/hex';
import { keysForBoard } from '../flash/session';
import { romFlashIo } from '../flash/rom-io';
import { differingRanges } from '../flash/writer';
import { describeRegion, type FlashPlan, type PlanRegion } from '../flash/plan';
import { diagnoseDifference } from '../flash/diagnose';
import { diagnosePartlyWrittenRegion } from '../flash/partly-written';
import { codingSchemeCause } from '../efuse/burn/coding-support';
import type { KeyStore } from '../keystore/key-store';
import type { BoardSession } from './board';
import type { UiPort } from './ui-port';
import { establishKeyEvidence, type BurnAgainHints, type KeyEvidence } from './evidence';

/**
 * Verify Board's Flash: the one body of the CLI's `verify-flash` and the editor's "Pycom: Verify
 * Board's Flash Against Build". Compares each region of a plan with the board's flash, without
 * writing anything: SPI_FLASH_MD5 per 64 KiB chunk, then per 4 KiB sector inside a chunk that
 * differs (esp32-rom-protocol: SPI_FLASH_MD5 over raw flash, so ciphertext is compared as the
 * build made it for this board and address). A region that differs gets a diagnosis that is tested
 * on the board, never recited: the coding scheme of a board burned under 3/4, a write an
 * interrupted run left unfinished (flash/partly-written.ts), else the first differing range
 * (at most 4 KiB) read back and decrypted with the key store's keys (flash/diagnose.ts).
 */
export interface VerifyFlashRequest {
  store: KeyStore;
  /**
   * The regions to compare, made once the board is known: `flashKey` is the key store's key for
   * this board (a build is classified and, for a board with its own key, re-encrypted with it),
   * `flashSize` the board's flash size in bytes.
   */
  plan: (ctx: { flashKey: Uint8Array | undefined; flashSize: number | undefined }) => FlashPlan;
  /** The user vouched for the key store up front (the CLI's --trust-key-store). */
  trustKeyStore?: boolean;
  /** Without evidence for read-protected keys, ask through `ui.confirm` (the editor). */
  askTrust?: boolean;
  /** The front end's words for acknowledging and for another key store (evidence.ts). */
  acknowledgeHint?: string;
  keyStoreHint?: string;
  /** How this front end finishes a cut-off Burn Keys run, for E_BURN_UNFINISHED (default the CLI's). */
  burnAgainHints?: BurnAgainHints;
  /** The folder key file paths are said relative to when inside it (see FlashRequest.pathBase). */
  pathBase?: string;
  /** Each region's result as soon as it is known (a front end prints it then). */
  onRegion?: (r: RegionVerification) => void;
}

export interface RegionVerification {
  region: PlanRegion;
  /** Ranges [start, end) relative to the region whose flash differs, in bytes; empty when it matches. */
  differs: Array<[number, number]>;
  /** Why it differs, as one sentence tested on the board (only when it differs and a cause was tested). */
  diagnosis?: string;
}

export interface VerifyFlashOutcome {
  plan: FlashPlan;
  regions: RegionVerification[];
  /** Why the store's keys were taken for the board's (evidence.ts). */
  evidence: KeyEvidence;
  /** Every region matched. */
  ok: boolean;
}

/**
 * Compares the board's flash with `req.plan` region by region (see VerifyFlashRequest); nothing is
 * written to the board. Errors: E_KEY_EVIDENCE / E_KEY_MISMATCH before anything is compared (the
 * build is classified with the store's key only with evidence that it is the board's, issue 12 B);
 * the plan's UserErrors; link errors.
 */
export async function verifyFlash(board: BoardSession, req: VerifyFlashRequest, ui: Pick<UiPort, 'info' | 'confirm'>): Promise<VerifyFlashOutcome> {
  const { conn, chip } = board;
  const keys = keysForBoard(req.store, chip, req.pathBase);
  const evidence = await establishKeyEvidence(board, {
    store: req.store, keys, job: 'verify-flash',
    ...(req.trustKeyStore ? { trust: true } : {}), ...(req.askTrust ? { ask: true } : {}),
    ...(req.acknowledgeHint ? { acknowledgeHint: req.acknowledgeHint } : {}), ...(req.keyStoreHint ? { keyStoreHint: req.keyStoreHint } : {}),
    ...(req.burnAgainHints ? { burnAgainHints: req.burnAgainHints } : {}),
  }, ui);
  const plan = req.plan({ flashKey: keys.flashKey, flashSize: chip.flash.sizeBytes });
  const fio = romFlashIo(conn.loader);
  const sec = chip.security.flashEncryption;
  const conf = sec.enabled && sec.config !== 'protected' ? sec.config : 0xf;
  // Keys burned under the 3/4 coding scheme: no build of this tool can be on this flash, whatever else differs.
  const coding = codingSchemeCause(chip.security.codingScheme, chip.security.keys.flashEncryption !== 'empty' || chip.security.keys.secureBoot !== 'empty');
  const regions: RegionVerification[] = [];
  for (const r of plan.regions) {
    const differs = await differingRanges(fio, r.address, r.data);
    const v: RegionVerification = { region: r, differs };
    if (differs.length) {
      const diagnosis = coding ? `${coding}.` : await diagnose(r, differs);
      if (diagnosis) v.diagnosis = diagnosis;
    }
    regions.push(v);
    req.onRegion?.(v);
  }
  return { plan, regions, evidence, ok: regions.every((v) => v.differs.length === 0) };

  async function diagnose(r: PlanRegion, differs: Array<[number, number]>): Promise<string | undefined> {
    // An interrupted write first (the journal, or the file's start then erased flash): no key to suspect then.
    const cut = await diagnosePartlyWrittenRegion(fio, req.store, chip.mac.address, r);
    if (cut) return cut;
    // Test why, on (at most 4 KB of) the first differing range: read back, decrypt, compare (issue 12 item 4).
    const from = differs[0]![0] & ~31;
    const to = Math.min(r.data.length - (r.data.length % 32), from + 0x1000, Math.max(from + 32, (differs[0]![1] + 31) & ~31));
    if (to <= from) return undefined;
    const boardBytes = await fio.read(r.address + from, to - from);
    // The region's header too (64 bytes; already read when the range starts the region): what the flash decrypts to there.
    const boardHead = from === 0 && boardBytes.length >= 64 ? boardBytes : await fio.read(r.address, 64);
    return diagnoseDifference({
      board: boardBytes, expected: r.data.subarray(from, to), address: r.address + from, encrypted: r.encrypted, conf,
      file: { data: r.data, offset: from }, boardHead,
      ...(keys.flashKey ? { key: { label: keys.flashKeySource?.replace(/ \(fingerprint [0-9a-f]+\)$/, '') ?? 'the board\'s key', key: keys.flashKey } } : {}),
      ...(keys.otherFlashKeys ? { otherKeys: keys.otherFlashKeys } : {}),
    });
  }
}

/** A region's result as one line: `<region>: verify OK (digest matched)` or `<region>: differs in 0x..-0x.., ...`. */
export function regionVerificationLine(v: RegionVerification): string {
  const r = v.region;
  return `${describeRegion(r)}: ${v.differs.length ? `differs in ${v.differs.map(([a, b]) => `${hex(r.address + a)}-${hex(r.address + b)}`).join(', ')}` : 'verify OK (digest matched)'}`;
}
