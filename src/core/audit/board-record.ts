import { createHash } from 'node:crypto';
import { AuditLog, assertNoKeyBytes, newOperationId, readAudit, type AuditRecord } from './audit-log';
import { normaliseMac } from '../keystore/key-store';
import { VERSION } from '../version';

/**
 * The record of what went onto a board (issue #14 point 3): one record per board and run, kept as
 * lines of the key store's audit log (audit.jsonl: append-only, each line fsynced before the work
 * goes on), so a power cut leaves every finished step recorded and no second format to keep. A
 * record's lines share an `id`; `readBoardRecords` folds them into one record. Never holds key
 * bytes: fingerprints only (each line passes assertNoKeyBytes with the keys the writer knows).
 */
export type RecordOperation = 'provision' | 'flash' | 'ota-image';

/** One region written to (or prepared for) a board. */
export interface RecordRegion {
  address: number;
  /** The build file the bytes came from (re-encrypted for the board when `reencrypted`). */
  file: string;
  /** SHA-256 of the bytes written, hex. */
  sha256: string;
  length: number;
  /** Bytes actually written (0: the flash already held them, verified by MD5). */
  bytesWritten?: number;
  reencrypted?: boolean;
  /**
   * The run stopped while writing this region (the link or the board's power lost, the process
   * stopped): its write began and did not finish. `sha256` and `length` are what was to be
   * written, not what the board holds; the same flash again writes it in full.
   */
  cutOff?: true;
}

export interface BoardRecord {
  id: string;
  /** burn-keys: a Burn Keys run made alone (efuse burn-keys), read from its own lines. */
  operation: RecordOperation | 'burn-keys';
  mac: string;
  /** Pycom board (GPY, LOPY4...), when known. */
  board?: string;
  port?: string;
  chipRevision?: string;
  /** Key fingerprints by Burn Keys' step names (flash-key, secure-boot-key) and build-key; never key bytes. */
  keyFingerprints: Record<string, string>;
  efuseBefore?: unknown;
  efuseAfter?: unknown;
  /** Burn Keys run ids (the audit log's burn-keys lines) this record's burn used. */
  burnRuns: string[];
  /**
   * Derived when read (never written), for a record with Burn Keys runs: the eFuse steps those runs
   * burned, in order, each read back from the board and verified before the next began (the runs'
   * step-done lines); [] when they burned nothing (everything was on the chip). A run cut off after
   * its burn keeps them: the Burn Keys lines name the record they are part of (`within`).
   */
  burnedSteps?: string[];
  regions: RecordRegion[];
  firmware?: { generation: string; versions: string; buildDir: string };
  toolVersion: string;
  start: string;
  end?: string;
  /**
   * ok | failed | untouched (not approved) | interrupted (no end line: the run was cut off). A run
   * whose writes verified but whose boot log says the board does not boot is `failed`.
   */
  result: string;
  /** The boot check after the writes: the boot log's verdict, or `predicted` (checked before writing only). */
  boot?: string;
  /** Why the store's keys were taken for the board's (see RecordKeyEvidence). */
  keyEvidence?: RecordKeyEvidence;
  /** The boot log after the writes refuted the key taken on the user's word (workflows/flash.ts). */
  keyRefuted?: KeyRefutedFact;
  /** With keyRefuted: whether the run erased the bootloader region 0x0-0x8000 it had written again. */
  bootRegionErased?: boolean;
  error?: string;
  /** What happened, in order (state changes). */
  steps: string[];
  /**
   * The id of this board's run that was cut off (`interrupted`, no end line) just before this one
   * started: this run writes the board again, so its result is the board's state from now on
   * (the same `flash` again finishes what that run left). Absent in records written before 0.2.
   */
  supersedes?: string;
  /** Derived when read (never written): the id of the later run whose `supersedes` names this one. */
  supersededBy?: string;
}

/**
 * What a record keeps when the boot log refutes a key the user vouched for: the block and the
 * fingerprint of the key it does not hold (never key bytes).
 */
