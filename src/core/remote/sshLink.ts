// One SSH connection (through its ProxyJump hops) shared by every transport handle for the same destination. It
// connects on first use, verifies host keys, signs in, keeps the link alive, reconnects with backoff when the link
// drops (never after an auth or host key failure), and keeps at most MaxSessions session channels open.
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig, type SFTPWrapper } from 'ssh2';
import { abortable, Cancellation, withPartialOutput } from './cancellation';
import { AuthError, ConnectionError, HostKeyError, TransportError } from './errors';
import { knownKeyTypes, verifyHostKey } from './hostKeyVerifier';
import type { SshPrompt } from './prompt';
import { SessionLimiter } from './sessionLimiter';
import { agentFor, AuthSession, KeyCache } from './sshAuth';
import type { SshHostConfig } from './sshConfig';
import type { ConnectionState, Disposable, ExecOptions, StateChange, TransportLogger } from './transport';

export interface LinkSettings {
  prompt: SshPrompt;
  logger: TransportLogger;
  keyCache: KeyCache;
  hostKeyGate: Map<string, Promise<unknown>>;
  /** Replace every hop's UserKnownHostsFile (and drop the global files). */
  knownHostsFiles?: readonly string[];
  /** Replace every hop's IdentityFile list. */
  identityFiles?: readonly string[];
  /** An agent socket for every hop; null = no agent; undefined = as ssh would choose. */
  agent?: string | null;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  reconnectAttempts: number;
  reconnectBaseDelayMs: number;
  reconnectMaxDelayMs: number;
  maxSessions: number;
  env: NodeJS.ProcessEnv;
}

export interface RawExecResult {
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
}

interface Live {
  client: Client;
  hops: Client[];
  alive: boolean;
}

/**
 * The command never started: the server would not open one more session, or the link dropped before the channel
 * opened (ready() then waits for the reconnect). Either way it is safe to try again.
 */
class NotStarted extends Error {}

// sshd frees a session only once it has reaped the session's process, a moment after the channel closed: a new
// channel opened right then is refused ("no more sessions") although we are under MaxSessions. Such refusals are
// retried after a short pause; only a run of them is reported.
const MAX_REFUSALS = 8;
const REFUSAL_PAUSE_MS = 25;

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];
// SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: what sshd answers when forwarding is disabled.
const OPEN_PROHIBITED = 1;

/** Offer the key types already in known_hosts first, as ssh does, so a known host does not look "unknown". */
export function preferHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const algorithms = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  return [...new Set([...algorithms.filter((a) => HOST_KEY_ALGORITHMS.includes(a)), ...HOST_KEY_ALGORITHMS])];
}

function describe(hop: SshHostConfig): string {
  return `${hop.user}@${hop.hostName}${hop.port === 22 ? '' : `:${hop.port}`}`;
}

export class SshLink {
  readonly limiter: SessionLimiter;
  private live?: Live;
  private pending?: Promise<Live>;
  private fatal?: TransportError;
  private current: ConnectionState = 'idle';
  private readonly listeners = new Set<(change: StateChange) => void>();

  constructor(
    readonly target: SshHostConfig,
    readonly label: string,
    private readonly s: LinkSettings,
  ) {
    this.limiter = new SessionLimiter(s.maxSessions);
  }

  get state(): ConnectionState {
    return this.current;
  }

