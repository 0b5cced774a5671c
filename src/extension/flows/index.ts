/**
 * The editor's command flows, one module per feature; each drives a core workflow through the
 * VS Code UI port (vscode-ui.ts) and updates the views.
 */
export * from './context';
export * from './ports';
export * from './board';
export * from './burn-keys';
export * from './flash';
export * from './build';
export * from './monitor';
export * from './ota';
export * from './keys';
export * from './rehearse';
export * from './provision';
export * from './predict';
export * from './verify';
