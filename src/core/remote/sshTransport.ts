// The Transport over SSH. A pool hands out one handle per caller; handles for the same destination (same user,
// host, port and hops after ~/.ssh/config) share one SshLink, i.e. one TCP connection and one sign-in.
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { SFTPWrapper } from 'ssh2';
import { ConnectionError, RemoteFileError, SshConfigError } from './errors';
import { ForwardRegistry, serveForward } from './forwardServer';
import { describeCommand, loginShellCommand } from './loginShell';
import type { SshPrompt } from './prompt';
import { KeyCache } from './sshAuth';
import { resolveSshHost, type SshConfigOptions, type SshHostConfig } from './sshConfig';
import { SshLink } from './sshLink';
import { shellJoin } from './shellQuote';
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

export interface SshTransportOptions {
  prompt: SshPrompt;
  logger?: TransportLogger;
  /** Where ~/.ssh/config is, and the local identity used for its tokens. */
  sshConfig?: SshConfigOptions;
  /** Use these known_hosts files instead of the ones ssh config names; the first receives accepted keys. */
  knownHostsFiles?: string[];
  /** Use these identity files instead of the ones ssh config names. */
  identityFiles?: string[];
  /** An agent socket; null = no agent; default: IdentityAgent, else SSH_AUTH_SOCK. */
  agent?: string | null;
  /** Network time allowed to connect and sign in (prompts excluded); default ConnectTimeout, else 20 s. */
  connectTimeoutMs?: number;
  /** Default ServerAliveInterval, else 15 s; 0 turns keepalives off. */
  keepaliveIntervalMs?: number;
  /** Attempts after a dropped link before giving up until the next command; default 5. */
  reconnectAttempts?: number;
  reconnectBaseDelayMs?: number;
  reconnectMaxDelayMs?: number;
  /** Session channels open at once per connection; default 10, OpenSSH's MaxSessions. */
  maxSessions?: number;
  env?: NodeJS.ProcessEnv;
}

function destinationKey(h: SshHostConfig): string {
  return [...h.proxyJump, h].map((x) => `${x.user}@${x.hostName}:${x.port}`).join(' via ');
}

export class SshTransportPool {
  private readonly links = new Map<string, { link: SshLink; refs: number }>();
  private readonly keyCache = new KeyCache();
  private readonly hostKeyGate = new Map<string, Promise<unknown>>();
  private readonly logger: TransportLogger;

  constructor(private readonly options: SshTransportOptions) {
    this.logger = options.logger ?? silentLogger;
  }

  /** A handle for `target` (an ssh config alias, a host name, or user@host). Connects on first use. */
  open(target: string): SshTransport {
    const resolved = resolveSshHost(target, this.options.sshConfig);
    for (const h of [...resolved.proxyJump, resolved]) {
      if (h.proxyCommand) {
        throw new SshConfigError(`~/.ssh/config gives "${h.alias}" a ProxyCommand, which this extension cannot run. Use ProxyJump instead (e.g. "ProxyJump bastion").`);
      }
    }
    const key = destinationKey(resolved);
    let entry = this.links.get(key);
    if (!entry) {
      const o = this.options;
      entry = {
        refs: 0,
        link: new SshLink(resolved, target, {
          prompt: o.prompt,
          logger: this.logger,
          keyCache: this.keyCache,
          hostKeyGate: this.hostKeyGate,
          knownHostsFiles: o.knownHostsFiles,
          identityFiles: o.identityFiles,
          agent: o.agent,
          connectTimeoutMs: o.connectTimeoutMs,
          keepaliveIntervalMs: o.keepaliveIntervalMs,
          reconnectAttempts: o.reconnectAttempts ?? 5,
          reconnectBaseDelayMs: o.reconnectBaseDelayMs ?? 500,
          reconnectMaxDelayMs: o.reconnectMaxDelayMs ?? 8000,
          maxSessions: o.maxSessions ?? 10,
          env: o.env ?? process.env,
        }),
      };
      this.links.set(key, entry);
    }
    entry.refs++;
    const held = entry;
    return new SshTransport(target, resolved, held.link, this.logger, async () => {
      if (--held.refs > 0) return;
      if (this.links.get(key) === held) this.links.delete(key);
      await held.link.close();
    });
  }

  /** Closes every connection and forgets decrypted keys. */
  async close(): Promise<void> {
    const all = [...this.links.values()];
    this.links.clear();
    this.keyCache.clear();
    await Promise.all(all.map((e) => e.link.close()));
  }
}

/** `~/x` and `x` are relative to the home directory, which is where an SFTP session starts. */
function sftpPath(remotePath: string): string {
  if (remotePath === '~') return '.';
  if (remotePath.startsWith('~/')) return remotePath.slice(2) || '.';
  return remotePath;
}

const SFTP_ERRNO: Record<number, string> = { 2: 'ENOENT', 3: 'EACCES' };

function fileError(e: unknown, action: string, path: string, host: string): RemoteFileError {
  const code = SFTP_ERRNO[(e as { code?: number }).code ?? -1];
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  return new RemoteFileError(`Cannot ${action} ${path} on ${host}: ${why}.`, path, code);
}

