// The CLI's side of SSH prompts. On a terminal: the host key question with its SHA256 fingerprint (y/N, default no)
// and secrets typed without echo. Without one nothing can be asked: unknown keys are refused, secrets unanswered.
import type { SecretKind, SshPrompt } from '../core/remote/prompt';

export interface TerminalIO {
  input: NodeJS.ReadStream;
  output: NodeJS.WriteStream;
}

export function isInteractive(io: TerminalIO): boolean {
  return !!io.input.isTTY && !!io.output.isTTY;
}

/**
 * Reads one line; with `hidden`, nothing typed is echoed. Resolves undefined on Ctrl-C, Ctrl-D or end of input.
 * Echo goes off before the prompt is written, as OpenSSH's readpassphrase does: a secret typed the moment the
 * prompt shows (or while a slow terminal is still drawing it) must not be echoed.
 */
export function readLine(io: TerminalIO, prompt: string, hidden: boolean): Promise<string | undefined> {
  const { input, output } = io;
  return new Promise((resolve) => {
    let text = '';
    const raw = hidden && typeof input.setRawMode === 'function';
    if (raw) input.setRawMode(true);
    output.write(prompt);
    input.setEncoding('utf8');
    const finish = (value: string | undefined) => {
      input.off('data', onData);
      input.off('end', onEnd);
      if (raw) input.setRawMode(false);
      input.pause();
      output.write('\n');
      resolve(value);
    };
    const onEnd = () => finish(undefined);
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return finish(text);
        if (ch === '\u0003' || ch === '\u0004') return finish(undefined); // Ctrl-C, Ctrl-D
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else text += ch;
      }
    };
    input.on('data', onData);
    input.once('end', onEnd);
    input.resume();
  });
}

export class TerminalPrompt implements SshPrompt {
  constructor(private readonly io: TerminalIO) {}

  async askSecret(message: string, kind: SecretKind): Promise<string | undefined> {
    if (!isInteractive(this.io)) return undefined;
    const label = kind === 'passphrase' ? 'Passphrase' : kind === '2fa' ? 'Code' : 'Password';
    const text = message.trim() ? message.trim().replace(/:?$/, ': ') : `${label}: `;
    return readLine(this.io, text, true);
  }

  async confirmHostKey(host: string, fingerprint: string, keyType: string): Promise<boolean> {
    if (!isInteractive(this.io)) return false;
    const answer = await readLine(
      this.io,
      `The authenticity of host '${host}' can't be established.\n${keyType} key fingerprint is ${fingerprint}.\n` +
        'Check it against the fingerprint the cluster publishes. Trust it and connect (y/N)? ',
      false,
    );
    return /^y(es)?$/i.test((answer ?? '').trim());
  }
}
