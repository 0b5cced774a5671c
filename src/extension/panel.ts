import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { parseWebviewMessage, type HostMessage, type Tab, type WebviewMessage } from '../../webview/src/protocol';
import { panelHtml } from './panel-html';

export const PANEL_VIEW_TYPE = 'pycom.panel';

export interface PanelHandlers {
  /** Messages the host must send once the webview is ready (current eFuses, flash state). */
  initialMessages(): HostMessage[];
  onMessage(m: WebviewMessage): void;
  onInvalidMessage(error: string): void;
}

/** The single Pycom panel (eFuse inspector + flash progress). */
export class PycomPanel implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  /** Tab to show once the webview is ready; cleared after, so a reload keeps the user's tab. */
  private pendingTab: Tab | undefined;

  constructor(private readonly extensionUri: vscode.Uri, private readonly handlers: PanelHandlers) {}

  show(tab: Tab): void {
    if (this.panel) {
      this.panel.reveal(undefined, false);
      this.post({ type: 'showTab', tab });
      return;
    }
    this.pendingTab = tab;
    const roots = [vscode.Uri.joinPath(this.extensionUri, 'media'), vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')];
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Pycom Secure', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: roots,
      // State survives hide/show through the webview's own getState/setState (cheaper than keeping it alive).
      retainContextWhenHidden: false,
    });
    panel.iconPath = vscode.Uri.joinPath(this.extensionUri, 'media', 'chip.svg');
    const nonce = randomBytes(16).toString('base64');
    const script = panel.webview.asWebviewUri(vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview', 'main.js'));
    panel.webview.html = panelHtml(script.toString(), panel.webview.cspSource, nonce);
    panel.webview.onDidReceiveMessage((raw: unknown) => {
      const parsed = parseWebviewMessage(raw);
      if (!parsed.ok) return this.handlers.onInvalidMessage(parsed.error);
      if (parsed.message.type === 'ready') {
        for (const m of this.handlers.initialMessages()) this.post(m);
        if (this.pendingTab) this.post({ type: 'showTab', tab: this.pendingTab });
        this.pendingTab = undefined;
      }
      this.handlers.onMessage(parsed.message);
    });
    panel.onDidDispose(() => (this.panel = undefined));
    this.panel = panel;
  }

  post(m: HostMessage): void {
    void this.panel?.webview.postMessage(m);
  }

  get visible(): boolean {
    return this.panel !== undefined;
  }

  dispose(): void {
    this.panel?.dispose();
  }
}
