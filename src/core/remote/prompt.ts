// What the ssh transport may ask the user. The editor shows input boxes, the CLI reads the terminal, tests answer
// from a script. Answers go straight to ssh2 and are never logged.

export type SecretKind = 'passphrase' | '2fa' | 'password';

export interface SshPrompt {
  /** Resolves undefined when the user cancels. */
  askSecret(message: string, kind: SecretKind): Promise<string | undefined>;
  /** `host` is how known_hosts names it (`[host]:port` for other ports than 22). */
  confirmHostKey(host: string, fingerprint: string, keyType: string): Promise<boolean>;
}

/** For unattended use: answers nothing and trusts no new host key. */
export const refusingPrompt: SshPrompt = {
  askSecret: async () => undefined,
  confirmHostKey: async () => false,
};
