import { FLASH_STATE_TEXT, overallPercent, type FlashProgressView } from './protocol';
import { el, clear } from './dom';

function hex(n: number): string {
  return `0x${n.toString(16).padStart(5, '0')}`;
}

function bar(label: string, value: number, max: number, id?: string): HTMLElement {
  const pct = max > 0 ? Math.floor((Math.min(value, max) * 100) / max) : 0;
  const progress = el('vscode-progress-bar', { 'aria-label': label, max: String(max || 1), value: String(Math.min(value, max)) });
  return el('div', { class: 'bar', ...(id ? { 'data-testid': id } : {}) }, el('span', { class: 'bar-label' }, label), progress, el('span', { class: 'bar-pct' }, `${pct}%`));
}

function formatEta(s: number | undefined): string {
  if (s === undefined) return '—';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m} min ${Math.round(s % 60)} s` : `${Math.round(s)} s`;
}

/** Renders the flash tab: overall bar, one bar per region, throughput, ETA, log, cancel. */
export function renderFlash(root: Element, p: FlashProgressView | undefined, onCancel: () => void): void {
  clear(root);
  if (!p) {
    root.append(el('p', { class: 'muted' }, 'No flash in progress. Use the status-bar button or "Pycom: Flash Secure Firmware".'));
    return;
  }
  const total = p.regions.reduce((n, r) => n + r.size, 0);
  const pct = overallPercent(p);
  const when = p.startedAt ? ` started ${p.startedAt.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC')}` : '';
  // Saved before a window reload: the last run, not what is happening now.
  if (p.restored) root.append(el('p', { class: 'muted', 'data-testid': 'flash-past' }, `Past run${when}, from before the window was reloaded: not running now. Flash again to see a new run here.`));
  root.append(el('p', { 'data-testid': 'flash-state' }, `${p.board}: ${FLASH_STATE_TEXT[p.state] ?? p.state}${p.restored ? '' : when}`));
  root.append(bar(`Overall (${pct}%)`, pct, 100, 'flash-overall'));
  for (const r of p.regions) root.append(bar(`${r.name} @ ${hex(r.address)}`, r.written, r.size));
  const kbps = p.bytesPerSecond !== undefined ? `${(p.bytesPerSecond / 1024).toFixed(1)} KiB/s` : '—';
  // A time left only while writing: a run that stopped has none.
  const eta = p.state === 'running' ? ` · ETA: ${p.etaEstimated && p.etaSeconds !== undefined ? 'about ' : ''}${formatEta(p.etaSeconds)}` : '';
  root.append(el('p', { 'data-testid': 'flash-rate' }, `Throughput: ${kbps}${eta} · ${total} bytes`));
  if (p.state === 'running' && !p.restored) {
    const cancel = el('vscode-button', { secondary: '' }, 'Cancel');
    cancel.addEventListener('click', onCancel);
    root.append(cancel);
  }
  if (p.result) root.append(el('p', { class: p.result.ok ? 'ok' : 'failed', 'data-testid': 'flash-result', role: 'status' }, p.result.text));
  root.append(el('pre', { class: 'log', 'aria-label': 'flash log' }, p.log.join('\n')));
}
