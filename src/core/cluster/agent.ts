// Talking to the agent: the bootstrap command (runtime/bootstrap.sh's text as one argv word, with the version,
// hash and protocol facts), the preamble on stdin (the prologue and the python, base64, never in argv), requests
// and their answers (agentLink.ts carries them). A missing or outdated runtime is deployed and asked again, once.
import { shellJoin } from '../remote/shellQuote';
import { AbortedError, ConnectionError, OutputLimitError } from '../remote/errors';
import type { Transport } from '../remote/transport';
import { AgentProtocolError, PythonNotFoundError, RemoteOutputError } from './errors';
import { excerptOf } from './output';
import { trace } from '../trace';
import { OneShotLink, SessionLink } from './agentLink';
import { answerSchemas, encodeRequest, FRAME, failureSchema, PROTOCOL_VERSION, type Answer, type Failure, type Op, type RequestArgs } from './protocol';
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

/** What runtime/bootstrap.sh prints on stderr just before it hands over to python. */
const STARTING_AGENT = 'gadi-dask: starting the agent with';

export function bootstrapCommand(bundle: RuntimeBundle): string {
  return shellJoin(['bash', '-c', bundle.bootstrapScript, 'gadi-dask-agent', bundle.version, bundle.hash, FRAME, String(PROTOCOL_VERSION)]);
}

export function preamble(env: AgentEnvironment): string {
  const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
  return `${b64(env.prologue.filter(Boolean).join('\n'))}\n${b64(env.python)}\n`;
}

export type AgentMode = 'one-shot' | 'session';

export class AgentClient {
  private readonly oneShot: OneShotLink;
  private readonly sessions = new Map<string, SessionLink>();

  /** `session`: one long-lived agent per environment on this connection (the editor); else one per request. */
  constructor(
    private readonly transport: Transport,
    private readonly bundle: RuntimeBundle,
    private readonly redeploy: Redeploy,
    readonly mode: AgentMode = 'one-shot',
  ) {
    this.oneShot = new OneShotLink(transport);
  }

  /** Resolves with the answer; a refusal is AgentFailure. A missing or outdated runtime is installed and asked again. */
  async call<O extends Op>(op: O, args: RequestArgs[O], env: AgentEnvironment, options: CallOptions, what: string): Promise<Answer<O>> {
    for (let attempt = 0; ; attempt++) {
      const raw = await this.once(op, args, env, options, what);
      if (raw.ok === false) {
        const failure = failureSchema.safeParse(raw);
        const f: Failure = failure.success ? failure.data : { ok: false, code: 'bad-answer', error: `the agent answered ${excerptOf(JSON.stringify(raw))}` };
        if ((f.code === 'no-runtime' || f.code === 'protocol') && attempt === 0) {
          this.closeSessions(); // a session of the old agent would keep answering the old way
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
      // A stopped request still answers with what it did: apply's answer says what was submitted before the stop
      // (the caller reports it); any other operation's but run's is of no use to a caller who cancelled.
      if (options.signal?.aborted && op !== 'apply' && op !== 'run') throw new AbortedError(`${what} was cancelled.`);
      return parsed.data as Answer<O>;
    }
  }

  /** Ends the session agents (each finishes what it is doing first). */
  closeSessions(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }

  private link(env: AgentEnvironment): OneShotLink | SessionLink {
    if (this.mode === 'one-shot') return this.oneShot;
    const key = JSON.stringify([env.prologue, env.python]);
    let s = this.sessions.get(key);
    if (!s) this.sessions.set(key, (s = new SessionLink(this.transport)));
    return s;
  }

  private async once(op: Op, args: unknown, env: AgentEnvironment, options: CallOptions, what: string): Promise<Record<string, unknown>> {
    for (let retried = false; ; retried = true) {
      const id = nextId++;
      trace(`${op}: asked`);
      const r = await this.link(env).send(bootstrapCommand(this.bundle), preamble(env), id, encodeRequest(id, op, args as never), options);
      trace(`${op}: ${r.answer ? 'answered' : 'no answer'}`);
      if (r.answer) return r.answer;
      // A session that died under a request (a dropped link) is started again and asked again, once: every
      // operation reconciles with PBS and the journal first, so asking twice never does a thing twice.
      if (this.mode === 'session' && r.lost && !retried && !options.signal?.aborted) {
        options.onProgress?.(`The connection to ${this.transport.host} dropped; asking again`);
        continue;
      }
      if (r.exit.code === 127 && /cannot be run here/.test(r.stderr)) {
        throw new PythonNotFoundError(`${r.stderr.trim().split('\n')[0].replace(/^gadi-dask: /, '')} ${excerptOf(r.stderr.split('\n').slice(1).join('\n'), 400)}`, env.python, r.stderr);
      }
      if (r.exit.error instanceof OutputLimitError) throw r.exit.error;
      if (r.exit.error instanceof ConnectionError) {
        throw new ConnectionError(
          `The connection to ${this.transport.host} dropped while the gadi-dask agent was working on ${what}; it may or may not have ` +
            'finished. What it did is in the cluster\'s journal: once the connection is back, run status to see where the cluster stands.',
          { cause: r.exit.error },
        );
      }
      const how = r.exit.error ? r.exit.error.message : `exit status ${r.exit.code ?? r.exit.signal ?? 'unknown'}`;
      const started = r.stderr.lastIndexOf(STARTING_AGENT);
      if (started >= 0) {
        // The shell reached python: what python printed (a traceback, nothing at all) is the cause.
        const said = r.stderr.slice(started).split('\n').slice(1).join('\n').trim();
        throw new PythonNotFoundError(
          `The Python for the cluster, "${env.python}", ran on ${this.transport.host} and ended (${how}) without the gadi-dask agent ` +
            `answering for ${what}${said ? `; it printed: ${excerptOf(said, 600)}` : ', and printed nothing'}. Is it a Python 3.8 or newer? ` +
            'Set jobqueue.pbs.python to one, or load it in jobqueue.pbs.job-script-prologue. What the agent did, if anything, is in ' +
            'the cluster\'s journal: run status to see where the cluster stands.',
          env.python, r.stderr);
      }
      const stderr = r.stderr.trim() ? ` It printed on stderr: ${excerptOf(r.stderr)}.` : '';
      throw new RemoteOutputError(
        `The login shell on ${this.transport.host} ended (${how}) before the gadi-dask agent started, for ${what}: a login script ` +
          `(~/.bash_profile, ~/.bashrc, ~/.profile) that exits, or a process killed there?${stderr} Try \`ssh ${this.transport.host} true\` ` +
          'in a terminal to see what the login prints.',
        '',
      );
    }
  }
}
