/** "Add Host…": a few input boxes, written to the `containerd.hosts` user setting (never a secret). */
import * as vscode from 'vscode';
import { parseHostSpec, type SettingsHost } from '../core/hosts/inventory';

export async function addHostToSettings(): Promise<void> {
  const spec = await vscode.window.showInputBox({
    title: vscode.l10n.t('Add Host (1/3)'),
    prompt: vscode.l10n.t('user@host[:port]'),
    placeHolder: 'root@10.0.0.5',
    ignoreFocusOut: true,
    validateInput: (v) => (parseHostSpec(v) ? undefined : vscode.l10n.t('Expected user@host or user@host:port')),
  });
  if (!spec) return;
  const parsed = parseHostSpec(spec);
  if (!parsed) return;
  const name = await vscode.window.showInputBox({ title: vscode.l10n.t('Add Host (2/3)'), prompt: vscode.l10n.t('Name shown in the Hosts view'), value: parsed.host, ignoreFocusOut: true });
  if (name === undefined) return;
  const group = await vscode.window.showInputBox({ title: vscode.l10n.t('Add Host (3/3)'), prompt: vscode.l10n.t('Group / infra (optional)'), ignoreFocusOut: true });
  if (group === undefined) return;
  const sudo = parsed.user === 'root' ? 'none' : (await vscode.window.showQuickPick(
    [
      { label: 'nopasswd', description: vscode.l10n.t('passwordless sudo (sudo -n)') },
      { label: 'password', description: vscode.l10n.t('sudo asks for a password (kept in SecretStorage)') },
      { label: 'none', description: vscode.l10n.t('no sudo: the user can manage containerd itself') },
    ],
    { title: vscode.l10n.t('How does {0} become root?', parsed.user ?? 'the user') },
  ))?.label;
  if (!sudo) return;
  const entry: SettingsHost = { name: name || parsed.host, host: parsed.host, user: parsed.user, sudo: sudo as SettingsHost['sudo'] };
  if (parsed.port && parsed.port !== 22) entry.port = parsed.port;
  if (group) entry.group = group;
  const cfg = vscode.workspace.getConfiguration('containerd');
  const hosts = [...cfg.get<SettingsHost[]>('hosts', []), entry];
  await cfg.update('hosts', hosts, vscode.ConfigurationTarget.Global);
}
