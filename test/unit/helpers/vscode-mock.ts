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
type MockUri = { scheme: string; fsPath: string; toString(): string };
const uri = (fsPath: string): MockUri => ({ scheme: 'file', fsPath, toString: () => `file://${fsPath}` });
export const Uri = { file: uri, joinPath: (base: MockUri, ...parts: string[]) => uri([base.fsPath, ...parts].join('/')) };
export const ViewColumn = { Active: -1, One: 1 } as const;

/** A webview panel that records what the host posts and lets a test play the webview's side. */
export class FakeWebviewPanel {
  readonly posted: unknown[] = [];
  private receive: ((m: unknown) => void) | undefined;
  private disposed: (() => void) | undefined;
  iconPath: unknown;
  readonly webview = {
    html: '',
    cspSource: 'vscode-resource:',
    asWebviewUri: (u: MockUri) => u,
    postMessage: async (m: unknown) => { this.posted.push(m); return true; },
    onDidReceiveMessage: (fn: (m: unknown) => void) => { this.receive = fn; return { dispose: () => undefined }; },
  };
  reveal(): void {}
  onDidDispose(fn: () => void) { this.disposed = fn; return { dispose: () => undefined }; }
  dispose(): void { this.disposed?.(); }
  /** What the webview would send with acquireVsCodeApi().postMessage. */
  fromWebview(m: unknown): void { this.receive?.(m); }
}
export const createdPanels: FakeWebviewPanel[] = [];
/** Webview panel serializers by view type, as registerWebviewPanelSerializer left them. */
export const panelSerializers = new Map<string, { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> }>();

/**
 * What the user does when the extension asks: a test sets these (quick pick → the item to pick,
 * input box → the text to type, undefined = Escape) and reads `shown` for every message.
 */
export const user = {
  pick: (items: readonly { label: string }[]): unknown => items[0],
  type: (_o: { title?: string; validateInput?: (v: string) => string | undefined }): string | undefined => undefined,
  shown: [] as { level: 'info' | 'warning' | 'error'; text: string }[],
  asked: [] as string[],
  cancelProgress: false,
  /** A message with buttons (a modal question): the button to press, undefined = Escape/Cancel. */
  button: (_text: string, _buttons: readonly string[]): string | undefined => undefined,
  /** Every quick pick shown: its title, placeholder and items in the order offered. */
  picks: [] as { title?: string; placeHolder?: string; items: readonly { label: string; description?: string }[] }[],
  /** The save dialog: gets its options, returns the path chosen (undefined = Escape). */
  save: (_o: { title?: string; defaultUri?: MockUri }): string | undefined => undefined,
};
const message = (level: 'info' | 'warning' | 'error') => async (text: string, ...rest: unknown[]): Promise<string | undefined> => {
  user.shown.push({ level, text });
  const buttons = rest.filter((x): x is string => typeof x === 'string');
  return buttons.length ? user.button(text, buttons) : undefined;
};
/** The lines written to each output channel the code under test created, by name. */
export const outputChannels: Record<string, string[]> = {};
export const ProgressLocation = { Notification: 15, Window: 10 } as const;
export const window = {
  createWebviewPanel: () => {
    const p = new FakeWebviewPanel();
    createdPanels.push(p);
    return p;
  },
  registerWebviewPanelSerializer: (viewType: string, s: { deserializeWebviewPanel(panel: unknown, state: unknown): Promise<void> }) => {
    panelSerializers.set(viewType, s);
    return { dispose: () => panelSerializers.delete(viewType) };
  },
  showQuickPick: async (items: readonly { label: string }[], o?: { title?: string; placeHolder?: string }) => {
    user.asked.push(`pick: ${o?.title ?? ''}`);
    user.picks.push({ ...(o?.title !== undefined ? { title: o.title } : {}), ...(o?.placeHolder !== undefined ? { placeHolder: o.placeHolder } : {}), items });
    return user.pick(items);
  },
  showSaveDialog: async (o: { title?: string; defaultUri?: MockUri }) => { user.asked.push(`save: ${o.title ?? ''}`); const f = user.save(o); return f === undefined ? undefined : uri(f); },
  showInputBox: async (o: { title?: string; validateInput?: (v: string) => string | undefined }) => { user.asked.push(`type: ${o.title ?? ''}`); return user.type(o); },
  createOutputChannel: (name: string) => {
    const lines: string[] = (outputChannels[name] ??= []);
    return { name, appendLine: (l: string) => lines.push(l), append: (l: string) => lines.push(l), show: () => undefined, clear: () => (lines.length = 0), dispose: () => undefined };
  },
  showInformationMessage: message('info'),
  showWarningMessage: message('warning'),
  showErrorMessage: message('error'),
  withProgress: async <T>(_o: unknown, fn: (p: { report(v: unknown): void }, t: { onCancellationRequested(f: () => void): void }) => Promise<T>): Promise<T> =>
    fn({ report: () => undefined }, { onCancellationRequested: (f) => { if (user.cancelProgress) f(); } }),
};

/** Settings a test sets; `pycom.*` keys without the prefix. */
export const settings: Record<string, unknown> = {};
/** Values only the workspace's settings file holds (they win over `settings`, which act as the user's). */
export const workspaceSettings: Record<string, unknown> = {};
export const workspace = {
  isTrusted: true,
  workspaceFolders: undefined as { uri: MockUri }[] | undefined,
  getConfiguration: () => ({
    get: <T>(k: string, fallback: T): T => (k in workspaceSettings ? workspaceSettings[k] as T : k in settings ? settings[k] as T : fallback),
    inspect: <T>(k: string) => ({ globalValue: settings[k] as T | undefined, workspaceValue: workspaceSettings[k] as T | undefined, defaultValue: undefined }),
  }),
};
export const commands = { executeCommand: async () => undefined };
export const ConfigurationTarget = { Global: 1, Workspace: 2 } as const;

/** A LogOutputChannel that keeps its lines. */
export function fakeLog(): { lines: string[]; info(l: string): void; warn(l: string): void; error(l: string): void; trace(l: string): void; debug(l: string): void } {
  const lines: string[] = [];
  return { lines, info: (l) => lines.push(`info ${l}`), warn: (l) => lines.push(`warn ${l}`), error: (l) => lines.push(`error ${l}`), trace: () => undefined, debug: () => undefined };
}

const mock = { EventEmitter, ThemeIcon, ThemeColor, TreeItemCollapsibleState, TreeItem, Uri, ViewColumn, window, workspace, commands, ConfigurationTarget, ProgressLocation };
const MOCK_ID = '\0vscode-mock';
type Resolve = (request: string, ...rest: unknown[]) => string;
const M = Module as unknown as { _resolveFilename: Resolve; _cache: Record<string, unknown> };
const original = M._resolveFilename;
M._resolveFilename = function (request: string, ...rest: unknown[]): string {
  return request === 'vscode' ? MOCK_ID : original.call(this, request, ...rest);
};
M._cache[MOCK_ID] = { id: MOCK_ID, filename: MOCK_ID, loaded: true, exports: mock } as unknown;
