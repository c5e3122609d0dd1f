// The Transport when the extension already runs on the cluster (a Remote-SSH window on a login node): the same
// login shell, the same atomic uploads, and tunnels that are plain TCP proxies (or nothing, for loopback).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { homedir, hostname } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Cancellation, withPartialOutput } from './cancellation';
import { AbortedError, ConnectionError, OutputLimitError, RemoteFileError } from './errors';
import { ForwardRegistry, serveForward } from './forwardServer';
import { describeCommand, loginShellCommand } from './loginShell';
import { BoundedOutput, ExitLatch, outputLimit, ProcessOutput, type Stream } from './remoteOutput';
import {
  silentLogger,
  type ConnectionState,
  type Disposable,
  type ExecOptions,
  type ExecResult,
  type ForwardHandle,
  type ForwardTls,
  type RemoteProcess,
  type SpawnOptions,
  type StateChange,
  type Transport,
  type TransportLogger,
} from './transport';

export interface LocalTransportOptions {
  /** The label shown to the user; default the machine's host name. */
  host?: string;
  /** The directory commands start in and relative paths refer to; default the home directory (as over ssh). */
  home?: string;
  logger?: TransportLogger;
  env?: NodeJS.ProcessEnv;
}

function killProcessGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

const LOOPBACK = new Set(['localhost', '127.0.0.1', '::1', 'ip6-localhost']);

export class LocalTransport implements Transport {
  readonly host: string;
  private readonly home: string;
  private readonly logger: TransportLogger;
  private closed = false;
  private readonly listeners = new Set<(change: StateChange) => void>();
  private readonly forwards = new ForwardRegistry();

  constructor(private readonly options: LocalTransportOptions = {}) {
    this.host = options.host ?? hostname();
    this.home = options.home ?? homedir();
    this.logger = options.logger ?? silentLogger;
  }