export interface KeyRefutedFact {
  block: 'BLOCK1';
  keyFingerprint: string;
}

/**
 * The evidence a run had that the key store's keys are the board's (workflows/evidence.ts):
 * `trust-key-store` the user's word (--trust-key-store, the editor's question; not verified),
 * `burn-record` a verified Burn Keys run in the audit log, `read-back` the board's flash decrypting
 * to a valid image set, `readable` the key block compared directly, `not-needed` no key relied on.
 */
export type RecordKeyEvidence = 'trust-key-store' | 'burn-record' | 'read-back' | 'readable' | 'not-needed';

/** The record's name for a KeyEvidence kind (acknowledged → trust-key-store, flash-read-back → read-back). */
export function recordKeyEvidence(kind: 'not-needed' | 'readable' | 'burn-record' | 'flash-read-back' | 'acknowledged'): RecordKeyEvidence {
  return kind === 'acknowledged' ? 'trust-key-store' : kind === 'flash-read-back' ? 'read-back' : kind;
}

/**
 * Ends a record of writes by the boot check: `failed` (the boot log's summary as the error) when
 * the boot log says the board does not boot, else `ok`; `boot` is the verdict either way
 * (`predicted` when no boot log was read).
 */
export function endByBoot(writer: BoardRecordWriter, boot: { verdict: string; summary: string } | undefined, fields: Record<string, unknown> = {}): void {
  const all = { ...fields, boot: boot ? boot.verdict : 'predicted' };
  if (boot?.verdict === 'failed') writer.end('failed', all, `written and verified, but the boot log says the board does not boot: ${boot.summary}`);
  else writer.end('ok', all);
}

export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The regions of a flash plan as written (RegionResult by address): address, file, SHA-256 of the bytes, bytes written. */
export function regionsWritten(plan: { regions: readonly { address: number; file: string; data: Uint8Array }[] }, results: readonly { address: number; bytesWritten: number }[], reencrypted = false): RecordRegion[] {
  return results.map((r) => {
    const g = plan.regions.find((x) => x.address === r.address)!;
    return { address: r.address, file: g.file, sha256: sha256Hex(g.data), length: g.data.length, bytesWritten: r.bytesWritten, ...(reencrypted ? { reencrypted: true } : {}) };
  });
}

/** What recordFlashProgress needs of a flash progress event (flash/writer.ts FlashProgressEvent). */
export interface RegionProgress {
  phase: string;
  address: number;
  /** With 'done': the bytes of the region actually written. */
  regionBytesWritten?: number;
}

/**
 * Adds a flash run's regions to its record as they are written, so a run cut off keeps the
 * regions it finished and names the one it was in (each line is fsynced before the writes go on):
 * feed it every progress event of the run. At 'erase' (a region's write begins, before its
 * erase) the region is added as begun; at 'done' (written and verified by MD5) as written, with
 * the bytes written. A begun region with no written line reads back as `cutOff`
 * (readBoardRecords). `plan` holds the bytes written per address (for their SHA-256).
 */
export function recordFlashProgress(writer: BoardRecordWriter, plan: { regions: readonly { address: number; file: string; data: Uint8Array }[] }, e: RegionProgress, reencrypted = false): void {
  if (e.phase !== 'erase' && e.phase !== 'done') return;
  const g = plan.regions.find((x) => x.address === e.address);
  if (!g) return;
  const region: RecordRegion = { address: g.address, file: g.file, sha256: sha256Hex(g.data), length: g.data.length, ...(reencrypted ? { reencrypted: true } : {}) };
  if (e.phase === 'erase') writer.add('region-begun', { regionsBegun: [region] });
  else writer.add('region-written', { regions: [{ ...region, bytesWritten: e.regionBytesWritten ?? 0 }] });
}

/** The lines of one board's record, written as the work happens. */
export class BoardRecordWriter {
  readonly id = newOperationId();
  /** The id of this board's run cut off or failed just before this one (see BoardRecord.supersedes), when there is one. */
  readonly supersedes: string | undefined;
  private readonly audit: AuditLog;
  private closed = false;

