/**
 * Just enough of the DOM for the webview's el()/clear() and button handlers: elements,
 * attributes, text, click listeners. The webview renderers are typed against the browser's DOM,
 * which the root project (Node) does not load; tests require them untyped and run them on this.
 */
export class FakeNode {
  readonly children: FakeNode[] = [];
  readonly attrs = new Map<string, string>();
  private readonly listeners = new Map<string, (() => void)[]>();
  constructor(readonly tag: string, readonly text = '') {}
  setAttribute(k: string, v: string): void { this.attrs.set(k, v); }
  append(...n: FakeNode[]): void { this.children.push(...n); }
  get firstChild(): FakeNode | undefined { return this.children[0]; }
  removeChild(n: FakeNode): void { this.children.splice(this.children.indexOf(n), 1); }
  get textContent(): string { return this.text + this.children.map((c) => c.textContent).join(''); }
  addEventListener(type: string, fn: () => void): void { this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]); }
  /** What a user's click does: the element's click listeners. */
  click(): void { for (const fn of this.listeners.get('click') ?? []) fn(); }
  /** Every descendant with this tag, in document order. */
  all(tag: string): FakeNode[] { return this.children.flatMap((c) => [...(c.tag === tag ? [c] : []), ...c.all(tag)]); }
  byTestId(id: string): FakeNode | undefined { return this.children.map((c) => (c.attrs.get('data-testid') === id ? c : c.byTestId(id))).find(Boolean); }
  /** Every descendant with this data-testid, in document order. */
  allByTestId(id: string): FakeNode[] { return this.children.flatMap((c) => [...(c.attrs.get('data-testid') === id ? [c] : []), ...c.allByTestId(id)]); }
}

/** Installs a `document` that makes FakeNodes for the suite it is called in (mocha hooks). */
export function fakeDocument(): void {
  const g = globalThis as { document?: unknown };
  before(() => { g.document = { createElement: (t: string) => new FakeNode(t), createTextNode: (t: string) => new FakeNode('#text', t) }; });
  after(() => { delete g.document; });
}
