/**
 * The typed message protocol between the extension host and the Pycom webview panel.
 * Shared by both sides (the extension bundles it for Node, the webview for the browser), so it
 * must stay free of `vscode` and DOM types. Everything crossing the boundary is plain JSON.
 *
 * Key material never crosses this boundary: eFuse key blocks arrive already masked by the
 * extension, and keys are only ever named by fingerprint.
 */

/** The panel's tabs, in the order they appear. The panel HTML is generated from this list. */
export const TABS = ['efuses', 'flash', 'production'] as const;
export type Tab = (typeof TABS)[number];
/** The tab the panel opens on when nothing (valid) says otherwise. */
export const DEFAULT_TAB: Tab = 'efuses';
/** Each tab's header text. A Record, so adding a tab to TABS without a label does not compile. */
export const TAB_LABELS: Readonly<Record<Tab, string>> = { efuses: 'eFuse Inspector', flash: 'Flash Progress', production: 'Production' };
/** The id of the element a tab renders into. */
export function tabRootId(tab: Tab): string {
  return `${tab}-root`;
}

export function isTab(v: unknown): v is Tab {
  return typeof v === 'string' && (TABS as readonly string[]).includes(v);
}

/** One eFuse field as the inspector shows it. All strings are display text, derived by the core. */
export interface EfuseFieldView {
  name: string;
  category: string;
  description: string;
  block: number;
  /** First bit inside the block and the width, for the "raw bits" column. */
  bit: number;
  len: number;
  value: string;
  /** The field's raw bits as a binary or hex string. */
  raw: string;
  /** undefined when no board has been read (the protection state is unknown). */
  readProtected: boolean | undefined;
  writeProtected: boolean | undefined;
  /** Which protection bits guard the field, e.g. "WR_DIS[7] RD_DIS[3]", or "" when none. */
  protectionBits: string;
  /** Value after a planned burn; present only when the panel shows a burn plan. */
  after?: string;
}

export interface EfuseBlockView {
  block: number;
  hex: string;
  afterHex?: string;
}

export interface EfuseSnapshot {
  /** Where the values come from: "virtual GPy 24:0a:c4:…", "/dev/ttyACM0", or "field table only". */
  source: string;
  /** False when no board has been read yet: the table lists fields without values. */
  hasValues: boolean;
  fields: EfuseFieldView[];
  blocks: EfuseBlockView[];
  /** Set when the snapshot shows a burn plan (before/after columns). */
  plan?: {
    title: string;
    /** The board the plan is for; the user types this MAC to confirm. */
    mac: string;
    /** What cannot be undone: one point per step, with the protections that follow from it nested. */
    irreversible: PlanPoint[];
    /** The core's rendering of the plan (exact register bits; fingerprints, never key bytes). */
    details: string;
  };
}

/** One point of a burn plan's "cannot be undone" list and its sub-points. */
export interface PlanPoint {
  text: string;
  sub: string[];
}

export interface FlashRegionView {
  name: string;
  address: number;
  size: number;
  written: number;
}

/**
 * Where a flash run is: `checking` (the key-store question and the plan's checks; nothing written
 * yet), `running` (writing), `done` (written, verified and, when there is a boot log, booted or
 * not known not to), `not-booted` (written and verified, but the boot log says the board did not
 * boot), `failed` or `cancelled` (the result says whether anything was written).
 */
export type FlashState = 'idle' | 'checking' | 'running' | 'done' | 'not-booted' | 'failed' | 'cancelled';

/** Each state as the Flash Progress tab says it. A Record, so a new state without its text does not compile. */
export const FLASH_STATE_TEXT: Readonly<Record<FlashState, string>> = {
  idle: 'idle',
  checking: 'checking (nothing written yet)',
  running: 'running',
  done: 'done',
  'not-booted': 'written and verified, but the board did not boot',
  failed: 'failed',
  cancelled: 'cancelled',
};

export interface FlashProgressView {
  /** The board and its port (and its MAC once read), e.g. "GPy (virtual) 24:0a:c4:… on socket://127.0.0.1:5555". */
  board: string;
  /** The board's MAC once read. */
  mac?: string;
  /** When this run started (ISO 8601). */
  startedAt?: string;
  /**
   * Set by the webview on a run it restored from its saved state (after a window reload or a
   * hide/show) and that the extension has not sent again: a past run, not the current one.
   */
  restored?: boolean;
  state: FlashState;
  regions: FlashRegionView[];
  bytesPerSecond?: number;
  etaSeconds?: number;
  /** `etaSeconds` is estimated from the baud and typical flash times: nothing was measured yet. */
  etaEstimated?: boolean;
  log: string[];
  /** How it ended: the flash checks' boot prediction and the boot log's verdict. */
  result?: { ok: boolean; text: string };
}