  /**
   * Starts a record (its first line, fsynced). `keys` are the key bytes this writer must never let
   * through (checked on every line); `fields` are the first facts known (board, port, revision).
   */
  constructor(file: string, readonly operation: RecordOperation, readonly mac: string, private readonly keys: () => readonly Uint8Array[], fields: Record<string, unknown> = {}) {
    this.audit = new AuditLog(file);
    // A run that writes the board takes over from the run before it that was cut off (issue: a
    // record that stays `interrupted` although the same flash finished the board later).
    const cut = WRITES_BOARD.includes(operation) ? interruptedRunBefore(file, mac) : undefined;
    this.supersedes = cut;
    this.line('intent', { record: { ...fields, ...(cut ? { supersedes: cut } : {}) } });
  }

  /**
   * The Burn Keys runs for this MAC that started after this record did (an interrupted one has no
   * result to take its id from); added to the record so its lines fold into this one.
   */
  burnRunsSinceStart(): string[] {
    const recs = readAudit(this.audit.file).records;
    const start = recs.findIndex((r) => r.id === this.id);
    return [...new Set(recs.slice(start + 1).filter((r) => r.operation === 'burn-keys' && r.phase === 'intent' && r.mac === this.mac).map((r) => r.id))];
  }

  /** Adds facts to the record (later lines win per field; `regions` and `burnRuns` accumulate). */
  add(step: string, fields: Record<string, unknown> = {}): void {
    this.line('step-done', { step, record: fields });
  }

  /** The last line: result ok/failed/untouched, with the eFuses after and the error sentence. */
  end(result: 'ok' | 'failed' | 'untouched', fields: Record<string, unknown> = {}, error?: string): void {
    if (this.closed) return;
    this.closed = true;
    this.line(result === 'failed' ? 'failed' : 'done', { result, record: fields, ...(error ? { message: error } : {}) });
  }

  private line(phase: AuditRecord['phase'], extra: Record<string, unknown>): void {
    const rec = { id: this.id, operation: this.operation, mac: this.mac, phase, ...extra };
    assertNoKeyBytes(rec, this.keys());
    this.audit.append(rec as Parameters<AuditLog['append']>[0]);
  }
}

const OPERATIONS: readonly string[] = ['provision', 'flash', 'ota-image'];
/** The operations whose runs write a board's flash (an `ota-image` run only prepares a file). */
const WRITES_BOARD: readonly string[] = ['provision', 'flash'];

/**
 * The id of `mac`'s latest run that writes the board (flash, provision), when that run has no end
 * line (`interrupted`) and no later run has taken over from it yet; else undefined.
 */
export function interruptedRunBefore(file: string, mac: string): string | undefined {
  const last = readBoardRecords(file, mac).filter((r) => WRITES_BOARD.includes(r.operation)).pop();
  // A failed run wrote the board too (a record is started only when writing begins): the link lost
  // mid-write, or a board written that then did not boot. The next run's state is the board's.
  return last && (last.result === 'interrupted' || last.result === 'failed') ? last.id : undefined;
}

/**
 * The board records in an audit log, oldest first, one per run (its lines folded: later facts win,
 * regions and Burn Keys runs accumulate); with `mac`, that board's only. Burn Keys runs made alone
 * (`efuse burn-keys`) are records too: their MAC, revision, key fingerprints, eFuses before/after
 * and result. A record with no end line is `interrupted`.
 */
