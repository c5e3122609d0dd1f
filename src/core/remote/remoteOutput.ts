// What a remote command prints, bounded: both transports count stdout plus stderr against one limit and stop the
// command when it is passed, so a runaway command costs at most the limit in memory, never the process.
import type { Disposable, ProcessExit } from './transport';
import { DEFAULT_MAX_OUTPUT_BYTES } from './transport';

export type Stream = 'stdout' | 'stderr';

export function outputLimit(opts: { maxOutputBytes?: number }): number {
  const n = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  if (!(n > 0)) throw new RangeError('maxOutputBytes must be positive');
  return n;
}

/** Collects an exec's output; `add` answers false once the limit is passed (the chunk is then dropped). */
export class BoundedOutput {
  private readonly chunks: Record<Stream, Buffer[]> = { stdout: [], stderr: [] };
  private total = 0;

  constructor(readonly limit: number) {}

  add(stream: Stream, chunk: Buffer): boolean {
    if (this.total + chunk.length > this.limit) {
      this.total = this.limit + 1;
      return false;
    }
    this.total += chunk.length;
    this.chunks[stream].push(chunk);
    return true;
  }

  get exceeded(): boolean {
    return this.total > this.limit;
  }

  get stdout(): Buffer {
    return Buffer.concat(this.chunks.stdout);
  }

  get stderr(): Buffer {
    return Buffer.concat(this.chunks.stderr);
  }
}

/**
 * A spawned process's output, handed to listeners as it comes. Chunks that arrive before a stream's first
 * listener are kept for it (within the same limit). `deliver` answers false once the limit is passed.
 */
export class ProcessOutput {
  private readonly listeners: Record<Stream, Set<(chunk: Buffer) => void>> = { stdout: new Set(), stderr: new Set() };
  private readonly early: Record<Stream, Buffer[] | undefined> = { stdout: [], stderr: [] };
  private total = 0;

  constructor(readonly limit: number) {}

  deliver(stream: Stream, chunk: Buffer): boolean {
    this.total += chunk.length;
    if (this.total > this.limit) return false;
    const early = this.early[stream];
    if (early) early.push(chunk);
    else for (const l of [...this.listeners[stream]]) l(chunk);
    return true;
  }

  subscribe(stream: Stream, listener: (chunk: Buffer) => void): Disposable {
    this.listeners[stream].add(listener);
    const early = this.early[stream];
    if (early) {
      this.early[stream] = undefined;
      for (const c of early) listener(c);
    }
    return { dispose: () => this.listeners[stream].delete(listener) };
  }
}

/** The `exited` promise of a RemoteProcess: settles once, never rejects. */
export class ExitLatch {
  private resolveFn!: (exit: ProcessExit) => void;
  private done = false;
  readonly exited = new Promise<ProcessExit>((resolve) => (this.resolveFn = resolve));

  get settled(): boolean {
    return this.done;
  }

  settle(exit: ProcessExit): void {
    if (this.done) return;
    this.done = true;
    this.resolveFn(exit);
  }
}
