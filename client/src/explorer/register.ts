/**
 * Wires the container explorer into the Hosts view: sessions and refresher (./explorer), the
 * commands (./explorerCommands), and the view's expand / collapse / visibility events that decide
 * which hosts are watched.
 */
import * as vscode from 'vscode';
import type { SshPool } from '../core/ssh/types';
import type { HostsView, Node } from '../hosts/hostsView';
import { ContainerExplorer } from './explorer';
import { ExplorerCommands } from './explorerCommands';

/** What the extension's `activate` returns (`vscode.extensions.getExtension(id).exports`): the Hosts tree for scripts and tests. */
export interface ExplorerApi {
  /** the Hosts view's TreeDataProvider (hosts, their service, backups, namespaces, pods, containers, images) */
  hostsView: HostsView;
  explorer: ContainerExplorer;
}

export function registerExplorer(context: vscode.ExtensionContext, view: HostsView, tree: vscode.TreeView<Node>, pool: () => SshPool): ContainerExplorer {
  const log = vscode.window.createOutputChannel('containerd Explorer', { log: true });
  const explorer = new ContainerExplorer(context, pool, log);
  context.subscriptions.push(
    log,
    explorer,
    view.attachExplorer(explorer),
    tree.onDidExpandElement(({ element }) => {
      if (element.kind === 'host') explorer.setExpanded(element.host, true);
      else if (element.kind === 'group') explorer.setGroupCollapsed(element.hosts, false);
    }),
    tree.onDidCollapseElement(({ element }) => {
      if (element.kind === 'host') explorer.setExpanded(element.host, false);
      else if (element.kind === 'group') explorer.setGroupCollapsed(element.hosts, true);
    }),
  );
  explorer.attach(tree as vscode.TreeView<unknown>);
  new ExplorerCommands(context, view, explorer, pool, log).register();
  return explorer;
}