export function readBoardRecords(file: string, mac?: string): BoardRecord[] {
  const want = mac !== undefined ? normaliseMac(mac) : undefined;
  const byId = new Map<string, BoardRecord>();
  const begun = new Map<string, RecordRegion[]>();
  // Per Burn Keys run: the record it is part of, its verified steps and the eFuses after its last line.
  const burns = new Map<string, { within?: string; steps: string[]; efuseAfter?: unknown }>();
  for (const r of readAudit(file).records) {
    const isBurn = r.operation === 'burn-keys';
    if (isBurn) {
      const b = burns.get(r.id) ?? { steps: [] };
      burns.set(r.id, b);
      if (r.phase === 'intent' && typeof r.within === 'string') b.within = r.within;
      if (r.phase === 'step-done' && r.step && r.result === 'verified' && !b.steps.includes(r.step)) b.steps.push(r.step);
      if (r.efuseAfter !== undefined) b.efuseAfter = r.efuseAfter;
    }
    if (!OPERATIONS.includes(r.operation) && !isBurn) continue;
    let m: string;
    try {
      m = normaliseMac(r.mac);
    } catch {
      continue;
    }
    if (want !== undefined && m !== want) continue;
    let rec = byId.get(r.id);
    if (!rec) {
      rec = { id: r.id, operation: (isBurn ? 'burn-keys' : r.operation) as BoardRecord['operation'], mac: m, keyFingerprints: {}, burnRuns: isBurn ? [r.id] : [], regions: [], toolVersion: r.version ?? VERSION, start: r.time, result: 'interrupted', steps: [] };
      byId.set(r.id, rec);
    }
    if (r.revision) rec.chipRevision = r.revision;
    if (r.keyFingerprints) Object.assign(rec.keyFingerprints, r.keyFingerprints);
    if (r.efuseBefore !== undefined && rec.efuseBefore === undefined) rec.efuseBefore = r.efuseBefore;
    if (r.efuseAfter !== undefined) rec.efuseAfter = r.efuseAfter;
    if (r.step) rec.steps.push(r.step);
    const f = (r as AuditRecord & { record?: Record<string, unknown> }).record ?? {};
    for (const [k, v] of Object.entries(f)) {
      // A region said again (written, then in the run's summary) is one region: the later line wins.
      if (k === 'regions' && Array.isArray(v)) for (const g of v as RecordRegion[]) upsertRegion(rec.regions, g);
      else if (k === 'regionsBegun' && Array.isArray(v)) begun.set(r.id, [...(begun.get(r.id) ?? []), ...(v as RecordRegion[])]);
      else if (k === 'burnRuns' && Array.isArray(v)) rec.burnRuns.push(...(v as string[]));
      else if (k === 'keyFingerprints' && v && typeof v === 'object') Object.assign(rec.keyFingerprints, v);
      else (rec as unknown as Record<string, unknown>)[k] = v;
    }
    if (r.phase === 'done' || r.phase === 'failed') {
      rec.end = r.time;
      rec.result = isBurn ? (r.phase === 'done' ? 'ok' : 'failed') : (r.result ?? (r.phase === 'done' ? 'ok' : 'failed'));
      if (r.message && r.phase === 'failed') rec.error = r.message;
    }
  }
  // A region whose write began and never finished is the one the run was cut off in.
  for (const [id, regions] of begun) {
    const rec = byId.get(id);
    if (!rec) continue;
    for (const g of regions) if (!rec.regions.some((x) => x.address === g.address)) rec.regions.push({ ...g, cutOff: true });
  }
  // A Burn Keys run that names its record (`within`) is part of it, even when the record was cut off before naming the run.
  for (const [id, b] of burns) {
    const rec = b.within !== undefined ? byId.get(b.within) : undefined;
    const own = byId.get(id);
    if (rec && own && rec.mac === own.mac && !rec.burnRuns.includes(id)) rec.burnRuns.push(id);
  }
  for (const rec of byId.values()) {
    if (rec.operation === 'burn-keys' || rec.burnRuns.length === 0) continue;
    rec.burnRuns = [...new Set(rec.burnRuns)];
    const runs = rec.burnRuns.map((id) => burns.get(id)).filter((b) => b !== undefined);
    rec.burnedSteps = [...new Set(runs.flatMap((b) => b.steps))];
    // Cut off before its own eFuse read-back: the last state a burn line read back from the board.
    if (rec.efuseAfter === undefined) rec.efuseAfter = runs.map((b) => b.efuseAfter).filter((e) => e !== undefined).pop();
  }
  // A Burn Keys run made inside a provisioning run is part of that board's record, not one of its own.
  const inside = new Set([...byId.values()].filter((r) => r.operation !== 'burn-keys').flatMap((r) => r.burnRuns));
  for (const r of byId.values()) {
    const cut = r.supersedes !== undefined ? byId.get(r.supersedes) : undefined;
    if (cut && cut.mac === r.mac) cut.supersededBy = r.id;
  }
  return [...byId.values()].filter((r) => !(r.operation === 'burn-keys' && inside.has(r.id)));
}

