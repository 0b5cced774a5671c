import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { parseWebviewMessage, parseWebviewState, type HostMessage, type Tab, type WebviewMessage } from '../../webview/src/protocol';
import { panelHtml } from './panel-html';

/** The panel's view type; package.json activates on `onWebviewPanel:pycom.panel` so a reload can revive it. */
export const PANEL_VIEW_TYPE = 'pycom.panel';

export interface PanelHandlers {
  /** Messages the host must send once the webview is ready (current eFuses, flash state). */
  initialMessages(): HostMessage[];
  onMessage(m: WebviewMessage): void;
  onInvalidMessage(error: string): void;
  /** A panel revived after a reload came with a saved state that did not check out (one sentence). */
  onInvalidState(error: string): void;
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
    const panel = vscode.window.createWebviewPanel(PANEL_VIEW_TYPE, 'Pycom Secure', vscode.ViewColumn.Active, {
      ...this.webviewOptions(),
      // State survives hide/show through the webview's own getState/setState (cheaper than keeping it alive).
      retainContextWhenHidden: false,
    });
    this.attach(panel, tab);
  }

  /**
   * Takes over a panel VS Code revived after a window reload. `savedState` is what the webview
   * last passed to setState: untrusted, so it is checked, and anything odd opens the default tab.
   */
  revive(panel: vscode.WebviewPanel, savedState: unknown): void {
    const { state, error } = parseWebviewState(savedState);
    if (error) this.handlers.onInvalidState(error);
    if (this.panel) {
      // There is one Pycom panel; one was opened before VS Code got round to reviving this one.
      panel.dispose();
      return;
    }
    // A revived panel keeps its options only as far as VS Code persisted them; set them again.
    panel.webview.options = this.webviewOptions();
    this.attach(panel, state.tab);
  }

  private webviewOptions(): vscode.WebviewOptions {
    return {
      enableScripts: true,
      localResourceRoots: [vscode.Uri.joinPath(this.extensionUri, 'media'), vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview')],
    };
  }

  /** The HTML (with a fresh nonce), icon and message handlers, for a new or a revived panel. */
  private attach(panel: vscode.WebviewPanel, tab: Tab): void {
    this.pendingTab = tab;
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
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = undefined;
    });
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

/**
 * Lets VS Code bring the panel back after a window reload (see PycomPanel.revive), the way the
 * VS Code webview samples do it.
 */
export function registerPanelSerializer(panel: PycomPanel): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(PANEL_VIEW_TYPE, {
    deserializeWebviewPanel: async (revived: vscode.WebviewPanel, state: unknown) => panel.revive(revived, state),
  });
}
