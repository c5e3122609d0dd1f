// Talking to the agent: the bootstrap command (runtime/bootstrap.sh's text as one argv word, with the version,
// hash and protocol facts), the preamble on stdin (the prologue and the python, base64, never in argv), requests
// and their framed answers. A missing or outdated runtime is deployed and the request sent again, once.
import { shellJoin } from '../remote/shellQuote';
import type { Transport } from '../remote/transport';
import { AgentProtocolError, PythonNotFoundError, RemoteOutputError } from './errors';
import { excerptOf } from './output';
import { answerSchemas, encodeRequest, FRAME, failureSchema, PROTOCOL_VERSION, readFrame, type Answer, type Failure, type Op, type RequestArgs } from './protocol';
import type { RuntimeBundle } from './runtimeBundle';

export interface AgentEnvironment {
  /** job-script-prologue lines, run in the agent's shell before python (as in a job script). */
  prologue: readonly string[];
  /** The python the workers run (`~/` is expanded on the cluster). */
  python: string;
}

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  onProgress?: (message: string) => void;
}

/** Installs the runtime (again); given by the cluster's deployer. */
export type Redeploy = () => Promise<unknown>;

/** The answer of a failed operation: it changed nothing it did not report. */
export class AgentFailure extends Error {
  constructor(readonly failure: Failure) {
    super(failure.error);
    this.name = 'AgentFailure';
  }
}

let nextId = 1;

export function bootstrapCommand(bundle: RuntimeBundle): string {
  return shellJoin(['bash', '-c', bundle.bootstrapScript, 'gadi-dask-agent', bundle.version, bundle.hash, FRAME, String(PROTOCOL_VERSION)]);
}

export function preamble(env: AgentEnvironment): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return `${b64(env.prologue.filter(Boolean).join('\n'))}\n${b64(env.python)}\n`;
}

/** The frames of one call's output: progress goes to `onProgress`, the answer (or undefined) is returned. */
export function answerIn(stdout: string, id: number, onProgress?: (message: string) => void): Record<string, unknown> | undefined {
  let answer: Record<string, unknown> | undefined;
  for (const line of stdout.split('\n')) {
    const frame = readFrame(line);
    if (!frame) continue;
    if (frame.progress !== undefined && frame.id === id) onProgress?.(frame.progress);
    else if (frame.progress === undefined && (frame.id === id || frame.id === null)) answer = frame.body;
  }
  return answer;
}

export class AgentClient {
  constructor(
    private readonly transport: Transport,
    private readonly bundle: RuntimeBundle,
    private readonly redeploy: Redeploy,
  ) {}

  /** One request in one exec (the agent ends with its stdin). Resolves with the answer; a failure is AgentFailure. */
  async call<O extends Op>(op: O, args: RequestArgs[O], env: AgentEnvironment, options: CallOptions, what: string): Promise<Answer<O>> {
    for (let attempt = 0; ; attempt++) {
      const raw = await this.once(op, args, env, options, what);
      if (raw.ok === false) {
        const failure = failureSchema.safeParse(raw);
        const f: Failure = failure.success ? failure.data : { ok: false, code: 'bad-answer', error: `the agent answered ${excerptOf(JSON.stringify(raw))}` };
        if ((f.code === 'no-runtime' || f.code === 'protocol') && attempt === 0) {
          await this.redeploy();
          continue;
        }
        if (f.code === 'protocol') {
          throw new AgentProtocolError(`The gadi-dask agent on ${this.transport.host} speaks protocol ${f.agentProtocol ?? '?'}, this client ${PROTOCOL_VERSION}, even after reinstalling it: ${f.error}`);
        }
        throw new AgentFailure(f);
      }
      const parsed = answerSchemas[op].safeParse(raw);
      if (!parsed.success) {
        throw new RemoteOutputError(`The agent's answer for ${what} is not what this client understands: ${parsed.error.issues[0]?.message ?? ''} in ${excerptOf(JSON.stringify(raw))}`, excerptOf(JSON.stringify(raw)));
      }
      return parsed.data as Answer<O>;
    }
  }

  private async once(op: Op, args: unknown, env: AgentEnvironment, options: CallOptions, what: string): Promise<Record<string, unknown>> {
    const id = nextId++;
    const stdin = preamble(env) + encodeRequest(id, op, args as never);
    const r = await this.transport.exec(bootstrapCommand(this.bundle), { stdin, timeoutMs: options.timeoutMs, signal: options.signal });
    const answer = answerIn(r.stdout, id, options.onProgress);
    if (answer) return answer;
    if (r.code === 127 && /cannot be run here/.test(r.stderr)) {
      throw new PythonNotFoundError(`${r.stderr.trim().split('\n')[0].replace(/^gadi-dask: /, '')} ${excerptOf(r.stderr.split('\n').slice(1).join('\n'), 400)}`, env.python, r.stderr);
    }
    const stderr = r.stderr.trim() ? ` It printed on stderr: ${excerptOf(r.stderr)}.` : '';
    throw new RemoteOutputError(
      `The gadi-dask agent on ${this.transport.host} gave no answer for ${what} (exit status ${r.code ?? r.signal ?? 'unknown'}; ` +
        `killed, the connection dropped, or a login script that exits?).${stderr} What it did is in its journal: run status to see where the cluster stands.`,
      excerptOf(r.stdout),
    );
  }
}