function upsertRegion(regions: RecordRegion[], g: RecordRegion): void {
  const i = regions.findIndex((x) => x.address === g.address);
  if (i >= 0) regions[i] = g;
  else regions.push(g);
}

/** The runs that change a board (its eFuses or flash): its state comes from these, never from an `ota-image` run. */
const CHANGES_BOARD: readonly string[] = [...WRITES_BOARD, 'burn-keys'];

/**
 * The latest record per board (by MAC, ordered by that latest record): what `records --latest`
 * shows, the board's current state. Only runs that changed the board count (burn-keys, flash,
 * provision): an `ota-image` run only reads the board and writes a file, so it stays in the full
 * history but is never a board's latest state (a board with only ota-image runs has none). A board
 * whose latest run was cut off shows that `interrupted` record; once a later run took over, that
 * run's record (with `supersedes`) is the latest.
 */
export function latestBoardRecords(records: readonly BoardRecord[]): BoardRecord[] {
  const byMac = new Map<string, BoardRecord>();
  for (const r of records) {
    if (!CHANGES_BOARD.includes(r.operation)) continue;
    byMac.delete(r.mac);
    byMac.set(r.mac, r);
  }
  return [...byMac.values()];
}

// New columns go at the end, so a consumer that reads columns by position keeps working.
const CSV_COLUMNS = ['id', 'operation', 'mac', 'board', 'port', 'chipRevision', 'result', 'boot', 'keyEvidence', 'error', 'start', 'end', 'toolVersion', 'firmwareGeneration', 'firmwareVersions', 'flashKey', 'secureBootKey', 'buildKey', 'regions', 'burnRuns', 'supersedes', 'supersededBy', 'burnedSteps'] as const;

function csvCell(v: unknown): string {
  const s = v === undefined || v === null ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * Records as CSV (RFC 4180 quoting), one row per record: key fingerprints in their own columns,
 * regions as `address:file:sha256` joined by spaces (`:cut-off` after the region a cut-off run was in). The eFuse states are in the JSON export only.
 */
export function boardRecordsCsv(records: readonly BoardRecord[]): string {
  const rows = [CSV_COLUMNS.join(',')];
  for (const r of records) {
    const cells: Record<(typeof CSV_COLUMNS)[number], unknown> = {
      id: r.id, operation: r.operation, mac: r.mac, board: r.board, port: r.port, chipRevision: r.chipRevision, result: r.result, boot: r.boot, keyEvidence: r.keyEvidence, error: r.error,
      start: r.start, end: r.end, toolVersion: r.toolVersion, firmwareGeneration: r.firmware?.generation, firmwareVersions: r.firmware?.versions,
      flashKey: r.keyFingerprints['flash-key'], secureBootKey: r.keyFingerprints['secure-boot-key'], buildKey: r.keyFingerprints['build-key'],
      regions: r.regions.map((g) => `0x${g.address.toString(16)}:${g.file}:${g.sha256}${g.cutOff ? ':cut-off' : ''}`).join(' '), burnRuns: r.burnRuns.join(' '),
      supersedes: r.supersedes, supersededBy: r.supersededBy, burnedSteps: r.burnedSteps?.join(' '),
    };
    rows.push(CSV_COLUMNS.map((c) => csvCell(cells[c])).join(','));
  }
  return rows.join('\n') + '\n';
}
