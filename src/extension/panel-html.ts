// The panel's HTML and CSP, free of `vscode` so unit tests can check them.
import { TAB_LABELS, TABS, tabRootId } from '../../webview/src/protocol';

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

/** One header and one panel per tab, in the order of TABS (the webview maps selectedIndex back through TABS). */
export function tabsMarkup(): string {
  return TABS.map((t) => `  <vscode-tab-header slot="header" id="tab-${t}">${TAB_LABELS[t]}</vscode-tab-header>
  <vscode-tab-panel><div id="${tabRootId(t)}"></div></vscode-tab-panel>`).join('\n');
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
  .irreversible li { margin: 2px 0; }
  .irreversible ul { margin: 2px 0 4px; padding-left: 1.4em; }
  vscode-table-row.changed { color: var(--vscode-gitDecoration-modifiedResourceForeground); font-weight: bold; }
  h3.category { text-transform: capitalize; margin-top: 1.2em; }
  .bar { display: grid; grid-template-columns: 16em 1fr 4em; gap: 8px; align-items: center; margin: 4px 0; }
  .log { background: var(--vscode-textCodeBlock-background); padding: 6px; max-height: 16em; overflow: auto; font-family: var(--vscode-editor-font-family); }
  .ok { color: var(--vscode-testing-iconPassed); font-weight: bold; }
  .failed { color: var(--vscode-errorForeground); font-weight: bold; }
  code { font-family: var(--vscode-editor-font-family); }
  .row-bar { display: grid; grid-template-columns: 1fr 3.5em; gap: 6px; align-items: center; }
  .buttons { display: flex; gap: 8px; margin: 8px 0; }
  vscode-table-cell.wrap { white-space: normal; overflow: visible; }
</style>
</head>
<body>
<vscode-tabs id="tabs">
${tabsMarkup()}
</vscode-tabs>
<script nonce="${nonce}" src="${scriptUri}"></script>
</body>
</html>`;
}
