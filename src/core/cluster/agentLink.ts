// The two ways a request reaches the agent, both over Transport.spawn. One-shot (the CLI): one process per
// request, its stdin closed after the answer, so the agent answers and leaves. Session (the editor): one process
// per connection and environment, started once (one login shell, one prologue), taking requests line by line for
// as long as it lives. Either way the answer is the frame that carries the request's id.
// Cancelling is cooperative: on abort the link sends a `stop` request naming the running one (the agent reads stdin
// beside its work), waits a while for the answer of what was done, and only then gives the channel up. The agent
// never stops inside a qsub or qdel, and journals either way.
import { AbortedError, OutputLimitError, TimeoutError } from '../remote/errors';
import { DEFAULT_MAX_OUTPUT_BYTES, type ProcessExit, type RemoteProcess, type Transport } from '../remote/transport';
import { setSafeTimeout } from '../timers';
import { trace } from '../trace';
import { encodeRequest, readFrame } from './protocol';

/** How long a stopped request may take to answer (a qsub under way finishes first) before the channel is dropped. */
export const STOP_GRACE_MS = 20_000;

export interface LinkCall {
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

/** What the link gives back: the answer, or why there is none (with what the process printed on stderr). */
export type LinkResult = { answer: Record<string, unknown> } | { answer?: undefined; exit: ProcessExit; stderr: string; lost: boolean };

let nextStopId = -1; // negative: never one of AgentClient's request ids

type Pending = { resolve: (r: LinkResult) => void; call: LinkCall };

/** Splits a byte stream into lines; a line longer than `limit` is an error (memory stays bounded). */
class Lines {
  private partial = '';
  constructor(private readonly limit: number) {}
  feed(chunk: Buffer): string[] {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    if (this.partial.length > this.limit) throw new OutputLimitError('an answer of the gadi-dask agent', this.limit);
    return lines;
  }
}

/** One agent process and the requests it is answering. */
class AgentProcess {
  private readonly pending = new Map<number, Pending>();
  private stderr = '';
  private ended?: ProcessExit;
  private failed?: Error;

  constructor(private readonly process: RemoteProcess, limit: number) {
    const lines = new Lines(limit);
    process.onStdout((chunk) => {
      let got: string[];
      try {
        got = lines.feed(chunk);
      } catch (e) {
        this.failed = e as Error;
        process.kill();
        return;
      }
      for (const line of got) this.route(line);
    });
    process.onStderr((chunk) => {
      if (!this.stderr) trace('agent: the bootstrap hands over to python');
      this.stderr = (this.stderr + chunk.toString('utf8')).slice(-8000);
    });
    void process.exited.then((exit) => {
      this.ended = this.failed ? { ...exit, error: this.failed } : exit;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.resolve({ exit: this.ended, stderr: this.stderr, lost: true });
      }
    });
  }

  get alive(): boolean {
    return this.ended === undefined;
  }

  private route(line: string): void {
    const frame = readFrame(line);
    if (!frame) return;
    // A failure before there is an agent (bootstrap.sh: no runtime) answers with id null: the oldest request.
    const id = typeof frame.id === 'number' ? frame.id : this.pending.keys().next().value;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p) return;
    if (frame.progress !== undefined) {
      p.call.onProgress?.(frame.progress);
      return;
    }
    this.pending.delete(id!);
    p.resolve({ answer: frame.body });
  }

  send(id: number, text: string, call: LinkCall): Promise<LinkResult> {
    if (this.ended) return Promise.resolve({ exit: this.ended, stderr: this.stderr, lost: true });
    return new Promise<LinkResult>((resolve, reject) => {
      const timer = setSafeTimeout(() => {
        settle();
        // The agent goes on to the end of what it started and records it; only this channel is given up.
        this.process.kill();
        reject(new TimeoutError(`The gadi-dask agent gave no answer within ${Math.round(call.timeoutMs / 1000)} s; what it did is recorded in the cluster's journal.`, call.timeoutMs, '', this.stderr));
      }, call.timeoutMs);
      const giveUp = () => {
        settle();
        this.process.kill();
        reject(new AbortedError('Cancelled; what the agent did before it stopped is recorded in the cluster\'s journal.'));
      };
      let grace: ReturnType<typeof setSafeTimeout> | undefined;
      const onAbort = () => {
        if (!this.alive) return giveUp();
        // Ask it to stop between two PBS actions and wait for the answer that says what it did.
        call.onProgress?.('Stopping after the PBS action under way…');
        this.process.write(encodeRequest(nextStopId--, 'stop', { request: id }));
        grace = setSafeTimeout(giveUp, STOP_GRACE_MS);
      };
      const settle = () => {
        clearTimeout(timer);
        if (grace) clearTimeout(grace);
        call.signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
      };
      call.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        call,
        resolve: (r) => {
          settle();
          resolve(r);
        },
      });
      this.process.write(text);
    });
  }

  end(): void {
    this.process.end();
  }

  kill(): void {
    this.process.kill();
  }
}

/** Starts the bootstrap command and hands it the preamble; the caller sends requests. */
async function start(transport: Transport, command: string, preamble: string, call: LinkCall, limit: number, session: boolean): Promise<AgentProcess> {
  call.signal?.throwIfAborted();
  // The call's signal stops the start (a half-open channel is closed), not the process once it runs: a running
  // request is stopped cooperatively, and a session outlives the call that started it.
  const starting = new AbortController();
  const onAbort = () => starting.abort(call.signal?.reason);
  call.signal?.addEventListener('abort', onAbort, { once: true });
  let process: RemoteProcess;
  try {
    // A session lives for hours: the bound is per answer, not on everything it ever printed.
    trace('agent: start');
    process = await transport.spawn(command, { signal: starting.signal, maxOutputBytes: session ? Number.MAX_SAFE_INTEGER : limit });
    trace('agent: channel open');
  } finally {
    call.signal?.removeEventListener('abort', onAbort);
  }
  if (call.signal?.aborted) {
    process.kill();
    throw new AbortedError('Cancelled before the gadi-dask agent started.');
  }
  const agent = new AgentProcess(process, limit);
  process.write(preamble);
  return agent;
}

export class OneShotLink {
  constructor(private readonly transport: Transport, private readonly limit = DEFAULT_MAX_OUTPUT_BYTES) {}

  async send(command: string, preamble: string, id: number, line: string, call: LinkCall): Promise<LinkResult> {
    const agent = await start(this.transport, command, preamble, call, this.limit, false);
    // stdin stays open until the answer, so a stop can still reach the agent.
    return agent.send(id, line, call).finally(() => agent.end());
  }

  close(): void {}
}

export class SessionLink {
  private agent?: AgentProcess;
  private starting?: Promise<AgentProcess>;

  constructor(private readonly transport: Transport, private readonly limit = DEFAULT_MAX_OUTPUT_BYTES) {}

  /** The live agent, started on first use and again after it died (a dropped link, a killed channel). */
  private async live(command: string, preamble: string, call: LinkCall): Promise<AgentProcess> {
    if (this.agent?.alive) return this.agent;
    this.starting ??= start(this.transport, command, preamble, call, this.limit, true).finally(() => {
      this.starting = undefined;
    });
    this.agent = await this.starting;
    return this.agent;
  }

  async send(command: string, preamble: string, id: number, line: string, call: LinkCall): Promise<LinkResult> {
    const agent = await this.live(command, preamble, call);
    return agent.send(id, line, call);
  }

  /** Ends the agent (it finishes the request it is on, then sees its stdin close). */
  close(): void {
    this.agent?.end();
    this.agent = undefined;
  }
}
