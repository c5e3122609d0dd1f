// sshd refuses more session channels per connection than MaxSessions (10 by default); past that, an exec fails
// instead of waiting. This queue keeps us under the limit and serves waiters in order.
//
// A long-lived process (Transport.spawn) holds its slot for as long as it runs, so an exec waiting for a slot
// could wait forever. Long-lived holders are therefore capped at one less than the configured limit: exec and
// SFTP always keep at least one slot, and a spawn past the cap is refused at once with a clear error rather than
// queued behind processes that may never end.
import { setSafeTimeout } from '../timers';
import { ConnectionError } from './errors';

export class SessionLimiter {
  private active = 0;
  private longLived = 0;
  private limit: number;
  private restore?: NodeJS.Timeout;
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly configured: number) {
    if (!(configured >= 1)) throw new RangeError('the session limit must be at least 1');
    this.limit = configured;
  }

  get inUse(): number {
    return this.active;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function once a slot is free; rejects if `signal` fires while waiting. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const grant = () => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.active--;
          this.next();
        });
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
      this.next();
    });
  }

  /** Like acquire, for a slot that may be held indefinitely; refused when it would leave exec no slot. */
  async acquireLongLived(signal?: AbortSignal): Promise<() => void> {
    if (this.longLived + 1 >= this.configured) {
      throw new ConnectionError(
        `${this.longLived} long-running remote commands already hold ${this.longLived} of the ${this.configured} sessions this connection may open; stop one first.`,
      );
    }
    this.longLived++;
    let release: () => void;
    try {
      release = await this.acquire(signal);
    } catch (e) {
      this.longLived--;
      throw e;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.longLived--;
      release();
    };
  }

  /**
   * The server refused a session while `to` of ours were open: hold back to that many for `forMs`, then go back
   * to the configured limit (a refusal may also have been momentary).
   */
  lower(to: number, forMs = 5000): void {
    this.limit = Math.max(1, Math.min(this.limit, to));
    clearTimeout(this.restore);
    this.restore = setSafeTimeout(() => {
      this.limit = this.configured;
      this.next();
    }, forMs);
    this.restore.unref();
  }

  get max(): number {
    return this.limit;
  }

  private next(): void {
    while (this.active < this.limit && this.waiters.length > 0) this.waiters.shift()!();
  }
}
