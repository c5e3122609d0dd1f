// What every cluster action builds on: the cluster's name, paths and scripts, and its one way to ask the agent (the
// lock's arguments, progress, failures as the cluster's errors). Cluster is the public face; the actions' modules
// (lifecycle.ts, waits.ts) take this.
import { hostname } from 'node:os';
import type { ClusterConfig } from '../config/schema';
import { GADI_SUBMISSIONS_PER_MINUTE } from '../config/queues';
import { DEFAULT_PYTHON, effectivePrologue, renderJobScript, workerExpiry, workerLayout } from '../pbs/jobScript';
import type { Transport } from '../remote/transport';
import { clampTimerMs } from '../timers';
import { VERSION } from '../version';
import type { ActionOptions, ClusterOptions, ScaleRequest, StartOptions } from './actions';
import { AgentClient, type AgentEnvironment, type CallOptions } from './agent';
import { failureError, type AnswerContext } from './answers';
import { jobCeiling, type JobCeiling } from './ceiling';
import { Deployer } from './deployer';
import { assertClusterName, clusterNameOf, clusterPaths, type ClusterPaths } from './names';
import type { Answer, ApplyArgs, ControllerRequest, LockArgs, Op, RequestArgs } from './protocol';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
import { renderSchedulerJobScript, schedulerLaunch } from './schedulerJob';
import { tlsEnabled, workerScriptContext } from './tls';
import { buildSnapshot, type ClusterSnapshot } from './snapshot';

export const STATUS_TIMEOUT_MS = 45_000;
export const PROBE_TIMEOUT_SECONDS = 5;
export const PROBE_CALL_TIMEOUT_MS = 30_000;

/**
 * One request's options, taken field by field: an action's `timeoutMs` is how long a whole wait lasts, not one
 * request's deadline, and spreading it (`{ timeoutMs: default, ...options }`) let an absent one, `undefined`,
 * replace the default (a deadline of NaN s).
 */
export function callOptions(timeoutMs: number, options: ActionOptions): CallOptions {
  return { timeoutMs, signal: options.signal, onProgress: options.onProgress };
}

export class ClusterCore {
  readonly name: string;
  readonly paths: ClusterPaths;
  readonly runtime: RuntimeBundle;
  readonly deployer: Deployer;
  private readonly agent: AgentClient;
  private readonly onProgress: (message: string) => void;

  constructor(readonly transport: Transport, readonly config: ClusterConfig, private readonly options: ClusterOptions = {}) {
    this.name = assertClusterName(clusterNameOf(config));
    this.runtime = options.runtime ?? options.deployer?.runtime ?? loadRuntimeBundle();
    this.paths = clusterPaths(this.name, this.runtime.version);
    this.deployer = options.deployer ?? new Deployer(transport, this.runtime);
    this.agent = options.agent ?? new AgentClient(transport, this.runtime, () => this.deployer.deploy({ onProgress: this.onProgress }), options.mode);
    this.onProgress = options.onProgress ?? (() => undefined);
  }

  /** Processes per job, threads per process: how workers map to jobs. */
  get layout() {
    return workerLayout(this.config.jobqueue.pbs);
  }

  /** The worker job script: PBSCluster's, joining through the cluster's scheduler file. */
  workerJobScript(): string {
    return renderJobScript(this.config.jobqueue.pbs, workerScriptContext(this.config, this.paths));
  }

  /** What the scheduler's controller needs to hold a size or adapt: the worker script and when its workers go. */
  controllerRequest(): ControllerRequest {
    const layout = this.layout;
    return {
      threadsPerJob: layout.threads * layout.processes, jobScript: 'worker.pbs', qsubArgs: [],
      expiry: workerExpiry(this.config.jobqueue.pbs, workerScriptContext(this.config, this.paths)),
    };
  }

  /** The scheduler's job script (placement: job). */
  schedulerJobScript(): string {
    return renderSchedulerJobScript(this.config, this.name, this.paths.runPy);
  }