function sftpCall<T>(run: (cb: (err: Error | null | undefined, value?: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => run((err, value) => (err ? reject(err) : resolve(value as T))));
}

async function mkdirs(sftp: SFTPWrapper, dir: string): Promise<void> {
  if (dir === '.' || dir === '/') return;
  try {
    await sftpCall((cb) => sftp.stat(dir, cb));
    return;
  } catch {
    // fall through and create it, parents first
  }
  await mkdirs(sftp, posix.dirname(dir));
  try {
    await sftpCall((cb) => sftp.mkdir(dir, cb));
  } catch (e) {
    // another writer may have created it meanwhile
    await sftpCall((cb) => sftp.stat(dir, cb)).catch(() => Promise.reject(e));
  }
}

export class SshTransport implements Transport {
  private closed = false;
  private readonly subscriptions = new Set<Disposable>();
  private readonly forwards = new ForwardRegistry();

  constructor(
    readonly host: string,
    /** What ~/.ssh/config made of `host`. */
    readonly resolved: SshHostConfig,
    private readonly link: SshLink,
    private readonly logger: TransportLogger,
    private readonly release: () => Promise<void>,
  ) {}

  get state(): ConnectionState {
    return this.closed ? 'closed' : this.link.state;
  }

  /** Connects now instead of on first use, so a UI can show problems (auth, host key) right away. */
  async connect(signal?: AbortSignal): Promise<void> {
    this.assertOpen();
    await this.link.ready(signal);
  }

  /** After an auth or host key failure, once the user has fixed the cause: try once more. */
  async reconnect(): Promise<void> {
    this.assertOpen();
    await this.link.reconnect();
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.assertOpen();
    const r = await this.link.channels.run(loginShellCommand(command, opts.timeoutMs), opts, describeCommand(command, this.host));
    const result: ExecResult = { code: r.code, stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8') };
    if (r.signal) result.signal = r.signal;
    return result;
  }

  async spawn(command: string, opts: SpawnOptions = {}): Promise<RemoteProcess> {
    this.assertOpen();
    return this.link.channels.spawn(loginShellCommand(command), opts, describeCommand(command, this.host));
  }

  async upload(data: Buffer | string, remotePath: string, mode = 0o644): Promise<void> {
    this.assertOpen();
    const path = sftpPath(remotePath);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const dir = posix.dirname(path);
    const tmp = posix.join(dir, `.${posix.basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
    const renamed = await this.link.channels.withSftp(async (sftp) => {
      try {
        await mkdirs(sftp, dir);
        await sftpCall((cb) => sftp.writeFile(tmp, bytes, { mode, flag: 'wx' }, cb));
        await sftpCall((cb) => sftp.chmod(tmp, mode, cb)); // the server's umask applied to the create mode
      } catch (e) {
        await sftpCall((cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
        throw fileError(e, 'write', remotePath, this.host);
      }
      try {
        // posix-rename replaces the target in one step; plain SFTP rename refuses an existing target.
        await sftpCall((cb) => sftp.ext_openssh_rename(tmp, path, cb));
        return true;
      } catch (e) {
        if (/not support/i.test((e as Error).message)) return false;
        await sftpCall((cb) => sftp.unlink(tmp, cb)).catch(() => undefined);
        throw fileError(e, 'replace', remotePath, this.host);
      }
    });
    if (renamed) return;
    const mv = await this.link.channels.run(shellJoin(['mv', '-f', '--', tmp, path]));
    if (mv.code !== 0) {
      await this.link.channels.run(shellJoin(['rm', '-f', '--', tmp])).catch(() => undefined);
      throw new RemoteFileError(`Cannot replace ${remotePath} on ${this.host}: ${mv.stderr.toString('utf8').trim()}`, remotePath);
    }
  }

  async readFile(remotePath: string): Promise<Buffer> {
    this.assertOpen();
    const path = sftpPath(remotePath);
    return this.link.channels.withSftp(async (sftp) => {
      try {
        return await sftpCall<Buffer>((cb) => sftp.readFile(path, cb));
      } catch (e) {
        throw fileError(e, 'read', remotePath, this.host);
      }
    });
  }

  async forward(remoteHost: string, remotePort: number, localPort = 0, tls?: ForwardTls): Promise<ForwardHandle> {
    this.assertOpen();
    await this.link.ready(); // fail here, not on the first browser request, if the host is unreachable
    const handle = await serveForward(
      localPort,
      (client) => this.link.channels.openTcp(remoteHost, remotePort, client.remotePort ?? 0),
      `${remoteHost}:${remotePort} via ${this.host}${tls ? ' (TLS)' : ''}`,
      this.logger,
      tls,
    );
    return this.forwards.track(handle);
  }

  onStateChange(listener: (change: StateChange) => void): Disposable {
    const sub = this.link.onState(listener);
    this.subscriptions.add(sub);
    return {
      dispose: () => {
        this.subscriptions.delete(sub);
        sub.dispose();
      },
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.subscriptions) s.dispose();
    this.subscriptions.clear();
    await this.forwards.closeAll();
    await this.release();
  }

  private assertOpen(): void {
    if (this.closed) throw new ConnectionError(`This connection to ${this.host} was closed.`);
  }
}
