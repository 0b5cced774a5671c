import { productionPercent, type ProductionRowView, type ProductionView, type RecordFormat } from './protocol';
import { el, clear } from './dom';

/** What the Production tab's buttons do (the host validates the messages they post). */
export interface ProductionActions {
  stop(): void;
  exportRecords(format: RecordFormat): void;
}

function progress(label: string, fraction: number, id?: string): HTMLElement {
  const pct = Math.floor(Math.max(0, Math.min(1, fraction)) * 100);
  return el('span', { class: 'row-bar', ...(id ? { 'data-testid': id } : {}) },
    el('vscode-progress-bar', { 'aria-label': label, max: '100', value: String(pct) }), el('span', { class: 'bar-pct' }, `${pct}%`));
}

function cell(content: string | Node, attrs: Record<string, string> = {}): HTMLElement {
  return el('vscode-table-cell', attrs, content);
}

function boardRow(r: ProductionRowView): HTMLElement {
  const cls = r.outcome === 'finished' ? 'ok' : r.outcome === 'failed' ? 'failed' : r.outcome === 'untouched' ? 'muted' : '';
  return el('vscode-table-row', { 'data-testid': 'production-row', 'data-port': r.port },
    // The host's board title already says "(virtual)" for a virtual board.
    cell(r.board, { title: r.port }),
    cell(el('code', {}, r.mac ?? '—'), { 'data-testid': 'production-mac' }),
    cell(el('span', cls ? { class: cls } : {}, r.state), { 'data-testid': 'production-state' }),
    cell(progress(`${r.mac ?? r.port} progress`, r.outcome === 'finished' ? 1 : r.progress)),
    cell(r.message, { 'data-testid': 'production-result', class: 'wrap' }));
}

/**
 * Renders the Production tab: what the run uses, the overall bar, Stop while it runs, a row per
 * board (board, MAC, state, progress bar, result), and the records export.
 */
export function renderProduction(root: Element, v: ProductionView | undefined, on: ProductionActions): void {
  clear(root);
  if (!v) {
    root.append(el('p', { class: 'muted' }, 'No provisioning run yet. Run "Pycom: Provision Boards" to provision several boards at once.'));
    return;
  }
  root.append(el('p', { class: 'muted', 'data-testid': 'production-setup' }, v.setup));
  const pct = productionPercent(v);
  const done = v.rows.filter((r) => r.outcome).length;
  root.append(el('div', { class: 'bar', 'data-testid': 'production-overall' },
    el('span', { class: 'bar-label' }, `Overall: ${done} of ${v.rows.length} board(s) done (${v.phase})`),
    el('vscode-progress-bar', { 'aria-label': 'overall provisioning progress', max: '100', value: String(pct) }),
    el('span', { class: 'bar-pct' }, `${pct}%`)));
  const buttons = el('div', { class: 'buttons' });
  if (v.phase === 'running') {
    const stop = el('vscode-button', { secondary: '', 'data-testid': 'production-stop' }, 'Stop');
    stop.addEventListener('click', () => on.stop());
    buttons.append(stop);
  }
  for (const f of ['json', 'csv'] as const) {
    const b = el('vscode-button', { secondary: '', 'data-testid': `production-export-${f}`, title: 'Every board record of the key store, through a save dialog' }, `Export records (${f.toUpperCase()})`);
    b.addEventListener('click', () => on.exportRecords(f));
    buttons.append(b);
  }
  root.append(buttons);
  if (v.result) root.append(el('p', { class: v.result.ok ? 'ok' : 'failed', 'data-testid': 'production-summary', role: 'status' }, v.result.text));
  const header = el('vscode-table-header', { slot: 'header' });
  for (const c of ['Board', 'MAC', 'State', 'Progress', 'Result']) header.append(el('vscode-table-header-cell', {}, c));
  root.append(el('vscode-table', { 'zebra': '', 'bordered-columns': '', 'resizable': '', 'columns': JSON.stringify(['14%', '17%', '10%', '16%', '43%']), 'aria-label': 'boards of this run', 'data-testid': 'production-table' },
    header, el('vscode-table-body', { slot: 'body' }, ...v.rows.map(boardRow))));
}
