import * as vscode from 'vscode';
import type { SecurityState } from '../core';
import type { EfuseSnapshot, FlashProgressView, ProductionView } from '../../webview/src/protocol';

export interface SelectedPort {
  /** Serial device path or `socket://host:port` of a virtual board. */
  path: string;
  virtual: boolean;
  /** Board name when known (from the USB identity or the virtual profile). */
  board?: string;
}

/** The chip on the selected port as last read (display text and security state only). */
export interface ChipView {
  description: string;
  revision: string;
  mac: string;
  flashSize: string;
  crystalMhz: number;
  security: SecurityState;
  virtual: boolean;
  /** When it was read (ISO 8601). */
  readAt: string;
  /** Set when this reading was saved before a window reload (or a port switch) and restored, not read now. */
  restored?: boolean;
}

/** Where UiState keeps the last reading of each port (the extension's workspaceState). */
export interface ReadingStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

/** The workspaceState key of the last readings, by port path. */
export const LAST_READINGS_KEY = 'pycom.lastReadings';
/** How many ports' readings are kept (the most recent ones). */
const KEPT_READINGS = 8;

const isChipView = (v: unknown): v is ChipView => {
  const c = v as Partial<ChipView> | null;
  return typeof c === 'object' && c !== null && typeof c.description === 'string' && typeof c.mac === 'string' && typeof c.readAt === 'string'
    && typeof c.revision === 'string' && typeof c.flashSize === 'string' && typeof c.crystalMhz === 'number' && typeof c.virtual === 'boolean'
    && typeof c.security === 'object' && c.security !== null && typeof c.security.flashEncryption === 'object' && typeof c.security.secureBoot === 'object' && typeof c.security.keys === 'object';
};

/** A port as the Device view lists it (local serial ports and virtual boards). */
export interface PortRow {
  path: string;
  virtual: boolean;
  board?: string;
  detail?: string;
  /** A serial port whose USB ids the board catalog recognises as a Pycom board. */
  pycom?: boolean;
}

/** What the UI shows, in one place, so views, status bar and panel never disagree. */
export class UiState implements vscode.Disposable {
  /**
   * With a store, the last reading of each port survives a window reload: it is saved when read
   * and shown again (marked restored, with its time) when that port is selected. A ChipView holds
   * display text and the security state only (key blocks as empty/protected, never key bytes).
   */
  constructor(private readonly readings?: ReadingStore) {}

  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  port: SelectedPort | undefined;
  chip: ChipView | undefined;
  ports: PortRow[] = [];
  efuses: EfuseSnapshot | undefined;
  /** The snapshot before the last read, to highlight what changed. */
  previousEfuses: EfuseSnapshot | undefined;
  flash: FlashProgressView | undefined;
  /** The last (or running) provisioning run, for the panel's Production tab. */
  production: ProductionView | undefined;
  private lastRead: EfuseSnapshot | undefined;

  update(patch: Partial<Pick<UiState, 'port' | 'efuses' | 'flash' | 'chip' | 'ports' | 'production'>>): void {
    // A burn plan is a preview, not a read: "previous" is the last real read before this one.
    if (patch.efuses?.hasValues && !patch.efuses.plan) {
      if (this.lastRead) this.previousEfuses = this.lastRead;
      this.lastRead = patch.efuses;
    }
    // Another port means another chip: what was read from the old one no longer applies; the
    // last reading saved for the new port (if any) is shown, marked as restored.
    if (patch.port && patch.port.path !== this.port?.path && !('chip' in patch)) this.chip = this.savedReading(patch.port.path);
    Object.assign(this, patch);
    if (patch.chip && this.port && !patch.chip.restored) this.saveReading(this.port.path, patch.chip);
    this.changed.fire();
  }

  private allReadings(): Record<string, ChipView> {
    const raw = this.readings?.get<unknown>(LAST_READINGS_KEY);
    if (typeof raw !== 'object' || raw === null) return {};
    return Object.fromEntries(Object.entries(raw).filter((e): e is [string, ChipView] => isChipView(e[1])));
  }

  /** The reading last saved for `port`, marked restored; undefined when there is none (or it does not check out). */
  savedReading(port: string): ChipView | undefined {
    const c = this.allReadings()[port];
    return c ? { ...c, restored: true } : undefined;
  }

  private saveReading(port: string, chip: ChipView): void {
    if (!this.readings) return;
    const { restored: _restored, ...plain } = chip;
    const kept = Object.entries({ ...this.allReadings(), [port]: plain })
      .sort((a, b) => b[1].readAt.localeCompare(a[1].readAt)).slice(0, KEPT_READINGS);
    void this.readings.update(LAST_READINGS_KEY, Object.fromEntries(kept));
  }

  dispose(): void {
    this.changed.dispose();
  }
}