  /** Worker jobs for a request: N workers need ⌈N / processes per job⌉ jobs. */
  jobsFor(request: ScaleRequest): number {
    const n = 'jobs' in request ? request.jobs : Math.ceil(request.workers / this.layout.processes);
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`cannot scale to ${'jobs' in request ? `${request.jobs} jobs` : `${request.workers} workers`}`);
    return n;
  }

  snapshotAnswer(options: ActionOptions): Promise<Answer<'snapshot'>> {
    return this.call('snapshot', { cluster: this.name, probeTimeout: PROBE_TIMEOUT_SECONDS, client: this.client },
      `the status of cluster ${this.name}`, callOptions(STATUS_TIMEOUT_MS, options));
  }

  snapshotOf(answer: Answer<'snapshot'>): ClusterSnapshot {
    return buildSnapshot({ cluster: this.name, host: this.transport.host, workerPrefix: this.name, answer });
  }

  get lockWaitSeconds(): number {
    return this.options.lockWaitSeconds ?? 60;
  }

  progress(options: ActionOptions): (message: string) => void {
    const local = options.onProgress;
    return (message) => {
      this.onProgress(message);
      local?.(message);
    };
  }

  ensurePlan(): ApplyArgs['ensureScheduler'] {
    const tls = tlsEnabled(this.config);
    if (this.config.scheduler.placement === 'login') {
      return { placement: 'login', launch: launchOptions(schedulerLaunch(this.config, this.name).args), tls };
    }
    const session = this.config.scheduler.session;
    if (this.config.scheduler.placement === 'persistent-session' && session) {
      const { prologue, python } = this.environment;
      return { placement: 'persistent-session', launch: launchOptions(schedulerLaunch(this.config, this.name).args), session, prologue: [...prologue], python, tls };
    }
    return { placement: 'job', script: this.schedulerJobScript(), tls };
  }

  get client(): string {
    return this.options.client ?? `gadi-dask ${VERSION} on ${hostname()} (pid ${process.pid})`;
  }

  lockArgs(timeoutMs: number): LockArgs {
    return { client: this.client, lockWait: this.lockWaitSeconds, lockTtl: Math.ceil(timeoutMs / 1000) + 5 };
  }

  /** What the agent's shell needs before python: the prologue, and the python the workers run. */
  get environment(): AgentEnvironment {
    const pbs = this.config.jobqueue.pbs;
    return { prologue: effectivePrologue(pbs), python: pbs.python ?? DEFAULT_PYTHON };
  }

  answerContext(): AnswerContext {
    return { cluster: this.name, host: this.transport.host, python: this.config.jobqueue.pbs.python ?? DEFAULT_PYTHON, ceiling: this.ceiling };
  }

  async call<O extends Op>(op: O, args: RequestArgs[O], what: string, options: CallOptions): Promise<Answer<O>> {
    try {
      return await this.agent.call(op, args, this.environment, options, what);
    } catch (e) {
      throw failureError(e, this.answerContext());
    }
  }

  /** The per-user job ceiling this cluster's config sets (or the default). */
  get ceiling(): JobCeiling {
    return jobCeiling(this.config);
  }

  /**
   * Changes the cluster in one agent request (a missing runtime is deployed and the request sent again). The agent
   * refuses it before any qsub when it would take the user above the job ceiling, and paces a large submission.
   */
  async apply(plan: Partial<ApplyArgs>, options: StartOptions, submissions: number): Promise<Answer<'apply'>> {
    const submitRate = this.options.submitRate ?? GADI_SUBMISSIONS_PER_MINUTE;
    const pacedSeconds = (Math.max(0, submissions - GADI_SUBMISSIONS_PER_MINUTE) * 60) / submitRate;
    // Each qsub may take a few seconds on a busy server; retiring workers up to a minute.
    const timeoutMs = clampTimerMs((this.lockWaitSeconds + 150 + 5 * submissions + pacedSeconds + (plan.waitSeconds ?? 0)) * 1000);
    const args = { cluster: this.name, workerScript: this.workerJobScript(), maxJobs: this.ceiling.max, submitRate, ...plan, ...this.lockArgs(timeoutMs) };
    return this.call('apply', args, `cluster ${this.name}`, { timeoutMs, signal: options.signal, onProgress: this.progress(options) });
  }
}

/** run.py scheduler's options as the launcher's --config file takes them (long option names, without `--`). */
function launchOptions(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < args.length; i += 2) if (args[i] !== '--name') out[args[i].replace(/^--/, '')] = args[i + 1];
  return out;
}