  onState(listener: (change: StateChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private setState(change: StateChange): void {
    this.current = change.state;
    for (const l of [...this.listeners]) {
      try {
        l(change);
      } catch {
        // a listener's bug must not break the connection
      }
    }
  }

  /** A live connection, connecting or waiting for a reconnect as needed. */
  async ready(signal?: AbortSignal): Promise<Live> {
    for (;;) {
      if (this.current === 'closed') throw new ConnectionError(`The connection to ${this.label} was closed.`);
      if (this.fatal) throw this.fatal;
      if (this.live?.alive) return this.live;
      this.pending ??= this.track(this.connectOnce());
      const pending = this.pending;
      const live = await abortable(pending, signal);
      if (live.alive) return live;
      if (this.pending === pending) this.pending = undefined;
    }
  }

  /** After an auth or host key failure: try again, because the user says something changed. */
  async reconnect(): Promise<void> {
    if (this.current === 'closed') throw new ConnectionError(`The connection to ${this.label} was closed.`);
    this.fatal = undefined;
    await this.ready();
  }

  async close(): Promise<void> {
    if (this.current === 'closed') return;
    this.setState({ state: 'closed' });
    const live = this.live;
    this.live = undefined;
    if (live) {
      live.alive = false;
      for (const c of [live.client, ...live.hops].reverse()) c.end();
    }
    this.listeners.clear();
  }

  private track(p: Promise<Live>): Promise<Live> {
    const tracked = p.finally(() => {
      if (this.pending === tracked) this.pending = undefined;
    });
    tracked.catch(() => undefined); // waiters get the error; nobody waiting must not crash the process
    return tracked;
  }

  private async connectOnce(): Promise<Live> {
    this.setState({ state: 'connecting' });
    try {
      return await this.establish();
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Records a failure: fatal ones stop every retry until reconnect(); others leave the next call free to try. */
  private failed(e: unknown): TransportError {
    const err = e instanceof TransportError ? e : new ConnectionError(`Cannot connect to ${this.label}: ${(e as Error).message}`);
    if (this.current === 'closed') return err;
    if (!err.retryable) {
      this.fatal = err;
      this.setState({ state: 'failed', error: err });
    } else {
      this.setState({ state: 'disconnected', error: err });
    }
    return err;
  }

  private async reconnectLoop(cause: ConnectionError): Promise<Live> {
    let last: TransportError = cause;
    for (let attempt = 1; attempt <= this.s.reconnectAttempts; attempt++) {
      this.setState({ state: 'reconnecting', attempt, error: last });
      const delay = attempt === 1 ? 0 : Math.min(this.s.reconnectMaxDelayMs, this.s.reconnectBaseDelayMs * 2 ** (attempt - 2));
      if (delay) await new Promise((r) => setTimeout(r, delay));
      if (this.current === 'closed') throw new ConnectionError(`The connection to ${this.label} was closed.`);
      try {
        return await this.establish();
      } catch (e) {
        if (e instanceof TransportError && !e.retryable) throw this.failed(e);
        last = e instanceof TransportError ? e : new ConnectionError((e as Error).message);
        this.s.logger.warn(`reconnect to ${this.label} (attempt ${attempt}): ${last.message}`);
      }
    }
    throw this.failed(last);
  }

  private onDrop(live: Live, why: string): void {
    if (this.live === live) this.live = undefined;
    if (this.current === 'closed') return;
    const cause = new ConnectionError(`The connection to ${this.label} dropped (${why}).`);
    this.s.logger.warn(`${cause.message} Reconnecting.`);
    this.pending = this.track(this.reconnectLoop(cause));
  }

  private async establish(): Promise<Live> {
    const chain = [...this.target.proxyJump, this.target];
    const clients: Client[] = [];
    try {
      let sock: Duplex | undefined;
      for (let i = 0; i < chain.length; i++) {
        const client = await this.connectHop(chain[i], sock);
        clients.push(client);
        if (i < chain.length - 1) sock = await this.tunnelTo(client, chain[i], chain[i + 1]);
      }
    } catch (e) {
      for (const c of clients.reverse()) c.end();
      throw e;
    }
    const live: Live = { client: clients[clients.length - 1], hops: clients.slice(0, -1), alive: true };
    if (this.current === 'closed') {
      for (const c of clients.reverse()) c.end();
      throw new ConnectionError(`The connection to ${this.label} was closed.`);
    }
    let why = 'the server closed it';
    const gone = () => {
      if (!live.alive) return;
      live.alive = false;
      for (const c of [live.client, ...live.hops].reverse()) c.end();
      this.onDrop(live, why);
    };
    for (const c of clients) {
      c.on('error', (err: Error) => {
        why = err.message;
        this.s.logger.debug(`${this.label}: ${err.message}`);
      });
      c.on('close', gone);
    }
    this.live = live;
    this.setState({ state: 'connected' });
    this.s.logger.info(`connected to ${this.label} (${describe(this.target)}${chain.length > 1 ? ` via ${chain.slice(0, -1).map((h) => h.alias).join(', ')}` : ''})`);
    return live;
  }

  private tunnelTo(client: Client, from: SshHostConfig, to: SshHostConfig): Promise<ClientChannel> {
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, to.hostName, to.port, (err, stream) => {
        if (err) reject(new ConnectionError(`The jump host ${from.alias} could not reach ${to.hostName}:${to.port} (${err.message}). Check ProxyJump and HostName in ~/.ssh/config.`));
        else resolve(stream);
      });
    });
  }

  private connectHop(hop: SshHostConfig, sock?: Duplex): Promise<Client> {
    const s = this.s;
    const who = describe(hop);
    const timeoutMs = s.connectTimeoutMs ?? (hop.connectTimeout ? hop.connectTimeout * 1000 : DEFAULT_CONNECT_TIMEOUT_MS);
    const keepaliveMs = s.keepaliveIntervalMs ?? (hop.serverAliveInterval !== undefined ? hop.serverAliveInterval * 1000 : DEFAULT_KEEPALIVE_MS);
    const userKnownHostsFiles = s.knownHostsFiles ?? hop.userKnownHostsFiles;
    const globalKnownHostsFiles = s.knownHostsFiles ? [] : hop.globalKnownHostsFiles;

    return new Promise<Client>((resolve, reject) => {
      const client = new Client();
      let settled = false;
      let hostKeyError: HostKeyError | undefined;
      let timer: NodeJS.Timeout | undefined;
      let asking = 0;

      const fail = (err: TransportError) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        client.end();
        reject(err);
      };
      // The deadline covers the network, not the user: it stops while a prompt is open and restarts after.
      const arm = () => {
        clearTimeout(timer);
        if (asking === 0 && !settled) {
          timer = setTimeout(() => fail(new ConnectionError(`${who} did not complete the SSH handshake within ${timeoutMs / 1000} s. Check your network (VPN?) and the host name.`)), timeoutMs);
        }
      };
      const whileAsking = async <T>(ask: () => Promise<T>): Promise<T> => {
        asking++;
        clearTimeout(timer);
        try {
          return await ask();
        } finally {
          asking--;
          arm();
        }
      };

      const auth = new AuthSession({
        hop,
        identityFiles: s.identityFiles ?? hop.identityFiles,
        agent: s.agent === null ? undefined : (s.agent ?? agentFor(hop, s.env)),
        prompt: s.prompt,
        logger: s.logger,
        keyCache: s.keyCache,
        whileAsking,
      });
      const hostKeySettings = { hop, userKnownHostsFiles, globalKnownHostsFiles, prompt: s.prompt, logger: s.logger, whileAsking, gate: s.hostKeyGate };

      client.on('ready', () => {
        if (settled) {
          client.end();
          return;
        }
        settled = true;
        clearTimeout(timer);
        resolve(client);
      });
      client.on('error', (err: Error & { level?: string; code?: string }) => {
        if (settled) return; // reported by the 'close' that follows
        // ssh2 reports an unusable agent or key this way and then goes on with the next method.
        if (err.level === 'agent' || (err.level === 'client-authentication' && /^Error signing/.test(err.message))) {
          s.logger.debug(`auth ${hop.alias}: ${err.message}`);
          return;
        }
        fail(this.classify(err, hop, hostKeyError, auth));
      });
      client.on('close', () => fail(new ConnectionError(`${who} closed the connection before sign-in completed.`)));

      const config: ConnectConfig = {
        host: hop.hostName,
        port: hop.port,
        username: hop.user,
        sock,
        readyTimeout: 0, // our own timer, which pauses while the user answers a prompt
        keepaliveInterval: keepaliveMs,
        keepaliveCountMax: hop.serverAliveCountMax,
        authHandler: auth.handler,
        hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
          verifyHostKey(hostKeySettings, key).then(
            () => verify(true),
            (e: unknown) => {
              hostKeyError = e instanceof HostKeyError ? e : new HostKeyError(`Cannot check the host key of ${who}: ${(e as Error).message}`, 'unknown', who, '');
              verify(false);
            },
          );
        },
      };
      const known = knownKeyTypes({ hop, userKnownHostsFiles, globalKnownHostsFiles });
      if (known.length) config.algorithms = { serverHostKey: preferHostKeyAlgorithms(known) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
      arm();
      try {
        client.connect(config);
      } catch (e) {
        fail(new ConnectionError(`Cannot connect to ${who}: ${(e as Error).message}`));
      }
    });
  }

