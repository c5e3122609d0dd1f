// The one door to the cluster. The ssh implementation (from a laptop) and the local one (when the editor already
// runs on a login node) behave the same, so everything above this layer is written and tested once.

/** What a command may print (stdout and stderr together) before it is killed: memory stays bounded. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 2 ** 20;

export interface ExecOptions {
  /** Settle within this many milliseconds (queueing and reconnecting included); the command is killed. */
  timeoutMs?: number;
  /** Written to the command's standard input, which is then closed. Without it, stdin is closed at once. */
  stdin?: string | Buffer;
  signal?: AbortSignal;
  /** Past this many bytes of stdout plus stderr the command is killed and exec rejects with OutputLimitError. */
  maxOutputBytes?: number;
}

export interface SpawnOptions {
  /** Aborting kills the process (before it started: spawn rejects with AbortedError). */
  signal?: AbortSignal;
  /** Past this many bytes delivered (stdout plus stderr) the process is killed; `exited` then carries OutputLimitError. */
  maxOutputBytes?: number;
}

export interface ProcessExit {
  code: number | null;
  signal?: string;
  /** Set when the process did not report an exit: the channel or the link died, or it printed too much. */
  error?: Error;
}

/** A long-lived command with its stdin open (for a program that serves requests line by line). */
export interface RemoteProcess {
  /** To the command's standard input. */
  write(data: string | Buffer): void;
  /** Closes the command's standard input. */
  end(): void;
  /** Output that arrived before the first listener subscribed is handed to it first. */
  onStdout(listener: (chunk: Buffer) => void): Disposable;
  onStderr(listener: (chunk: Buffer) => void): Disposable;
  /** Settles once: the exit code/signal, or `error` when the channel or link died first. Never rejects. */
  readonly exited: Promise<ProcessExit>;
  /**
   * Stops the command (on the local transport, its whole process group); `exited` settles at once: with the signal
   * locally, with an AbortedError over ssh (sshd may not honour the KILL request; the closed channel gives the
   * command EOF on stdin and EPIPE on output).
   */
  kill(): void;
}

export interface ExecResult {
  /** The exit status; null when the command was killed by a signal or the server reported none. */
  code: number | null;
  /** The signal's name, as Node's child_process reports it (e.g. "SIGKILL"), when the command was killed by one. */
  signal?: string;
  stdout: string;
  stderr: string;
}

/** Keys for a forward into a server that wants a client certificate (PEM); the server's is checked against `ca`. */
export interface ForwardTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface ForwardHandle {
  /** The port on 127.0.0.1 that reaches remoteHost:remotePort. */
  readonly localPort: number;
  close(): Promise<void>;
}

/**
 * idle: nothing opened yet (connections are made on first use)
 * connecting / connected: as said
 * reconnecting: the link dropped; commands issued now wait for it to come back
 * disconnected: reconnecting gave up; the next command tries again
 * failed: authentication or host key verification failed; nothing is retried until `reconnect()`
 * closed: `close()` was called
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'disconnected' | 'failed' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** Why we left 'connected', or why connecting failed. */
  error?: Error;
  /** For 'reconnecting': which attempt is next, counting from 1. */
  attempt?: number;
}

export interface Disposable {
  dispose(): void;
}

export interface Transport {
  /** A label for the user: the ssh alias, or the local host name. */
  readonly host: string;
  readonly state: ConnectionState;
  /** Runs `command` in a login shell (see loginShell.ts). A non-zero exit is a result, not an error. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /**
   * Writes `data` to `remotePath` atomically: a temporary name in the same directory, then a rename, so readers
   * see the old file or the whole new one. Missing parent directories are created. `mode` defaults to 0o644.
   * Paths are absolute, `~/`-prefixed, or relative to the home directory.
   */
  upload(data: Buffer | string, remotePath: string, mode?: number): Promise<void>;
  readFile(remotePath: string): Promise<Buffer>;
  /**
   * Starts `command` in the same login shell as exec, with stdin left open. Over ssh the process holds one
   * session channel for as long as it runs; see sessionLimiter.ts for how that leaves room for exec.
   */
  spawn(command: string, opts?: SpawnOptions): Promise<RemoteProcess>;
  /**
   * Serves 127.0.0.1:localPort (0 = any free port) and carries each connection to remoteHost:remotePort; with `tls`,
   * inside TLS to the remote side made with those keys (the local side stays plain, on loopback).
   */
  forward(remoteHost: string, remotePort: number, localPort?: number, tls?: ForwardTls): Promise<ForwardHandle>;
  onStateChange(listener: (change: StateChange) => void): Disposable;
  close(): Promise<void>;
}

/** Receives only messages that are safe to show: never a passphrase, password, one-time code or key material. */
export interface TransportLogger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
}

export const silentLogger: TransportLogger = { debug() {}, info() {}, warn() {} };