  get state(): ConnectionState {
    return this.closed ? 'closed' : 'connected';
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closed) return Promise.reject(new ConnectionError(`This connection to ${this.host} was closed.`));
    const what = describeCommand(command, this.host);
    const limit = outputLimit(opts);
    const cancel = new Cancellation(opts, what);
    return new Promise<ExecResult>((resolve, reject) => {
      const output = new BoundedOutput(limit);
      let done = false;
      const settle = (f: () => void) => {
        if (done) return;
        done = true;
        cancel.dispose();
        f();
      };
      const child = this.start(loginShellCommand(command, opts.timeoutMs));
      const killGroup = () => killProcessGroup(child.pid);
      const onAbort = () => {
        killGroup();
        settle(() => reject(withPartialOutput(cancel.signal.reason, output.stdout, output.stderr)));
      };
      if (cancel.signal.aborted) onAbort();
      else cancel.signal.addEventListener('abort', onAbort, { once: true });

      const take = (stream: Stream) => (d: Buffer) => {
        if (output.add(stream, d)) return;
        killGroup();
        child.stdout.destroy(); // stop reading: memory stays at the limit
        child.stderr.destroy();
        settle(() => reject(new OutputLimitError(what, limit)));
      };
      child.stdout.on('data', take('stdout'));
      child.stderr.on('data', take('stderr'));
      child.stdin.on('error', () => undefined); // a command that ignores its input closes the pipe early
      child.on('error', (e) => settle(() => reject(new ConnectionError(`Cannot start a shell on ${this.host}: ${e.message}`))));
      child.on('close', (code, signal) => {
        const result: ExecResult = { code, stdout: output.stdout.toString('utf8'), stderr: output.stderr.toString('utf8') };
        if (signal) result.signal = signal;
        settle(() => resolve(result));
      });
      if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
      else child.stdin.end();
    });
  }

  async spawn(command: string, opts: SpawnOptions = {}): Promise<RemoteProcess> {
    this.assertOpen();
    const what = describeCommand(command, this.host);
    const output = new ProcessOutput(outputLimit(opts));
    if (opts.signal?.aborted) throw new AbortedError(`${what} was cancelled.`);
    const child = this.start(loginShellCommand(command));
    const latch = new ExitLatch();
    const kill = () => killProcessGroup(child.pid);
    const onAbort = () => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    void latch.exited.then(() => opts.signal?.removeEventListener('abort', onAbort));
    const take = (stream: Stream) => (d: Buffer) => {
      if (output.deliver(stream, d)) return;
      kill();
      child.stdout.destroy();
      child.stderr.destroy();
      latch.settle({ code: null, error: new OutputLimitError(what, output.limit) });
    };
    child.stdout.on('data', take('stdout'));
    child.stderr.on('data', take('stderr'));
    child.stdin.on('error', () => undefined);
    child.on('error', (e) => latch.settle({ code: null, error: new ConnectionError(`Cannot start a shell on ${this.host}: ${e.message}`) }));
    child.on('close', (code, signal) => latch.settle(signal ? { code, signal } : { code }));
    return {
      write: (data) => void child.stdin.write(data),
      end: () => void child.stdin.end(),
      onStdout: (l) => output.subscribe('stdout', l),
      onStderr: (l) => output.subscribe('stderr', l),
      exited: latch.exited,
      kill,
    };
  }

  /**
   * sshd hands the command to the account's shell with -c; /bin/sh does the same job here, so the quoting that
   * loginShellCommand produces is exercised exactly as on the remote side. The child leads its own process
   * group, so a timeout or kill stops everything it started.
   */
  private start(shellText: string): ChildProcessWithoutNullStreams {
    return spawn('/bin/sh', ['-c', shellText], {
      cwd: this.home,
      env: this.options.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  }

  private resolvePath(remotePath: string): string {
    if (remotePath === '~') return this.home;
    if (remotePath.startsWith('~/')) return join(this.home, remotePath.slice(2));
    return isAbsolute(remotePath) ? remotePath : join(this.home, remotePath);
  }

  async upload(data: Buffer | string, remotePath: string, mode = 0o644): Promise<void> {
    this.assertOpen();
    const path = this.resolvePath(remotePath);
    const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    try {
      await fsp.mkdir(dirname(path), { recursive: true });
      await fsp.writeFile(tmp, data, { mode, flag: 'wx' });
      await fsp.chmod(tmp, mode); // the umask applied to the create mode
      await fsp.rename(tmp, path);
    } catch (e) {
      await fsp.unlink(tmp).catch(() => undefined);
      throw this.fileError(e, 'write', remotePath);
    }
  }

  async readFile(remotePath: string): Promise<Buffer> {
    this.assertOpen();
    try {
      return await fsp.readFile(this.resolvePath(remotePath));
    } catch (e) {
      throw this.fileError(e, 'read', remotePath);
    }
  }

  async forward(remoteHost: string, remotePort: number, localPort = 0, tls?: ForwardTls): Promise<ForwardHandle> {
    this.assertOpen();
    // Already reachable as is: nothing to serve.
    if (!tls && LOOPBACK.has(remoteHost.toLowerCase()) && (localPort === 0 || localPort === remotePort)) {
      return { localPort: remotePort, close: async () => undefined };
    }
    const handle = await serveForward(
      localPort,
      () =>
        new Promise<Socket>((resolve, reject) => {
          const s = connect(remotePort, remoteHost);
          s.once('connect', () => {
            s.off('error', reject);
            resolve(s);
          });
          s.once('error', reject);
        }),
      `${remoteHost}:${remotePort}${tls ? ' (TLS)' : ''}`,
      this.logger,
      tls,
    );
    return this.forwards.track(handle);
  }

  onStateChange(listener: (change: StateChange) => void): Disposable {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  /** Stops tunnels; commands still running are left alone (they may be detached servers by design). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.forwards.closeAll();
    for (const l of [...this.listeners]) l({ state: 'closed' });
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new ConnectionError(`This connection to ${this.host} was closed.`);
  }

  private fileError(e: unknown, action: string, path: string): RemoteFileError {
    const code = (e as NodeJS.ErrnoException).code;
    return new RemoteFileError(`Cannot ${action} ${path} on ${this.host}: ${(e as Error).message}`, path, code);
  }
}
