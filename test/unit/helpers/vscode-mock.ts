import Module from 'node:module';

/**
 * A tiny stand-in for the `vscode` module, enough for the extension's tree providers. Loaded
 * only by the extension-* tests (never globally), by hooking Node's module resolution.
 */
export class EventEmitter<T> {
  private listeners: ((e: T) => void)[] = [];
  readonly event = (l: (e: T) => void) => { this.listeners.push(l); return { dispose: () => undefined }; };
  fire(e: T): void { for (const l of this.listeners) l(e); }
  dispose(): void { this.listeners = []; }
}
export class ThemeIcon { constructor(readonly id: string, readonly color?: ThemeColor) {} }
export class ThemeColor { constructor(readonly id: string) {} }
export const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 } as const;
export class TreeItem {
  id?: string; description?: string; tooltip?: string; iconPath?: ThemeIcon; contextValue?: string; command?: unknown; resourceUri?: unknown;
  constructor(readonly label: string, readonly collapsibleState: number) {}
}
export const Uri = { file: (fsPath: string) => ({ scheme: 'file', fsPath }) };

const mock = { EventEmitter, ThemeIcon, ThemeColor, TreeItemCollapsibleState, TreeItem, Uri };
const MOCK_ID = '\0vscode-mock';
type Resolve = (request: string, ...rest: unknown[]) => string;
const M = Module as unknown as { _resolveFilename: Resolve; _cache: Record<string, unknown> };
const original = M._resolveFilename;
M._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? MOCK_ID : original.call(this, request, ...rest);
};
M._cache[MOCK_ID] = { id: MOCK_ID, filename: MOCK_ID, loaded: true, exports: mock } as unknown;