/**
 * One board of a provisioning run, as the Production tab shows it. `state` is the core's
 * provisioning state (connecting, identified, keys, burning, flashing, boot-check, finished,
 * failed, unapproved) as display text; `progress` (0..1) is the host's estimate of how far that
 * board is; `outcome` is set once the board is done.
 */
export interface ProductionRowView {
  port: string;
  /** "GPy (virtual)", "GPy", or the port when the board is not known yet. */
  board: string;
  virtual: boolean;
  mac?: string;
  state: string;
  progress: number;
  /** The last sentence about this board (what it is doing, what went wrong and what to do). */
  message: string;
  /** Set when the board is done: finished, failed, or left untouched (not approved). */
  outcome?: ProductionOutcome;
  /** The board's flash-encryption key fingerprint once known (never the key). */
  flashKey?: string;
}

export type ProductionOutcome = 'finished' | 'failed' | 'untouched';
export const PRODUCTION_OUTCOMES: readonly ProductionOutcome[] = ['finished', 'failed', 'untouched'];

export type ProductionPhase = 'reading' | 'approving' | 'running' | 'stopping' | 'done';

/** A provisioning run: its settings in one line, a row per board, and how it ended. */
export interface ProductionView {
  phase: ProductionPhase;
  /** What the run uses: build folder, key store, per-device or shared keys, profile. */
  setup: string;
  rows: ProductionRowView[];
  /** How the run ended (one sentence), once it has. */
  result?: { ok: boolean; text: string };
}

/** Extension → webview. */
export type HostMessage =
  | { type: 'showTab'; tab: Tab }
  | { type: 'efuses'; snapshot: EfuseSnapshot }
  | { type: 'flash'; progress: FlashProgressView }
  | { type: 'production'; view: ProductionView };

/** The formats board records are exported in (the core's records export). */
export const RECORD_FORMATS = ['json', 'csv'] as const;
export type RecordFormat = (typeof RECORD_FORMATS)[number];

/** Webview → extension. */
export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'tabChanged'; tab: Tab }
  | { type: 'refreshEfuses' }
  | { type: 'cancelFlash' }
  | { type: 'stopProduction' }
  | { type: 'exportRecords'; format: RecordFormat };

export type ParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a message from the webview. The webview is a browser context that renders device
 * data, so the host treats whatever it posts as untrusted: exact types, no extra keys.
 */
export function parseWebviewMessage(raw: unknown): ParseResult<WebviewMessage> {
  if (!isRecord(raw)) return { ok: false, error: 'webview message is not an object' };
  const type = raw.type;
  if (typeof type !== 'string') return { ok: false, error: 'webview message has no string "type"' };
  const keys = Object.keys(raw);
  const onlyKeys = (allowed: string[]): string | undefined => {
    const extra = keys.filter((k) => !allowed.includes(k));
    return extra.length ? `webview message "${type}" has unexpected field(s): ${extra.join(', ')}` : undefined;
  };
  switch (type) {
    case 'ready':
    case 'refreshEfuses':
    case 'cancelFlash':
    case 'stopProduction': {
      const err = onlyKeys(['type']);
      return err ? { ok: false, error: err } : { ok: true, message: { type } };
    }
    case 'tabChanged': {
      const err = onlyKeys(['type', 'tab']);
      if (err) return { ok: false, error: err };
      const tab = raw.tab;
      if (!isTab(tab)) {
        return { ok: false, error: `webview message "tabChanged" has an unknown tab: ${JSON.stringify(tab)}` };
      }
      return { ok: true, message: { type, tab } };
    }
    case 'exportRecords': {
      const err = onlyKeys(['type', 'format']);
      if (err) return { ok: false, error: err };
      const format = raw.format;
      if (!RECORD_FORMATS.some((f) => f === format)) {
        return { ok: false, error: `webview message "exportRecords" has an unknown format: ${shown(format)} (json or csv)` };
      }
      return { ok: true, message: { type, format: format as RecordFormat } };
    }
    default:
      return { ok: false, error: `unknown webview message type: ${JSON.stringify(type).slice(0, 40)}` };
  }
}

/** Overall progress of a flash, 0..100, from the per-region byte counts. */
export function overallPercent(p: FlashProgressView): number {
  const total = p.regions.reduce((n, r) => n + r.size, 0);
  if (total === 0) return p.state === 'done' ? 100 : 0;
  const done = p.regions.reduce((n, r) => n + Math.min(r.written, r.size), 0);
  return Math.floor((done * 100) / total);
}

/**
 * Overall progress of a provisioning run, 0..100: the mean of the boards' progress, a board that
 * is done (finished, failed or untouched) counting as complete.
 */
