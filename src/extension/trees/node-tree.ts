import * as vscode from 'vscode';

/** A view-independent description of a tree row; each view builds these from core data. */
export interface UiNode {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon?: string;
  /** Theme colour id for the icon (e.g. a warning). */
  color?: string;
  contextValue?: string;
  command?: { command: string; title: string; arguments?: unknown[] };
  children?: UiNode[];
  /** Start collapsed (long or secondary groups); parents are expanded otherwise. */
  collapsed?: boolean;
  /** Open file for "reveal" actions. */
  resourcePath?: string;
}

/**
 * A TreeDataProvider over UiNode trees. Views return [] when they have nothing to show so the
 * contributed welcome content appears instead.
 */
export class NodeTreeProvider implements vscode.TreeDataProvider<UiNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<UiNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly build: () => UiNode[]) {}

  refresh(): void {
    this.changed.fire(undefined);
  }

  getTreeItem(n: UiNode): vscode.TreeItem {
    const state = !n.children?.length ? vscode.TreeItemCollapsibleState.None : n.collapsed ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.Expanded;
    const item = new vscode.TreeItem(n.label, state);
    item.id = n.id;
    if (n.description !== undefined) item.description = n.description;
    // A sidebar cuts long descriptions off: without a tooltip of its own, a row's tooltip is its whole text.
    const tooltip = n.tooltip ?? (n.description ? `${n.label}: ${n.description}` : undefined);
    if (tooltip !== undefined) item.tooltip = tooltip;
    if (n.icon) item.iconPath = new vscode.ThemeIcon(n.icon, n.color ? new vscode.ThemeColor(n.color) : undefined);
    if (n.contextValue) item.contextValue = n.contextValue;
    if (n.command) item.command = n.command;
    if (n.resourcePath) item.resourceUri = vscode.Uri.file(n.resourcePath);
    return item;
  }

  getChildren(n?: UiNode): UiNode[] {
    return n ? (n.children ?? []) : this.build();
  }

  dispose(): void {
    this.changed.dispose();
  }
}
