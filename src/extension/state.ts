import * as vscode from 'vscode';
import type { SecurityState } from '../core';
import type { EfuseSnapshot, FlashProgressView } from '../../webview/src/protocol';

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
  readAt: string;
}

/** A port as the Device view lists it (local serial ports and virtual boards). */
export interface PortRow {
  path: string;
  virtual: boolean;
  board?: string;
  detail?: string;
}

/** What the UI shows, in one place, so views, status bar and panel never disagree. */
export class UiState implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  port: SelectedPort | undefined;
  chip: ChipView | undefined;
  ports: PortRow[] = [];
  efuses: EfuseSnapshot | undefined;
  /** The snapshot before the last read, to highlight what changed. */
  previousEfuses: EfuseSnapshot | undefined;
  flash: FlashProgressView | undefined;
  private lastRead: EfuseSnapshot | undefined;

  update(patch: Partial<Pick<UiState, 'port' | 'efuses' | 'flash' | 'chip' | 'ports'>>): void {
    // A burn plan is a preview, not a read: "previous" is the last real read before this one.
    if (patch.efuses?.hasValues && !patch.efuses.plan) {
      if (this.lastRead) this.previousEfuses = this.lastRead;
      this.lastRead = patch.efuses;
    }
    // Another port means another chip: what was read from the old one no longer applies.
    if (patch.port && patch.port.path !== this.port?.path && !('chip' in patch)) this.chip = undefined;
    Object.assign(this, patch);
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
