/** TreeItems for the container explorer's nodes (built as plain data by ./model). */
import * as vscode from 'vscode';
import type { HostConfig } from '../core/ssh/types';
import { hostKey } from '../core/hosts/inventory';
import type { Icon, InfoRow, NodeSpec } from './model';

export const themeIcon = (i: Icon): vscode.ThemeIcon => new vscode.ThemeIcon(i.id, i.color ? new vscode.ThemeColor(i.color) : undefined);

const collapsible = (c: NodeSpec['collapsible']): vscode.TreeItemCollapsibleState =>
  c === 'expanded' ? vscode.TreeItemCollapsibleState.Expanded : c === 'collapsed' ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None;

/** Tree item ids: unique in the whole view and stable across reloads (expansion survives refreshes). */
export const explorerItemId = (host: HostConfig, id: string): string => `x:${hostKey(host)}/${id}`;

export function specItem(host: HostConfig, spec: NodeSpec): vscode.TreeItem {
  const label: vscode.TreeItemLabel = { label: spec.label, highlights: spec.highlights };
  const item = new vscode.TreeItem(label, collapsible(spec.collapsible));
  item.id = explorerItemId(host, spec.id);
  item.description = spec.description;
  if (spec.tooltip) item.tooltip = new vscode.MarkdownString(spec.tooltip);
  item.iconPath = themeIcon(spec.icon);
  item.contextValue = spec.contextValue;
  if (spec.kind === 'container' || spec.kind === 'pod' || spec.kind === 'image') {
    item.accessibilityInformation = { label: `${spec.kind} ${spec.label}, ${spec.description ?? ''}` };
  }
  return item;
}

export function infoItem(host: HostConfig, row: InfoRow): vscode.TreeItem {
  const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
  item.id = explorerItemId(host, `service/${row.id}`);
  item.description = row.description;
  item.tooltip = row.tooltip;
  item.iconPath = themeIcon(row.icon);
  item.contextValue = 'serviceInfo';
  return item;
}