  private classify(err: Error & { level?: string; code?: string }, hop: SshHostConfig, hostKeyError: HostKeyError | undefined, auth: AuthSession): TransportError {
    if (hostKeyError) return hostKeyError;
    if (err.level === 'client-authentication') return new AuthError(auth.failureMessage());
    const where = `${hop.hostName}:${hop.port}`;
    switch (err.code) {
      case 'ECONNREFUSED':
        return new ConnectionError(`Nothing accepts SSH connections at ${where} (connection refused). Check HostName and Port for "${hop.alias}" in ~/.ssh/config, or whether the host is down for maintenance.`);
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new ConnectionError(`Cannot resolve the host name ${hop.hostName}. Check HostName for "${hop.alias}" in ~/.ssh/config and your network (VPN?).`);
      case 'ETIMEDOUT':
      case 'EHOSTUNREACH':
      case 'ENETUNREACH':
        return new ConnectionError(`Cannot reach ${where} (${err.code}). Check your network connection or VPN.`);
    }
    return new ConnectionError(`Cannot connect to ${describe(hop)}: ${err.message}`);
  }

  /** Runs `command` exactly as given (the caller wraps it) on a session channel. */
  async run(command: string, opts: ExecOptions = {}, what = `Command on ${this.label}`): Promise<RawExecResult> {
    const cancel = new Cancellation(opts, what);
    try {
      for (let refusals = 0; ; ) {
        const live = await this.ready(cancel.signal);
        const release = await this.limiter.acquire(cancel.signal);
        if (!live.alive) {
          release();
          continue;
        }
        try {
          return await this.execOn(live, command, opts.stdin, cancel.signal, release);
        } catch (e) {
          if (!(e instanceof NotStarted)) throw e;
          refusals = await this.beforeRetry(live, e, refusals, 'run a command', cancel.signal);
        }
      }
    } finally {
      cancel.dispose();
    }
  }

