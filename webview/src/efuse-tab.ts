import type { EfuseSnapshot, EfuseFieldView } from './protocol';
import { el, clear } from './dom';
import { planLayout, planPoints } from './plan-view';

function protection(f: EfuseFieldView): string {
  const p = [f.readProtected ? 'read-protected' : '', f.writeProtected ? 'write-protected' : ''].filter(Boolean);
  const state = f.readProtected === undefined && f.writeProtected === undefined ? '' : p.length ? p.join(', ') : 'open';
  return [state, f.protectionBits ? `(${f.protectionBits})` : ''].filter(Boolean).join(' ') || '—';
}

function row(cells: (string | Node)[], cls = ''): HTMLElement {
  const r = el('vscode-table-row', cls ? { class: cls } : {});
  for (const c of cells) r.append(el('vscode-table-cell', {}, c));
  return r;
}

function table(columns: string[], rows: HTMLElement[], label: string): HTMLElement {
  const header = el('vscode-table-header', { slot: 'header' });
  for (const c of columns) header.append(el('vscode-table-header-cell', {}, c));
  const body = el('vscode-table-body', { slot: 'body' }, ...rows);
  return el('vscode-table', { 'zebra': '', 'bordered-columns': '', 'resizable': '', 'aria-label': label }, header, body);
}

function fieldName(f: EfuseFieldView): HTMLElement {
  return el('span', { title: f.description }, f.name);
}

/** The category tables: one per category, each field's value, raw bits, position and protection. */
function categoryTables(root: Element, groups: [string, EfuseFieldView[]][]): void {
  for (const [cat, fields] of groups) {
    const rows = fields.map((f) => row([fieldName(f), f.value, f.raw, `${f.block}:${f.bit}+${f.len}`, protection(f)]));
    root.append(el('h3', { class: 'category' }, cat), table(['Field', 'Value', 'Raw bits', 'Block:bit', 'Protection'], rows, `${cat} eFuses`));
  }
}

/**
 * Renders the inspector: fields grouped by category, then the raw hex of every block. With a
 * burn plan, what the burn changes comes first (before/after, above the fold), then what cannot
 * be undone (each step with its protections nested under it), then the fields it leaves alone.
 */
export function renderEfuses(root: Element, s: EfuseSnapshot | undefined): void {
  clear(root);
  if (!s) {
    root.append(el('p', { class: 'muted' }, 'No eFuse data yet. Run "Pycom: Read eFuses".'));
    return;
  }
  const plan = s.plan;
  root.append(el('p', { class: 'source', 'data-testid': 'efuse-source' }, `Source: ${s.source}`));
  if (!s.hasValues) root.append(el('p', { class: 'muted' }, 'No board has been read yet: the table lists every field with its position and protection bits, without values.'));
  if (!plan) {
    categoryTables(root, [...new Set(s.fields.map((f) => f.category))].sort().map((c): [string, EfuseFieldView[]] => [c, s.fields.filter((f) => f.category === c)]));
    root.append(el('h3', {}, 'Raw blocks'));
    root.append(table(['Block', 'Hex'], s.blocks.map((b) => row([`BLOCK${b.block}`, el('code', {}, b.hex)])), 'raw eFuse blocks'));
    return;
  }
  const layout = planLayout(s);
  const changedRows = layout.changed.map((f) => row([fieldName(f), f.value, f.after ?? f.value, `${f.block}:${f.bit}+${f.len}`], 'changed'));
  const points = el('ol', { class: 'irreversible' }, ...planPoints(plan.irreversible).map((p) =>
    el('li', {}, p.text, p.sub.length ? el('ul', {}, ...p.sub.map((t) => el('li', {}, t))) : undefined)));
  root.append(el('div', { class: 'plan', role: 'alert', 'data-testid': 'burn-plan' },
    el('h3', {}, plan.title),
    el('p', {}, 'To burn, type the MAC of this board when VS Code asks: ', el('code', { 'data-testid': 'plan-mac' }, plan.mac)),
    el('div', { 'data-testid': 'plan-changes' }, table(['Field', 'Now', 'After burn', 'Block:bit'], changedRows, 'eFuses this burn changes')),
    el('p', {}, 'These changes cannot be undone:'),
    points,
    el('details', {}, el('summary', {}, 'Exact register bits'), el('pre', { class: 'log' }, plan.details))));
  if (layout.unchanged.length) root.append(el('h3', { class: 'muted' }, 'Unchanged by this burn'));
  categoryTables(root, layout.unchanged);
  root.append(el('h3', {}, 'Raw blocks'));
  const blockRows = layout.blocks.map((b) => row([`BLOCK${b.block}`, el('code', {}, b.hex), el('code', {}, b.afterHex ?? b.hex)], b.afterHex !== undefined && b.afterHex !== b.hex ? 'changed' : ''));
  root.append(table(['Block', 'Hex', 'After burn'], blockRows, 'raw eFuse blocks'));
}
