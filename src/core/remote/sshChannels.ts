// What runs over an SshLink: exec channels (output bounded), long-lived processes, SFTP sessions and TCP
// channels. Session channels (exec, spawn, SFTP) go through the link's SessionLimiter; a refused or unsent
// channel is retried, since the command never started.
import type { ClientChannel, SFTPWrapper } from 'ssh2';
import { sleep } from '../timers';
import { abortable, Cancellation, withPartialOutput } from './cancellation';
import { AbortedError, ConnectionError, OutputLimitError } from './errors';
import { BoundedOutput, ExitLatch, outputLimit, ProcessOutput, type Stream } from './remoteOutput';
import type { Live, SshLink } from './sshLink';
import type { ExecOptions, RemoteProcess, SpawnOptions, TransportLogger } from './transport';

export interface RawExecResult {
  code: number | null;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
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
// SSH_OPEN_ADMINISTRATIVELY_PROHIBITED: what sshd answers when forwarding is disabled.
const OPEN_PROHIBITED = 1;

/** Ends a command: a KILL signal where the server honours it, then the channel (EOF and EPIPE for the command). */
function stop(ch: ClientChannel): void {
  try {
    ch.signal('KILL');
  } catch {
    // the server may not support signals; closing the channel still ends our side
  }
  ch.close();
}

export class SshChannels {
  constructor(
    private readonly link: SshLink,
    private readonly logger: TransportLogger,
  ) {}

  private get label(): string {
    return this.link.label;
  }

  /**
   * Opens a session channel with `open`, retrying while the server refuses or the link is replaced; `release`
   * gives the limiter's slot back and must be called once the channel is done (or was never opened).
   */
  private async session<T>(
    signal: AbortSignal,
    purpose: string,
    acquire: (signal: AbortSignal) => Promise<() => void>,
    open: (live: Live, release: () => void) => Promise<T>,
  ): Promise<T> {
    for (let refusals = 0; ; ) {
      const live = await this.link.ready(signal);
      const release = await acquire(signal);
      if (!live.alive) {
        release();
        continue;
      }
      try {
        return await open(live, release);
      } catch (e) {
        if (!(e instanceof NotStarted)) throw e;
        refusals = await this.beforeRetry(live, e, refusals, purpose, signal);
      }
    }
  }

  /** Runs `command` exactly as given (the caller wraps it) on a session channel. */
  async run(command: string, opts: ExecOptions = {}, what = `Command on ${this.label}`): Promise<RawExecResult> {
    const limit = outputLimit(opts);
    const cancel = new Cancellation(opts, what);
    try {
      return await this.session(cancel.signal, 'run a command', (s) => this.link.limiter.acquire(s), (live, release) =>
        this.execOn(live, command, opts.stdin, cancel.signal, release, new BoundedOutput(limit), what),
      );
    } finally {
      cancel.dispose();
    }
  }

