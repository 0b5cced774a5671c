import * as vscode from 'vscode';
import { overallPercent } from '../../webview/src/protocol';
import type { UiState } from './state';

/**
 * Flash button and selected port. Hidden when there is neither a firmware project nor a
 * selected port: the extension then has nothing to flash and nowhere to flash it.
 */
export class StatusBar implements vscode.Disposable {
  private readonly flash = vscode.window.createStatusBarItem('pycom.flash', vscode.StatusBarAlignment.Left, 50);
  private readonly port = vscode.window.createStatusBarItem('pycom.port', vscode.StatusBarAlignment.Left, 49);

  constructor(private readonly state: UiState, private readonly hasProject: () => boolean, private readonly board: () => string) {
    this.flash.name = 'Pycom Flash';
    this.flash.command = 'pycom.flashFirmware';
    this.port.name = 'Pycom Port';
    this.port.command = 'pycom.selectPort';
    this.update();
  }

  update(): void {
    const port = this.state.port;
    if (!this.hasProject() && !port) {
      this.flash.hide();
      this.port.hide();
      return;
    }
    const p = this.state.flash;
    if (p?.state === 'running') {
      this.flash.text = `$(sync~spin) Flashing ${overallPercent(p)}%`;
      this.flash.tooltip = `Flashing ${p.board}`;
    } else {
      this.flash.text = `$(zap) Flash ${this.board()}`;
      this.flash.tooltip = 'Flash the current build with the checks of the flash plan';
    }
    this.port.text = port ? `$(${port.virtual ? 'beaker' : 'plug'}) ${port.path}` : '$(plug) No port';
    this.port.tooltip = 'Pycom: Select Port';
    this.flash.show();
    this.port.show();
  }

  dispose(): void {
    this.flash.dispose();
    this.port.dispose();
  }
}
