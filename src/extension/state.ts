import * as vscode from 'vscode';
import type { EfuseSnapshot, FlashProgressView } from '../../webview/src/protocol';

export interface SelectedPort {
  /** Serial device path or `socket://host:port` of a virtual board. */
  path: string;
  virtual: boolean;
  /** Board name when known (from the USB identity or the virtual profile). */
  board?: string;
}

/** What the UI shows, in one place, so views, status bar and panel never disagree. */
export class UiState implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  port: SelectedPort | undefined;
  efuses: EfuseSnapshot | undefined;
  /** The snapshot before the last read, to highlight what changed. */
  previousEfuses: EfuseSnapshot | undefined;
  flash: FlashProgressView | undefined;

  update(patch: Partial<Pick<UiState, 'port' | 'efuses' | 'flash'>>): void {
    if (patch.efuses && this.efuses?.hasValues) this.previousEfuses = this.efuses;
    Object.assign(this, patch);
    this.changed.fire();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
