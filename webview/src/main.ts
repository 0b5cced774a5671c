// The Pycom webview app: three tabs (eFuse inspector, flash progress, production) built from @vscode-elements.
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-table/index.js';
import '@vscode-elements/elements/dist/vscode-table-header/index.js';
import '@vscode-elements/elements/dist/vscode-table-header-cell/index.js';
import '@vscode-elements/elements/dist/vscode-table-body/index.js';
import '@vscode-elements/elements/dist/vscode-table-row/index.js';
import '@vscode-elements/elements/dist/vscode-table-cell/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import { isHostMessage, parseWebviewState, restoredFlash, tabRootId, TABS, type HostMessage, type WebviewMessage, type WebviewState } from './protocol';
import { renderEfuses } from './efuse-tab';
import { renderFlash } from './flash-tab';
import { renderProduction } from './production-tab';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  /** Whatever this webview saved last; checked before use (see parseWebviewState). */
  getState(): unknown;
  setState(s: WebviewState): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
// State survives hide/show (and a window reload, through the host's serializer) with
// getState/setState. What comes back is checked: the valid parts are kept, an odd tab falls
// back to the default. (After a reload the host's serializer checks the same state and logs it.)
const restored = parseWebviewState(vscode.getState());
if (restored.error) console.warn(`Pycom Secure: ${restored.error}`);
// A flash run in the saved state is a past one (the extension sends the current run, if any,
// as soon as the webview is ready): it must not pass for the current run after a reload.
let state: WebviewState = restored.state.flash ? { ...restored.state, flash: restoredFlash(restored.state.flash) } : restored.state;

const tabs = document.getElementById('tabs') as HTMLElement & { selectedIndex: number };
const efuseRoot = document.getElementById(tabRootId('efuses'))!;
const flashRoot = document.getElementById(tabRootId('flash'))!;
const productionRoot = document.getElementById(tabRootId('production'))!;

function render(): void {
  tabs.selectedIndex = TABS.indexOf(state.tab);
  renderEfuses(efuseRoot, state.efuses);
  renderFlash(flashRoot, state.flash, () => vscode.postMessage({ type: 'cancelFlash' }));
  renderProduction(productionRoot, state.production, {
    stop: () => vscode.postMessage({ type: 'stopProduction' }),
    exportRecords: (format) => vscode.postMessage({ type: 'exportRecords', format }),
  });
  vscode.setState(state);
}

function apply(m: HostMessage): void {
  switch (m.type) {
    case 'showTab': state = { ...state, tab: m.tab }; break;
    case 'efuses': state = { ...state, efuses: m.snapshot }; break;
    case 'flash': state = { ...state, flash: m.progress }; break;
    case 'production': state = { ...state, production: m.view }; break;
  }
  render();
}

window.addEventListener('message', (e: MessageEvent<unknown>) => {
  if (isHostMessage(e.data)) apply(e.data);
});
tabs.addEventListener('vsc-tabs-select', (e: Event) => {
  const idx = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
  const tab = TABS[idx];
  if (tab && tab !== state.tab) {
    state = { ...state, tab };
    vscode.setState(state);
    vscode.postMessage({ type: 'tabChanged', tab });
  }
});
render();
vscode.postMessage({ type: 'ready' });
