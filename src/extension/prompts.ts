// What SSH asks the user, the editor's way: a modal dialog with the SHA256 fingerprint for an unknown host key,
// password input boxes for passphrases, passwords and one-time codes. A passphrase goes to SecretStorage only when
// the user ticks "remember" in its input box, and only once it has opened the key. Answers are never logged.
// Also Shut Down's modal question whether the kernel next to the cluster goes with it.
import * as vscode from 'vscode';
import type { SecretKind, SshPrompt } from '../core/remote/prompt';
import { inertMessage } from './inert';

// The core's passphrase prompts name the key file after one of these openings (sshAuth.ts).
const PASSPHRASE_MESSAGE = /^(Passphrase for|Wrong passphrase, try again:) (.+)$/;
const SECRET_PREFIX = 'gadiDask.passphrase:';
const KNOWN_SECRETS = 'gadiDask.savedPassphrases';

export const TRUST_HOST_KEY = 'Trust and Connect';
export const STOP_KERNEL_TOO = 'Stop the kernel too';
export const KEEP_KERNEL = 'Keep the kernel';

/**
 * Shut Down while a kernel runs next to the cluster: both choices shut the cluster down; true stops the kernel too,
 * false keeps it, undefined (the dialog dismissed) does nothing.
 */
export async function askStopKernel(message: string, detail: string): Promise<boolean | undefined> {
  const picked = await vscode.window.showWarningMessage(inertMessage(message), { modal: true, detail: inertMessage(detail) }, STOP_KERNEL_TOO, KEEP_KERNEL);
  return picked === undefined ? undefined : picked === STOP_KERNEL_TOO;
}

export class EditorPrompt implements SshPrompt {
  /** Passphrases the user asked to remember, kept until the sign-in they were given for succeeds. */
  private readonly pending = new Map<string, string>();

  constructor(
    private readonly secrets: vscode.SecretStorage,
    private readonly memento: vscode.Memento,
    private readonly log: vscode.LogOutputChannel,
  ) {}

  async askSecret(message: string, kind: SecretKind): Promise<string | undefined> {
    if (kind === 'passphrase') {
      const m = PASSPHRASE_MESSAGE.exec(message);
      const keyFile = m?.[2];
      if (keyFile && m[1].startsWith('Wrong')) {
        this.pending.delete(keyFile);
        if (await this.secrets.get(SECRET_PREFIX + keyFile) !== undefined) {
          this.log.warn(`The saved passphrase for ${keyFile} no longer opens it; it is forgotten.`);
          await this.forget(keyFile);
        }
      } else if (keyFile) {
        const saved = await this.secrets.get(SECRET_PREFIX + keyFile);
        if (saved !== undefined) {
          this.log.info(`Using the saved passphrase for ${keyFile}.`);
          return saved;
        }
      }
      return this.askPassphrase(message, keyFile);
    }
    this.log.info(kind === '2fa' ? 'Asking for a one-time code.' : 'Asking for a password.');
    return vscode.window.showInputBox({
      title: kind === '2fa' ? 'Gadi Dask: one-time code' : 'Gadi Dask: SSH password',
      prompt: message,
      password: true,
      ignoreFocusOut: true,
    });
  }

  async confirmHostKey(host: string, fingerprint: string, keyType: string): Promise<boolean> {
    this.log.info(`Asking whether to trust the ${keyType} host key ${fingerprint} of ${host}.`);
    const picked = await vscode.window.showWarningMessage(
      `The authenticity of host ${host} cannot be established.`,
      {
        modal: true,
        detail:
          `Its ${keyType} key fingerprint is\n${fingerprint}\n\nCompare it with the fingerprint your site publishes before ` +
          'trusting it. A trusted key is added to your known_hosts file.',
      },
      TRUST_HOST_KEY,
    );
    const trusted = picked === TRUST_HOST_KEY;
    this.log.info(trusted ? `Trusted the host key of ${host}.` : `Did not trust the host key of ${host}.`);
    return trusted;
  }

  /** Signing in succeeded: keep the passphrases the user asked to remember. */
  async commit(): Promise<void> {
    const saved = new Set(this.memento.get<string[]>(KNOWN_SECRETS, []));
    for (const [keyFile, passphrase] of this.pending) {
      await this.secrets.store(SECRET_PREFIX + keyFile, passphrase);
      saved.add(keyFile);
      this.log.info(`Saved the passphrase for ${keyFile} in the system keychain.`);
    }
    this.pending.clear();
    await this.memento.update(KNOWN_SECRETS, [...saved]);
  }

  /** Signing in failed: remember nothing from it. */
  discard(): void {
    this.pending.clear();
  }

  /** Forgets every saved passphrase; returns how many there were. */
  async forgetAll(): Promise<number> {
    const saved = this.memento.get<string[]>(KNOWN_SECRETS, []);
    for (const keyFile of saved) await this.secrets.delete(SECRET_PREFIX + keyFile);
    await this.memento.update(KNOWN_SECRETS, []);
    return saved.length;
  }

  private async forget(keyFile: string): Promise<void> {
    await this.secrets.delete(SECRET_PREFIX + keyFile);
    await this.memento.update(KNOWN_SECRETS, this.memento.get<string[]>(KNOWN_SECRETS, []).filter((k) => k !== keyFile));
  }

  /** A password input box with a "remember" tick in its title bar (input boxes have no checkbox). */
  private askPassphrase(message: string, keyFile: string | undefined): Promise<string | undefined> {
    this.log.info(`Asking for the passphrase of ${keyFile ?? 'an SSH key'}.`);
    const box = vscode.window.createInputBox();
    box.title = 'Gadi Dask: SSH key passphrase';
    box.password = true;
    box.ignoreFocusOut = true;
    let remember = false;
    const render = () => {
      box.prompt = keyFile
        ? `${message}. ${remember ? 'It will be saved in the system keychain.' : 'Tick ✓ above to save it in the system keychain.'}`
        : message;
      box.buttons = keyFile
        ? [{
            iconPath: new vscode.ThemeIcon(remember ? 'pass-filled' : 'circle-large-outline'),
            tooltip: remember ? 'Remember this passphrase: yes' : 'Remember this passphrase: no',
          }]
        : [];
    };
    render();
    return new Promise((resolve) => {
      let answer: string | undefined;
      const subscriptions = [
        box.onDidTriggerButton(() => {
          remember = !remember;
          render();
        }),
        box.onDidAccept(() => {
          answer = box.value;
          box.hide();
        }),
        box.onDidHide(() => {
          for (const s of subscriptions) s.dispose();
          box.dispose();
          if (answer !== undefined && remember && keyFile) this.pending.set(keyFile, answer);
          resolve(answer);
        }),
      ];
      box.show();
    });
  }
}
