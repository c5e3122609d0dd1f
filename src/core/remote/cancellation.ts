// One AbortSignal per operation that fires on the caller's signal or on the deadline, with the reason already
// being the typed error the caller will receive.
import { setSafeTimeout } from '../timers';
import { AbortedError, TimeoutError } from './errors';

export class Cancellation {
  private readonly controller = new AbortController();
  private readonly timer?: NodeJS.Timeout;
  private readonly outer?: AbortSignal;
  private readonly onOuter = () => this.controller.abort(new AbortedError(`${this.what} was cancelled.`));

  constructor(opts: { timeoutMs?: number; signal?: AbortSignal }, private readonly what: string) {
    if (opts.timeoutMs !== undefined) {
      const ms = opts.timeoutMs;
      this.timer = setSafeTimeout(
        () => this.controller.abort(new TimeoutError(`${what} did not finish within ${formatSeconds(ms)}; it was stopped.`, ms)),
        ms,
      );
    }
    this.outer = opts.signal;
    if (this.outer?.aborted) this.onOuter();
    else this.outer?.addEventListener('abort', this.onOuter, { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.outer?.removeEventListener('abort', this.onOuter);
  }
}

function formatSeconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${+(ms / 1000).toFixed(1)} s`;
}

/** The same timeout with what the command printed before it was stopped. */
export function withPartialOutput(reason: unknown, stdout: Buffer, stderr: Buffer): unknown {
  if (reason instanceof TimeoutError) {
    return new TimeoutError(reason.message, reason.timeoutMs, stdout.toString('utf8'), stderr.toString('utf8'));
  }
  return reason;
}

/**
 * Waits for `promise` unless `signal` fires first. The promise keeps running: what it still gives back later goes to
 * `undo` (a half-open connection closed, a tunnel shut), else is ignored.
 */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal, undo?: (late: T) => unknown): Promise<T> {
  if (!signal) return promise;
  const late = () => void promise.then(undo, () => undefined);
  if (signal.aborted) {
    late();
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      late();
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
