import type { EfuseSnapshot, EfuseFieldView } from './protocol';
import { el, clear } from './dom';

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

/** Renders the inspector: fields grouped by category, then the raw hex of every block. */
export function renderEfuses(root: Element, s: EfuseSnapshot | undefined): void {
  clear(root);
  if (!s) {
    root.append(el('p', { class: 'muted' }, 'No eFuse data yet. Run "Pycom: Read eFuses".'));
    return;
  }
  const plan = s.plan;
  root.append(el('p', { class: 'source', 'data-testid': 'efuse-source' }, `Source: ${s.source}`));
  if (!s.hasValues) root.append(el('p', { class: 'muted' }, 'No board has been read yet: the table lists every field with its position and protection bits, without values.'));
  if (plan) {
    const list = el('ul', { class: 'irreversible' }, ...plan.irreversible.map((t) => el('li', {}, t)));
    root.append(el('div', { class: 'plan', role: 'alert', 'data-testid': 'burn-plan' },
      el('h3', {}, plan.title),
      el('p', {}, 'These changes cannot be undone:'),
      list,
      el('p', {}, 'To burn, type the MAC of this board when VS Code asks: ', el('code', { 'data-testid': 'plan-mac' }, plan.mac)),
      el('details', {}, el('summary', {}, 'Exact register bits'), el('pre', { class: 'log' }, plan.details))));
  }
  const categories = [...new Set(s.fields.map((f) => f.category))].sort();
  const columns = ['Field', 'Value', ...(plan ? ['After burn'] : []), 'Raw bits', 'Block:bit', 'Protection'];
  for (const cat of categories) {
    const rows = s.fields.filter((f) => f.category === cat).map((f) => {
      const changed = plan && f.after !== undefined && f.after !== f.value;
      const name = el('span', { title: f.description }, f.name);
      return row([name, f.value, ...(plan ? [f.after ?? f.value] : []), f.raw, `${f.block}:${f.bit}+${f.len}`, protection(f)], changed ? 'changed' : '');
    });
    root.append(el('h3', { class: 'category' }, cat), table(columns, rows, `${cat} eFuses`));
  }
  root.append(el('h3', {}, 'Raw blocks'));
  const blockRows = s.blocks.map((b) => row([`BLOCK${b.block}`, el('code', {}, b.hex), ...(plan ? [el('code', {}, b.afterHex ?? b.hex)] : [])]));
  root.append(table(['Block', 'Hex', ...(plan ? ['After burn'] : [])], blockRows, 'raw eFuse blocks'));
}
