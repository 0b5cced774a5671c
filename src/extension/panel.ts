import * as vscode from 'vscode';
import { randomBytes } from 'node:crypto';
import { parseWebviewMessage, type HostMessage, type Tab, type WebviewMessage } from '../../webview/src/protocol';

export const PANEL_VIEW_TYPE = 'pycom.panel';

/** The Content-Security-Policy of the panel: nothing remote, scripts only with this load's nonce. */
export function panelCsp(cspSource: string, nonce: string): string {
  return [
    "default-src 'none'",
    `img-src ${cspSource} data:`,
    `font-src ${cspSource}`,
    // Lit (inside @vscode-elements) uses constructable stylesheets, which CSP does not gate.
    `style-src ${cspSource} 'nonce-${nonce}'`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
}

export function panelHtml(scriptUri: string, cspSource: string, nonce: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${panelCsp(cspSource, nonce)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>Pycom Secure</title>
<style nonce="${nonce}">
  body { color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
  .muted { color: var(--vscode-descriptionForeground); }
  .plan { border: 1px solid var(--vscode-inputValidation-warningBorder); background: var(--vscode-inputValidation-warningBackground); padding: 0 8px; }
  vscode-table-row.changed { color: var(--vscode-gitDecoration-modifiedResourceForeground); font-weight: bold; }
  h3.category { text-transform: capitalize; margin-top: 1.2em; }
  .bar { display: grid; grid-template-columns: 16em 1fr 4em; gap: 8px; align-items: center; margin: 4px 0; }
  .log { background: var(--vscode-textCodeBlock-background); padding: 6px; max-height: 16em; overflow: auto; font-family: var(--vscode-editor-font-family); }
  code { font-family: var(--vscode-editor-font-family); }
</style>
</head>
<body>
<vscode-tabs id="tabs">
  <vscode-tab-header slot="header" id="tab-efuses">eFuse Inspector</vscode-tab-header>
  <vscode-tab-panel><div id="efuse-root"></div></vscode-tab-panel>
  <vscode-tab-header slot="header" id="tab-flash">Flash Progress</vscode-tab-header>
  <vscode-tab-panel><div id="flash-root"></div></vscode-tab-panel>
</vscode-tabs>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}

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
