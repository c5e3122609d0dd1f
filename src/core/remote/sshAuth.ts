// Client authentication in OpenSSH's order: the agent, then each identity file (asking for a passphrase when the
// key is encrypted), then keyboard-interactive (passwords, one-time codes), then password. Only methods the server
// offers are tried, so nobody is asked for a passphrase the server would not use.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { neutralize } from '../serverText';
import { utils, type AnyAuthMethod, type AuthenticationType, type AuthHandlerMiddleware, type ParsedKey, type Prompt } from 'ssh2';
import type { SecretKind, SshPrompt } from './prompt';
import type { SshHostConfig } from './sshConfig';
import type { TransportLogger } from './transport';

/** Decrypted keys, kept for the life of the pool so a reconnect does not ask for the passphrase again. */
export class KeyCache {
  private readonly keys = new Map<string, ParsedKey>();
  get(file: string): ParsedKey | undefined {
    return this.keys.get(file);
  }
  set(file: string, key: ParsedKey): void {
    this.keys.set(file, key);
  }
  clear(): void {
    this.keys.clear();
  }
}

export interface AuthSettings {
  hop: SshHostConfig;
  identityFiles: readonly string[];
  /** The agent socket (or Windows pipe); undefined = no agent. */
  agent?: string;
  prompt: SshPrompt;
  logger: TransportLogger;
  keyCache: KeyCache;
  /** Wraps every wait for the user, so the caller can stop its connect timer meanwhile. */
  whileAsking<T>(ask: () => Promise<T>): Promise<T>;
}

/** The agent ssh would use for this host: IdentityAgent, else SSH_AUTH_SOCK, else Windows' OpenSSH agent pipe. */
export function agentFor(hop: SshHostConfig, env: NodeJS.ProcessEnv = process.env): string | undefined {
  // IdentitiesOnly limits ssh to the configured files; ssh2 cannot filter an agent's keys, so it gets none.
  if (hop.identitiesOnly || hop.identityAgent === 'none') return undefined;
  if (hop.identityAgent) return hop.identityAgent;
  if (env.SSH_AUTH_SOCK) return env.SSH_AUTH_SOCK;
  return process.platform === 'win32' ? '\\\\.\\pipe\\openssh-ssh-agent' : undefined;
}

interface Step {
  needs: AuthenticationType;
  label: string;
  remaining: number;
  make(): Promise<AnyAuthMethod | undefined>;
}

const PROMPT_ATTEMPTS = 3; // ssh's NumberOfPasswordPrompts

// ssh2 documents `false` as "no more methods" but its typings leave it out.
const NO_MORE_METHODS = false as unknown as AuthenticationType;

export function tildify(path: string): string {
  const home = homedir();
  return path.startsWith(home + '/') ? `~${path.slice(home.length)}` : path;
}

export class AuthSession {
  /** Labels of what was offered, for the failure message. */
  readonly tried: string[] = [];
  /** Keys we could not use, with why, for the failure message. */
  readonly skipped: string[] = [];
  serverMethods?: string[];
  cancelled = false;
  private index = 0;
  private readonly steps: Step[];

  constructor(private readonly s: AuthSettings) {
    const { hop } = s;
    const steps: Step[] = [];
    if (s.agent) {
      const agent = s.agent;
      steps.push({ needs: 'publickey', label: 'ssh-agent keys', remaining: 1, make: async () => ({ type: 'agent', username: hop.user, agent }) });
    }
    for (const file of s.identityFiles) {
      steps.push({ needs: 'publickey', label: tildify(file), remaining: 1, make: () => this.keyMethod(file) });
    }
    if (hop.kbdInteractiveAuthentication) {
      steps.push({
        needs: 'keyboard-interactive',
        label: 'keyboard-interactive',
        remaining: PROMPT_ATTEMPTS,
        make: async () => ({
          type: 'keyboard-interactive',
          username: hop.user,
          prompt: (name, instructions, _lang, prompts, finish) => {
            void this.answer(name, instructions, prompts).then(finish);
          },
        }),
      });
    }
    if (hop.passwordAuthentication) {
      steps.push({
        needs: 'password',
        label: 'password',
        remaining: PROMPT_ATTEMPTS,
        make: async () => {
          const password = await this.ask(`Password for ${this.who()}`, 'password', true);
          return password === undefined ? undefined : { type: 'password', username: hop.user, password };
        },
      });
    }
    this.steps = steps;
  }

  readonly handler: AuthHandlerMiddleware = (methodsLeft, _partial, next) => {
    // The first round offers 'none', which costs one round trip and tells us which methods the server takes.
    if (methodsLeft === null || methodsLeft === undefined) {
      next({ type: 'none', username: this.s.hop.user });
      return;
    }
    this.serverMethods = methodsLeft;
    this.pick(methodsLeft).then(
      (m) => next(m ?? NO_MORE_METHODS),
      () => next(NO_MORE_METHODS),
    );
  };

