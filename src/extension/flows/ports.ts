import * as vscode from 'vscode';
import { describePort, isSocketUrl, listPorts, UserError, type BoardSession, type ChipInfo } from '../../core';
import { chipView, withDevice } from '../device';
import { readSettings } from '../settings';
import type { ChipView, SelectedPort, PortRow } from '../state';
import type { FlowContext } from './context';

/* Ports and boards: listing, picking (virtual boards first) and selecting. */

/** "GPy (virtual)", "Virtual board", "Pysense", or the port itself: virtual boards always say so. */
export function boardTitle(p: { path: string; virtual: boolean; board?: string }): string {
  if (!p.board) return p.virtual ? `Virtual board ${p.path}` : p.path;
  return p.virtual && !/virtual/i.test(p.board) ? `${p.board} (virtual)` : p.board;
}

export async function refreshPorts(ctx: FlowContext): Promise<PortRow[]> {
  const listing = await listPorts();
  if (listing.warning) ctx.log.warn(listing.warning);
  const rows: PortRow[] = [];
  const configured = readSettings().port;
  // A virtual board started outside the editor (npm start's `pycom-secure sim serve`) is only known by its URL.
  if (isSocketUrl(configured) && !ctx.virtuals.find(configured)) rows.push({ path: configured, virtual: true, board: 'Virtual board', detail: 'socket:// (pycom-secure sim serve)' });
  for (const v of ctx.virtuals.list()) rows.push({ path: v.url, virtual: true, board: `${v.title}`, detail: 'started by this window' });
  for (const p of listing.ports) rows.push({ path: p.path, virtual: false, ...(p.board ? { board: p.board.name } : {}), ...(p.board?.pycom ? { pycom: true } : {}), detail: describePort(p) });
  ctx.state.update({ ports: rows });
  return rows;
}

export function select(ctx: FlowContext, row: PortRow): SelectedPort {
  const port = asPort(row);
  ctx.state.update({ port });
  return port;
}

/**
 * Asks which board to use. Virtual boards come first (and one can be started from here), so a
 * first Burn Keys is rehearsed where nothing can be bricked.
 *
 * Selecting a port is the user's act: with `selects` (Pycom: Select Port) the pick becomes the
 * selected port. A command's own pick (`selects` false) never replaces a selected port: what it
 * picks is used for that command only; only when no port is selected yet does a board picked
 * from the list (or typed) become the selected one. A virtual board started from a command's
 * pick is never selected (it is used for that command; Select Port can select it later).
 * Escape returns undefined and changes nothing.
 */
export async function pickBoard(ctx: FlowContext, title: string, preferVirtual: boolean, selects = false): Promise<SelectedPort | undefined> {
  const rows = await refreshPorts(ctx);
  type Item = vscode.QuickPickItem & { row?: PortRow; start?: boolean; manual?: boolean };
  const current = ctx.state.port;
  const ordered = [...rows].sort((a, b) => {
    const rank = (r: PortRow) => (r.path === current?.path ? 0 : 1) + (preferVirtual && !r.virtual ? 2 : 0);
    return rank(a) - rank(b);
  });
  const items: Item[] = ordered.map((r) => ({
    label: `${r.virtual ? '$(beaker)' : '$(plug)'} ${boardTitle(r)}`,
    description: r.path === current?.path ? `${r.path} · selected` : r.path,
    detail: r.virtual ? 'Virtual board: nothing real is burned or flashed' : r.detail,
    row: r,
  }));
  items.push({ label: `$(add) Start a virtual ${readSettings().virtualBoardProfile}`, detail: selects ? 'In this window; gone when it closes' : 'In this window, for this command only (the selected port stays); gone when the window closes', start: true });
  items.push({ label: '$(edit) Enter a port or socket:// URL…', manual: true });
  const pick = await vscode.window.showQuickPick(items, { title, placeHolder: 'Virtual boards first: rehearse before touching a real board', ignoreFocusOut: true });
  if (!pick) return undefined;
  const use = (row: PortRow): SelectedPort => (selects || !ctx.state.port ? select(ctx, row) : asPort(row));
  if (pick.row) return use(pick.row);
  if (pick.start) {
    const b = await ctx.virtuals.start(readSettings().virtualBoardProfile);
    ctx.log.info(`started a virtual ${b.title} on ${b.url}${selects ? '' : ' for this command (the selected port is unchanged)'}`);
    await refreshPorts(ctx);
    const row = { path: b.url, virtual: true, board: b.title };
    return selects ? select(ctx, row) : asPort(row);
  }
  const typed = await vscode.window.showInputBox({ title: 'Port', prompt: 'A serial device (/dev/ttyACM0, COM3) or a virtual board (socket://127.0.0.1:PORT)', value: readSettings().port, ignoreFocusOut: true });
  if (!typed) return undefined;
  const virtual = isSocketUrl(typed);
  return use({ path: typed.trim(), virtual, ...(virtual ? { board: 'Virtual board' } : {}) });
}