  private execOn(
    live: Live,
    command: string,
    stdin: string | Buffer | undefined,
    signal: AbortSignal,
    release: () => void,
    output: BoundedOutput,
    what: string,
  ): Promise<RawExecResult> {
    return new Promise((resolve, reject) => {
      let channel: ClientChannel | undefined;
      let exit: { code: number | null; signal?: string } | undefined;
      let done = false;
      const settle = (f: () => void) => {
        if (done) return;
        done = true;
        signal.removeEventListener('abort', onAbort);
        f();
      };
      const onAbort = () => {
        if (channel) stop(channel);
        settle(() => reject(withPartialOutput(signal.reason, output.stdout, output.stderr)));
      };
      signal.addEventListener('abort', onAbort, { once: true });

      const opened = (e: Error | undefined, ch: ClientChannel) => {
        if (e) {
          release();
          settle(() => reject(new NotStarted(e.message)));
          return;
        }
        channel = ch;
        const take = (stream: Stream) => (d: Buffer) => {
          if (output.add(stream, d)) return;
          // Past the limit: stop the command and read no further; what was kept is dropped with the promise.
          stop(ch);
          settle(() => reject(new OutputLimitError(what, output.limit)));
        };
        ch.on('data', take('stdout'));
        ch.stderr.on('data', take('stderr'));
        ch.on('exit', (code: number | null, sig?: string) => {
          exit = typeof code === 'number' ? { code } : { code: null, signal: sig };
        });
        ch.on('error', () => undefined); // surfaced through 'close'
        ch.on('close', () => {
          release();
          if (!exit && !live.alive) settle(() => reject(this.lostDuring()));
          else settle(() => resolve({ code: exit?.code ?? null, signal: exit?.signal, stdout: output.stdout, stderr: output.stderr }));
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
   * Starts `command` (already wrapped) with stdin open. It holds a session slot while it runs, taken with
   * acquireLongLived so that exec always keeps one; never retried once started.
   */
  async spawn(command: string, opts: SpawnOptions = {}, what = `Command on ${this.label}`): Promise<RemoteProcess> {
    const limit = outputLimit(opts);
    const cancel = new Cancellation({ signal: opts.signal }, what);
    try {
      return await this.session(cancel.signal, 'start a command', (s) => this.link.limiter.acquireLongLived(s), (live, release) =>
        this.spawnOn(live, command, release, new ProcessOutput(limit), what, opts.signal),
      );
    } finally {
      cancel.dispose();
    }
  }

  private spawnOn(live: Live, command: string, release: () => void, output: ProcessOutput, what: string, signal?: AbortSignal): Promise<RemoteProcess> {
    return new Promise((resolve, reject) => {
      const opened = (e: Error | undefined, ch: ClientChannel) => {
        if (e) {
          release();
          reject(new NotStarted(e.message));
          return;
        }
        const latch = new ExitLatch();
        let exit: { code: number | null; signal?: string } | undefined;
        const finish = (result: { code: number | null; signal?: string; error?: Error }) => {
          if (latch.settled) return;
          live.onGone.delete(onGone);
          signal?.removeEventListener('abort', kill);
          release();
          latch.settle(result);
        };
        const kill = () => {
          stop(ch);
          finish({ code: null, error: new AbortedError(`${what} was stopped.`) });
        };
        // The link is gone: say so now, not when (or whether) ssh2 gets round to closing the channel.
        const onGone = () => finish({ code: null, error: this.lostDuring() });
        live.onGone.add(onGone);
        signal?.addEventListener('abort', kill, { once: true });
        const take = (stream: Stream) => (d: Buffer) => {
          if (output.deliver(stream, d)) return;
          stop(ch);
          finish({ code: null, error: new OutputLimitError(what, output.limit) });
        };
        ch.on('data', take('stdout'));
        ch.stderr.on('data', take('stderr'));
        ch.on('exit', (code: number | null, sig?: string) => {
          exit = typeof code === 'number' ? { code } : { code: null, signal: sig };
        });
        ch.on('error', () => undefined); // surfaced through 'close'
        ch.on('close', () => finish(exit ? (exit.signal ? { code: exit.code, signal: exit.signal } : { code: exit.code }) : { code: null, error: this.lostDuring() }));
        if (signal?.aborted) kill();
        resolve({
          write: (data) => {
            if (!latch.settled) ch.write(data);
          },
          end: () => {
            if (!latch.settled) ch.end();
          },
          onStdout: (l) => output.subscribe('stdout', l),
          onStderr: (l) => output.subscribe('stderr', l),
          exited: latch.exited,
          kill,
        });
      };
      try {
        live.client.exec(command, opened);
      } catch (e) {
        release();
        reject(new NotStarted((e as Error).message));
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
    const limiter = this.link.limiter;
    if (refusals > 2 && limiter.inUse > 0) {
      limiter.lower(limiter.inUse);
      this.logger.info(`${this.label} refuses sessions beyond ${limiter.max} at once; holding back to that`);
    }
    await abortable(sleep(REFUSAL_PAUSE_MS * 2 ** Math.min(refusals - 1, 5)), signal);
    return refusals;
  }

  private lostDuring(): ConnectionError {
    return new ConnectionError(`The connection to ${this.label} dropped while a command was running; it may or may not have completed.`);
  }

  /** Runs `fn` with an SFTP session, which counts as a session channel like an exec. */
  async withSftp<T>(fn: (sftp: SFTPWrapper) => Promise<T>, opts: ExecOptions = {}, what = `File transfer with ${this.label}`): Promise<T> {
    const cancel = new Cancellation(opts, what);
    try {
      return await this.session(cancel.signal, 'start SFTP', (s) => this.link.limiter.acquire(s), async (live, release) => {
        const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
          const opened = (e: Error | undefined, session: SFTPWrapper) => {
            if (!e) return resolve(session);
            release();
            reject(new NotStarted(e.message));
          };
          try {
            live.client.sftp(opened);
          } catch (e) {
            release();
            reject(new NotStarted((e as Error).message));
          }
        });
        sftp.once('close', release);
        try {
          return await abortable(fn(sftp), cancel.signal);
        } finally {
          sftp.end();
        }
      });
    } finally {
      cancel.dispose();
    }
  }

  /** A channel to host:port as seen from the remote side (direct-tcpip); not a session, so not limited. */
  async openTcp(host: string, port: number, srcPort: number): Promise<ClientChannel> {
    const live = await this.link.ready();
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
