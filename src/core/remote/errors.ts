// Typed failures of a Transport. Callers branch on the class (or `kind`) and show `message` as is: every message
// says what happened and what the user can do about it.

export type TransportErrorKind = 'auth' | 'host-key' | 'connection' | 'timeout' | 'aborted' | 'file' | 'config' | 'output-limit';

export abstract class TransportError extends Error {
  abstract readonly kind: TransportErrorKind;
  /** True when trying again later may succeed without the user changing anything. */
  abstract readonly retryable: boolean;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The server refused every credential we had (or the user cancelled a prompt). Never retried automatically. */
export class AuthError extends TransportError {
  readonly kind = 'auth';
  readonly retryable = false;
}

export type HostKeyProblem = 'unknown' | 'changed' | 'revoked';

/** The server's host key is not one we trust. Never retried automatically. */
export class HostKeyError extends TransportError {
  readonly kind = 'host-key';
  readonly retryable = false;
  constructor(
    message: string,
    readonly problem: HostKeyProblem,
    readonly host: string,
    readonly fingerprint: string,
    /** Where the conflicting known_hosts entry is, for 'changed' and 'revoked'. */
    readonly knownHostsFile?: string,
    readonly knownHostsLine?: number,
  ) {
    super(message);
  }
}

/** The network path failed: refused, unreachable, dropped. Retrying later may work. */
export class ConnectionError extends TransportError {
  readonly kind = 'connection';
  readonly retryable = true;
}

/** A command (or the connection it waited for) ran past its deadline; what it printed so far is kept. */
export class TimeoutError extends TransportError {
  readonly kind = 'timeout';
  readonly retryable = true;
  constructor(
    message: string,
    readonly timeoutMs: number,
    readonly stdout = '',
    readonly stderr = '',
  ) {
    super(message);
  }
}

/** The caller's AbortSignal fired. */
export class AbortedError extends TransportError {
  readonly kind = 'aborted';
  readonly retryable = false;
}

/** A file could not be read or written on the remote side. `code` is the errno name when known (ENOENT, EACCES). */
export class RemoteFileError extends TransportError {
  readonly kind = 'file';
  readonly retryable = false;
  constructor(
    message: string,
    readonly path: string,
    readonly code?: string,
  ) {
    super(message);
  }
}

/** ~/.ssh/config asks for something we cannot do (an unknown token, a ProxyJump loop, ProxyCommand). */
export class SshConfigError extends TransportError {
  readonly kind = 'config';
  readonly retryable = false;
}

/** The command printed more than ExecOptions.maxOutputBytes (stdout and stderr together); it was killed. */
export class OutputLimitError extends TransportError {
  readonly kind = 'output-limit';
  readonly retryable = false;
  constructor(
    what: string,
    readonly limitBytes: number,
  ) {
    super(`${what}: remote output exceeded ${formatLimit(limitBytes)}; the command was stopped.`);
  }
}

function formatLimit(bytes: number): string {
  const MiB = 2 ** 20;
  return bytes >= MiB && bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}