  failureMessage(): string {
    const { hop } = this.s;
    if (this.cancelled) return `Signing in to ${hop.alias} was cancelled.`;
    const offered = this.serverMethods?.length ? ` The server accepts: ${this.serverMethods.join(', ')}.` : '';
    const tried = this.tried.length ? ` Tried: ${[...new Set(this.tried)].join(', ')}.` : ' We had no key, agent or prompt the server accepts.';
    const skipped = this.skipped.length ? ` Not used: ${this.skipped.join('; ')}.` : '';
    return (
      `Permission denied for ${this.who()}.${tried}${skipped}${offered} ` +
      `Put your public key in ~/.ssh/authorized_keys on ${hop.hostName} (e.g. ssh-copy-id ${hop.alias}), load your key ` +
      `into ssh-agent, or name it with IdentityFile under "Host ${hop.alias}" in ~/.ssh/config. \`ssh ${hop.alias}\` ` +
      `in a terminal shows the same check.`
    );
  }

  private who(): string {
    const { hop } = this.s;
    return `${hop.user}@${hop.hostName}${hop.port === 22 ? '' : `:${hop.port}`}`;
  }

  private async pick(left: string[]): Promise<AnyAuthMethod | undefined> {
    while (this.index < this.steps.length && !this.cancelled) {
      const step = this.steps[this.index];
      if (!left.includes(step.needs) || step.remaining <= 0) {
        this.index++;
        continue;
      }
      step.remaining--;
      const method = await step.make();
      if (this.cancelled) return undefined;
      if (!method) {
        step.remaining = 0;
        continue;
      }
      this.tried.push(step.label);
      this.s.logger.debug(`auth ${this.s.hop.alias}: trying ${step.label}`);
      return method;
    }
    return undefined;
  }

  /** A cancelled passphrase skips that key (as ssh does); a cancelled password or code ends signing in. */
  private async ask(message: string, kind: SecretKind, cancelEndsAuth: boolean): Promise<string | undefined> {
    const answer = await this.s.whileAsking(() => this.s.prompt.askSecret(message, kind));
    if (answer === undefined && cancelEndsAuth) this.cancelled = true;
    return answer;
  }

  private async answer(name: string, instructions: string, prompts: Prompt[]): Promise<string[]> {
    const answers: string[] = [];
    for (const p of prompts) {
      const kind: SecretKind = /pass(word|code)?\b/i.test(p.prompt) && !/code|token|otp|verification/i.test(p.prompt) ? 'password' : '2fa';
      // Every word of it is the server's: made inert before any front end shows it.
      const message = neutralize([name, instructions, `${this.who()}: ${p.prompt.trim()}`].map((t) => t?.trim()).filter(Boolean).join('\n'));
      const a = await this.ask(message, kind, true);
      if (a === undefined) return [];
      answers.push(a);
    }
    return answers;
  }

  /** A publickey method for one file, decrypting it first when needed; undefined skips the file. */
  private async keyMethod(file: string): Promise<AnyAuthMethod | undefined> {
    const { hop, logger, keyCache } = this.s;
    const cached = keyCache.get(file);
    if (cached) return { type: 'publickey', username: hop.user, key: cached };
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      logger.debug(`auth ${hop.alias}: no key file at ${tildify(file)}`);
      return undefined;
    }
    let parsed = utils.parseKey(data);
    let message = `Passphrase for ${tildify(file)}`;
    for (let attempt = 0; parsed instanceof Error && /passphrase/i.test(parsed.message) && attempt < PROMPT_ATTEMPTS; attempt++) {
      const passphrase = await this.ask(message, 'passphrase', false);
      if (passphrase === undefined) {
        this.skipped.push(`${tildify(file)} (no passphrase given)`);
        return undefined;
      }
      parsed = utils.parseKey(data, passphrase);
      message = `Wrong passphrase, try again: ${tildify(file)}`;
    }
    if (parsed instanceof Error) {
      const why = /passphrase/i.test(parsed.message) ? 'wrong passphrase' : parsed.message;
      this.skipped.push(`${tildify(file)} (${why})`);
      logger.warn(`auth ${hop.alias}: cannot use ${tildify(file)}: ${why}`);
      return undefined;
    }
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
    if (!key.isPrivateKey()) {
      this.skipped.push(`${tildify(file)} (no private key in it)`);
      logger.debug(`auth ${hop.alias}: ${tildify(file)} holds no private key`);
      return undefined;
    }
    keyCache.set(file, key);
    return { type: 'publickey', username: hop.user, key };
  }
}
