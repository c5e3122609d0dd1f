// One SSH connection (through its ProxyJump hops) shared by every transport handle for the same destination. It
// connects on first use (sshHop.ts does each hop's handshake), keeps the link alive, and reconnects with backoff
// when the link drops (never after an auth or host key failure). What runs over it is in sshChannels.ts.
import type { Duplex } from 'node:stream';
import type { Client } from 'ssh2';
import { sleep } from '../timers';
import { abortable } from './cancellation';
import { ConnectionError, TransportError } from './errors';
import { SessionLimiter } from './sessionLimiter';
import { SshChannels } from './sshChannels';
import type { SshHostConfig } from './sshConfig';
import { connectHop, describeHop, tunnelTo, type HopSettings } from './sshHop';
import type { ConnectionState, Disposable, StateChange } from './transport';
import { trace } from '../trace';

export interface LinkSettings extends HopSettings {
  reconnectAttempts: number;
  reconnectBaseDelayMs: number;
  reconnectMaxDelayMs: number;
  maxSessions: number;
}

export interface Live {
  client: Client;
  hops: Client[];
  alive: boolean;
  /** Called once when this connection is gone (long-lived channels settle on it rather than wait for ssh2). */
  onGone: Set<() => void>;
}

export class SshLink {
  readonly limiter: SessionLimiter;
  readonly channels: SshChannels;
  private live?: Live;
  private pending?: Promise<Live>;
  private fatal?: TransportError;
  private current: ConnectionState = 'idle';
  /** Final: a reconnect under way when the link is closed must neither reopen it nor report a state. */
  private closed = false;
  private readonly listeners = new Set<(change: StateChange) => void>();

  constructor(
    readonly target: SshHostConfig,
    readonly label: string,
    private readonly s: LinkSettings,
  ) {
    this.limiter = new SessionLimiter(s.maxSessions);
    this.channels = new SshChannels(this, s.logger);
  }

  get state(): ConnectionState {
    return this.current;
  }

  onState(listener: (change: StateChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private setState(change: StateChange): void {
    if (this.closed && change.state !== 'closed') return;
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
      if (this.closed) throw this.closedError();
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
    if (this.closed) throw this.closedError();
    this.fatal = undefined;
    await this.ready();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.setState({ state: 'closed' });
    const live = this.live;
    this.live = undefined;
    if (live) this.bury(live);
    this.listeners.clear();
  }

  private closedError(): ConnectionError {
    return new ConnectionError(`The connection to ${this.label} was closed.`);
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
      trace(`ssh: connecting to ${this.label}`);
      const live = await this.establish();
      trace('ssh: signed in');
      return live;
    } catch (e) {
      throw this.failed(e);
    }
  }

  /** Records a failure: fatal ones stop every retry until reconnect(); others leave the next call free to try. */
  private failed(e: unknown): TransportError {
    const err = e instanceof TransportError ? e : new ConnectionError(`Cannot connect to ${this.label}: ${(e as Error).message}`);
    if (this.closed) return err;
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
      if (this.closed) throw this.closedError();
      this.setState({ state: 'reconnecting', attempt, error: last });
      const delay = attempt === 1 ? 0 : Math.min(this.s.reconnectMaxDelayMs, this.s.reconnectBaseDelayMs * 2 ** (attempt - 2));
      if (delay) await sleep(delay);
      if (this.closed) throw this.closedError();
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
    if (this.closed) return;
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
        const client = await connectHop(this.s, chain[i], sock);
        clients.push(client);
        if (i < chain.length - 1) sock = await tunnelTo(client, chain[i], chain[i + 1]);
      }
    } catch (e) {
      for (const c of clients.reverse()) c.end();
      throw e;
    }
    const live: Live = { client: clients[clients.length - 1], hops: clients.slice(0, -1), alive: true, onGone: new Set() };
    if (this.closed) {
      for (const c of clients.reverse()) c.end();
      throw this.closedError();
    }
    let why = 'the server closed it';
    const gone = () => {
      if (!live.alive) return;
      this.bury(live);
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
    this.s.logger.info(`connected to ${this.label} (${describeHop(this.target)}${chain.length > 1 ? ` via ${chain.slice(0, -1).map((h) => h.alias).join(', ')}` : ''})`);
    return live;
  }

  /** Marks a connection dead, ends its clients and tells whoever waits on it. */
  private bury(live: Live): void {
    live.alive = false;
    for (const c of [live.client, ...live.hops].reverse()) c.end();
    const waiting = [...live.onGone];
    live.onGone.clear();
    for (const f of waiting) f();
  }
}