function asPort(row: PortRow): SelectedPort {
  return { path: row.path, virtual: row.virtual, ...(row.board ? { board: row.board } : {}) };
}

/**
 * The Device view's patch for a chip read on `p`: `{ chip }` when `p` is the selected port, else
 * nothing (the Device view shows the selected port; a board used for one command only must not
 * appear under it).
 */
export function chipPatch(ctx: FlowContext, p: SelectedPort, info: ChipInfo): { chip?: ChipView } {
  return ctx.state.port?.path === p.path ? { chip: chipView(info, p.virtual) } : {};
}

export async function selectPort(ctx: FlowContext): Promise<void> {
  const port = await pickBoard(ctx, 'Pycom: Select Port', false, true);
  if (!port) return;
  // Only trusted workspaces may store the port: an untrusted one must not choose which board gets flashed.
  const target = vscode.workspace.isTrusted && vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
  await vscode.workspace.getConfiguration('pycom').update('port', port.path, target);
  ctx.log.info(`selected port ${port.path}${port.virtual ? ' (virtual board)' : ''}`);
}

export async function boardForCommand(ctx: FlowContext, title: string): Promise<SelectedPort | undefined> {
  return ctx.state.port ?? (await pickBoard(ctx, title, true));
}

/**
 * A job that only reads one board (Check Board's Flash, Verify Board's Flash): refused with
 * E_BUSY while a flash runs (`busyThen` ends the sentence: "then check the board's flash"), run on
 * `port` or else the board picked as Flash Secure Firmware picks it, opened in download mode under
 * a progress notification titled `${doing} ${boardTitle}`, the chip facts it reports kept in the
 * state. Resolves with the job's value and the board, or undefined when no board was chosen (said
 * in a notification; nothing read).
 */
export async function withChosenBoard<T>(
  ctx: FlowContext,
  port: SelectedPort | undefined,
  o: { command: string; busyThen: string; doing: string },
  job: (board: BoardSession) => Promise<T>,
): Promise<{ value: T; port: SelectedPort } | undefined> {
  if (ctx.flashAbort) throw new UserError('E_BUSY', `A flash is running; wait for it or cancel it in the Flash Progress tab, then ${o.busyThen}.`);
  const p = port ?? (await boardForCommand(ctx, o.command));
  if (!p) {
    void vscode.window.showInformationMessage(`${o.command}: no board was chosen, so nothing was read; select one with "Pycom: Select Port", then run the command again.`);
    return undefined;
  }
  const value = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `${o.doing} ${boardTitle(p)}`, cancellable: false }, () =>
    withDevice(p.path, readSettings(), (l) => ctx.log.info(l), async (d) => {
      const patch = chipPatch(ctx, p, d.info);
      if (patch.chip) ctx.state.update(patch);
      return job({ transport: d.transport, conn: d.conn, chip: d.info });
    }));
  return { value, port: p };
}