  private execOn(live: Live, command: string, stdin: string | Buffer | undefined, signal: AbortSignal, release: () => void): Promise<RawExecResult> {
    return new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let channel: ClientChannel | undefined;
      let exit: { code: number | null; signal?: string } | undefined;
      let done = false;
      const settle = (f: () => void) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        f();
      };
      const stop = (ch: ClientChannel) => {
        try {
          ch.signal('KILL');
        } catch {
          // the server may not support signals; closing the channel still ends our side
        }
        ch.close();
      };
      const onAbort = () => {
        if (channel) stop(channel);
        settle(() => reject(withPartialOutput(signal.reason, Buffer.concat(out), Buffer.concat(err))));
      };
      signal.addEventListener('abort', onAbort, { once: true });

      const opened = (e: Error | undefined, ch: ClientChannel) => {
        if (e) {
          release();
          settle(() => reject(new NotStarted(e.message)));
          return;
        }
        channel = ch;
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => err.push(d));
        ch.on('exit', (code: number | null, sig?: string) => {
          exit = typeof code === 'number' ? { code } : { code: null, signal: sig };
        });
        ch.on('error', () => undefined); // surfaced through 'close'
        ch.on('close', () => {
          release();
          if (!exit && !live.alive) settle(() => reject(this.lostDuring()));
          else settle(() => resolve({ code: exit?.code ?? null, signal: exit?.signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) }));
        });
        if (done) {
          stop(ch);
          return;
        }
        if (stdin !== undefined) ch.end(stdin);
        else ch.end();
      };
      try {
        live.client.exec(command, opened);
      } catch (e) {
        // ssh2 throws when the socket is already gone, before its 'close' reaches us
        release();
        settle(() => reject(new NotStarted((e as Error).message)));
      }
    });
  }

  /**
   * Between a refused or unsent channel and the next try: a dying link gets a moment to report its 'close' (so
   * ready() waits for the reconnect); a refusal pauses, and repeated refusals while our other sessions are open
   * mean the server allows fewer than we thought, so we hold back to that many for a while.
   */
  private async beforeRetry(live: Live, e: NotStarted, refusals: number, purpose: string, signal: AbortSignal): Promise<number> {
    if (!live.alive) return refusals;
    refusals++;
    if (refusals > MAX_REFUSALS) throw new ConnectionError(`${this.label} would not ${purpose}: ${e.message} (refused ${MAX_REFUSALS} times).`);
    if (refusals > 2 && this.limiter.inUse > 0) {
      this.limiter.lower(this.limiter.inUse);
      this.s.logger.info(`${this.label} refuses sessions beyond ${this.limiter.max} at once; holding back to that`);
    }
    await abortable(new Promise((r) => setTimeout(r, REFUSAL_PAUSE_MS * 2 ** Math.min(refusals - 1, 5))), signal);
    return refusals;
  }

  private lostDuring(): ConnectionError {
    return new ConnectionError(`The connection to ${this.label} dropped while a command was running; it may or may not have completed.`);
  }

  /** Runs `fn` with an SFTP session, which counts as a session channel like an exec. */
  async withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>, opts: ExecOptions = {}, what = `File transfer with ${this.label}`): Promise<T> {
    const cancel = new Cancellation(opts, what);
    try {
      for (let refusals = 0; ; ) {
        const live = await this.ready(cancel.signal);
        const release = await this.limiter.acquire(cancel.signal);
        if (!live.alive) {
          release();
          continue;
        }
        const sftp = await new Promise<SFTPWrapper | NotStarted>((resolve) => {
          const opened = (e: Error | undefined, session: SFTPWrapper) => {
            if (!e) return resolve(session);
            release();
            resolve(new NotStarted(e.message));
          };
          try {
            live.client.sftp(opened);
          } catch (e) {
            release();
            resolve(new NotStarted((e as Error).message));
          }
        });
        if (sftp instanceof NotStarted) {
          refusals = await this.beforeRetry(live, sftp, refusals, 'start SFTP', cancel.signal);
          continue;
        }
        sftp.once('close', release);
        try {
          return await abortable(fn(sftp), cancel.signal);
        } finally {
          sftp.end();
        }
      }
    } finally {
      cancel.dispose();
    }
  }

  /** A channel to host:port as seen from the remote side (direct-tcpip); not a session, so not limited. */
  async openTcp(host: string, port: number, srcPort: number): Promise<ClientChannel> {
    const live = await this.ready();
    return new Promise((resolve, reject) => {
      const opened = (err: Error | undefined, stream: ClientChannel) => {
        if (!err) return resolve(stream);
        const reason = (err as Error & { reason?: number }).reason;
        reject(
          new ConnectionError(
            reason === OPEN_PROHIBITED
              ? `${this.label} does not allow port forwarding (AllowTcpForwarding), so ${host}:${port} cannot be reached.`
              : `${this.label} could not reach ${host}:${port}: ${err.message}. Is the service running there?`,
          ),
        );
      };
      try {
        live.client.forwardOut('127.0.0.1', srcPort, host, port, opened);
      } catch (e) {
        reject(new ConnectionError(`The connection to ${this.label} dropped: ${(e as Error).message}`));
      }
    });
  }
}
