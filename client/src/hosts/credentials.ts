/** Secrets for SSH live only in VS Code's SecretStorage; prompts happen in the editor. */
import * as vscode from 'vscode';
import type { Credentials, HostConfig, HostKeyPrompt } from '../core/ssh/types';
import { hostKey } from '../core/hosts/inventory';

type Kind = 'passphrase' | 'password' | 'sudo';

export class VsCodeCredentials implements Credentials {
  constructor(private readonly secrets: vscode.SecretStorage, private readonly log: vscode.LogOutputChannel) {}

  private key(host: HostConfig, kind: Kind, extra = ''): string {
    return `containerd.ssh/${kind}/${hostKey(host)}${extra ? '/' + extra : ''}`;
  }

  private async ask(host: HostConfig, kind: Kind, prompt: string, extra = ''): Promise<string | undefined> {
    const k = this.key(host, kind, extra);
    const stored = await this.secrets.get(k);
    if (stored !== undefined) return stored;
    const value = await vscode.window.showInputBox({ prompt, password: true, ignoreFocusOut: true });
    if (value === undefined) return undefined;
    await this.secrets.store(k, value);
    this.log.info(`stored a ${kind} for ${host.name} in SecretStorage`); // never the value
    return value;
  }

  async confirmHostKey(p: HostKeyPrompt): Promise<boolean> {
    const trust = vscode.l10n.t('Trust and Connect');
    const pick = await vscode.window.showWarningMessage(
      vscode.l10n.t('The authenticity of host {0} can\'t be established.', p.port === 22 ? p.host : `[${p.host}]:${p.port}`),
      { modal: true, detail: vscode.l10n.t('{0} key fingerprint is {1}. Compare it with the host\'s (ssh-keygen -lf /etc/ssh/ssh_host_{2}_key.pub) before trusting it. It will be added to known_hosts.', p.keyType, p.fingerprint, p.keyType.replace(/^ssh-|^ecdsa-sha2-nistp\d+$/, (m) => (m.startsWith('ecdsa') ? 'ecdsa' : ''))) },
      trust,
    );
    return pick === trust;
  }

  passphrase(host: HostConfig, keyFile: string): Promise<string | undefined> {
    return this.ask(host, 'passphrase', vscode.l10n.t('Passphrase for {0}', keyFile), keyFile);
  }

  password(host: HostConfig): Promise<string | undefined> {
    return this.ask(host, 'password', vscode.l10n.t('Password for {0}', hostKey(host)));
  }

  sudoPassword(host: HostConfig): Promise<string | undefined> {
    return this.ask(host, 'sudo', vscode.l10n.t('sudo password for {0} on {1}', host.user ?? 'root', host.name));
  }

  async forget(host: HostConfig, kind: Kind): Promise<void> {
    // Passphrases are stored per key file; forget every one of this host's.
    await this.secrets.delete(this.key(host, kind));
    if (kind === 'passphrase' && host.identityFile) await this.secrets.delete(this.key(host, kind, host.identityFile));
  }
}
