// The Transport when the extension already runs on the cluster (a Remote-SSH window on a login node): the same
// login shell, the same atomic uploads, and tunnels that are plain TCP proxies (or nothing, for loopback).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { homedir, hostname } from 'node:os';
import { basename, dirname, isAbsolute, join } from 'node:path';
import { Cancellation, withPartialOutput } from './cancellation';
import { ConnectionError, RemoteFileError } from './errors';
import { ForwardRegistry, serveForward } from './forwardServer';
import { loginShellCommand } from './loginShell';
import {
  silentLogger,
  type ConnectionState,
  type Disposable,
  type ExecOptions,
  type ExecResult,
  type ForwardHandle,
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
    const what = `"${command.length > 60 ? `${command.slice(0, 57)}...` : command}" on ${this.host}`;
    const cancel = new Cancellation(opts, what);
    return new Promise<ExecResult>((resolve, reject) => {
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      let done = false;
      const settle = (f: () => void) => {
        if (done) return;
        done = true;
        cancel.dispose();
        f();
      };
      // sshd hands the command to the account's shell with -c; /bin/sh does the same job here, so the quoting
      // that loginShellCommand produces is exercised exactly as on the remote side.
      const child = spawn('/bin/sh', ['-c', loginShellCommand(command, opts.timeoutMs)], {
        cwd: this.home,
        env: this.options.env ?? process.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // its own process group, so a timeout stops everything it started
      });
      const pid = child.pid;
      const killGroup = () => {
        if (pid === undefined) return;
        try {
          process.kill(-pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      const onAbort = () => {
        killGroup();
        settle(() => reject(withPartialOutput(cancel.signal.reason, Buffer.concat(out), Buffer.concat(err))));
      };
      if (cancel.signal.aborted) onAbort();
      else cancel.signal.addEventListener('abort', onAbort, { once: true });

      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => err.push(d));
      child.stdin.on('error', () => undefined); // a command that ignores its input closes the pipe early
      child.on('error', (e) => settle(() => reject(new ConnectionError(`Cannot start a shell on ${this.host}: ${e.message}`))));
      child.on('close', (code, signal) => {
        const result: ExecResult = { code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
        if (signal) result.signal = signal;
        settle(() => resolve(result));
      });
      if (opts.stdin !== undefined) child.stdin.end(opts.stdin);
      else child.stdin.end();
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

  async forward(remoteHost: string, remotePort: number, localPort = 0): Promise<ForwardHandle> {
    this.assertOpen();
    // Already reachable as is: nothing to serve.
    if (LOOPBACK.has(remoteHost.toLowerCase()) && (localPort === 0 || localPort === remotePort)) {
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
      `${remoteHost}:${remotePort}`,
      this.logger,
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