export function productionPercent(v: ProductionView): number {
  if (v.rows.length === 0) return v.phase === 'done' ? 100 : 0;
  const sum = v.rows.reduce((n, r) => n + (r.outcome ? 1 : Math.max(0, Math.min(1, r.progress))), 0);
  return Math.floor((sum * 100) / v.rows.length);
}

/** State the webview persists with vscode.setState so hide/show and a window reload do not lose it. */
export interface WebviewState {
  tab: Tab;
  efuses?: EfuseSnapshot;
  flash?: FlashProgressView;
  production?: ProductionView;
}

function isEfuseSnapshot(v: unknown): v is EfuseSnapshot {
  return isRecord(v) && Array.isArray(v.fields) && Array.isArray(v.blocks);
}

/**
 * A flash run restored from saved state, as a past run: marked `restored`, and a run that was
 * still checking or writing is no longer (the extension host that ran it is gone), so it shows
 * as cancelled with no time left.
 */
export function restoredFlash(p: FlashProgressView): FlashProgressView {
  const { etaSeconds: _eta, etaEstimated: _estimated, ...rest } = p;
  const stopped = p.state === 'running' || p.state === 'checking';
  return { ...rest, restored: true, ...(stopped ? { state: 'cancelled' as const } : {}) };
}

function isFlashProgress(v: unknown): v is FlashProgressView {
  return isRecord(v) && Array.isArray(v.regions) && Array.isArray(v.log);
}

function isProductionRow(v: unknown): v is ProductionRowView {
  return isRecord(v) && typeof v.port === 'string' && typeof v.board === 'string' && typeof v.state === 'string' && typeof v.message === 'string'
    && typeof v.progress === 'number' && (v.outcome === undefined || PRODUCTION_OUTCOMES.some((o) => o === v.outcome));
}

function isProductionView(v: unknown): v is ProductionView {
  return isRecord(v) && typeof v.phase === 'string' && typeof v.setup === 'string' && Array.isArray(v.rows) && v.rows.every(isProductionRow);
}

/** A short, single-line rendering of an untrusted value for an error sentence. */
function shown(v: unknown): string {
  if (v === undefined) return 'undefined';
  let s: string;
  try {
    s = JSON.stringify(v) ?? typeof v;
  } catch {
    s = typeof v;
  }
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}

/**
 * Validates a saved panel state: what the webview's getState returns and what VS Code hands
 * the serializer after a reload. Both come from storage the webview wrote, so they are
 * untrusted. Never throws: the parts that check out are kept, the rest is dropped, the tab
 * falls back to DEFAULT_TAB, and `error` says in one sentence what was wrong. No saved state
 * at all (undefined) is normal and not an error.
 */
export function parseWebviewState(raw: unknown): { state: WebviewState; error?: string } {
  if (raw === undefined) return { state: { tab: DEFAULT_TAB } };
  if (!isRecord(raw)) {
    return { state: { tab: DEFAULT_TAB }, error: `saved panel state is not an object (${shown(raw)}), so the panel opens on the default tab` };
  }
  const problems: string[] = [];
  const tab = isTab(raw.tab) ? raw.tab : DEFAULT_TAB;
  if (!isTab(raw.tab)) problems.push(`${raw.tab === undefined ? 'no tab' : `an unknown tab ${shown(raw.tab)}`} (showing the ${TAB_LABELS[DEFAULT_TAB]})`);
  const state: WebviewState = { tab };
  if (isEfuseSnapshot(raw.efuses)) state.efuses = raw.efuses;
  else if (raw.efuses !== undefined) problems.push('a malformed eFuse snapshot (dropped)');
  if (isFlashProgress(raw.flash)) state.flash = raw.flash;
  else if (raw.flash !== undefined) problems.push('malformed flash progress (dropped)');
  if (isProductionView(raw.production)) state.production = raw.production;
  else if (raw.production !== undefined) problems.push('a malformed production run (dropped)');
  const extra = Object.keys(raw).filter((k) => !['tab', 'efuses', 'flash', 'production'].includes(k));
  if (extra.length) problems.push(`unexpected field(s) ${shown(extra.join(', '))} (ignored)`);
  return problems.length ? { state, error: `saved panel state has ${problems.join(', ')}` } : { state };
}

/** Host messages are produced by our own code, but the webview still checks the shape before rendering. */
export function isHostMessage(raw: unknown): raw is HostMessage {
  if (!isRecord(raw)) return false;
  switch (raw.type) {
    case 'showTab':
      return isTab(raw.tab);
    case 'efuses':
      return isEfuseSnapshot(raw.snapshot);
    case 'flash':
      return isFlashProgress(raw.progress);
    case 'production':
      return isProductionView(raw.view);
    default:
      return false;
  }
}
