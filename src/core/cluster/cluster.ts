// The cluster lifecycle over a Transport: up, scale, adapt, status, down, and waiting for the scheduler. Each user
// action is one remote round trip (plus a one-time deploy, and polling while a scheduler job starts); the cluster's
// state lives on the cluster (~/.gadi-dask/clusters/<name>/), so any client can pick it up where another left it.
import { hostname } from 'node:os';
import type { ClusterConfig } from '../config/schema';
import { DEFAULT_PYTHON, effectivePrologue, renderJobScript, workerLayout } from '../pbs/jobScript';
import { JOB_ID } from '../pbs/submit';
import { AbortedError } from '../remote/errors';
import type { Transport } from '../remote/transport';
import { clampTimerMs, setSafeTimeout } from '../timers';
import { VERSION } from '../version';
import type {
  ActionOptions, AdaptRequest, AdaptResult, CancelJobsResult, ClusterOptions, DownOptions, DownResult, ScaleRequest, ScaleResult,
  SchedulerInfo, StartedScheduler, StartOptions, UpResult, WaitOptions, WorkersCount, WorkersWaitOptions, WorkersWaitResult,
} from './actions';
import { AgentClient, type AgentEnvironment, type CallOptions } from './agent';
import { failureError, qsubFailureError, schedulerAction, shutdownWarnings, type AnswerContext, type CancelledJob, type SchedulerAction } from './answers';
import type { DeployResult } from './deploy';
import { Deployer } from './deployer';
import { SchedulerTimeoutError } from './errors';
import { assertClusterName, clusterNameOf, clusterPaths, type ClusterPaths } from './names';
import type { Answer, ApplyArgs, LockArgs, Op, RequestArgs } from './protocol';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
import { buildReport, type ClusterReport } from './report';
import { renderSchedulerJobScript, schedulerLaunch } from './schedulerJob';
import { readProbe } from './schedulerProbe';
import { buildSnapshot, type ClusterSnapshot } from './snapshot';

const STATUS_TIMEOUT_MS = 45_000;
const PROBE_TIMEOUT_SECONDS = 5;
const PROBE_CALL_TIMEOUT_MS = 30_000;

/**
 * One request's options, taken field by field: an action's `timeoutMs` is how long a whole wait lasts, not one
 * request's deadline, and spreading it (`{ timeoutMs: default, ...options }`) let an absent one, `undefined`,
 * replace the default (a deadline of NaN s).
 */
function callOptions(timeoutMs: number, options: ActionOptions): CallOptions {
  return { timeoutMs, signal: options.signal, onProgress: options.onProgress };
}

/** A pause that a cancellation ends with the same AbortedError the transport gives. */
function sleep(ms: number, what: string, signal?: AbortSignal): Promise<void> {
  const cancelled = () => new AbortedError(`${what} was cancelled.`);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const timer = setSafeTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

export class Cluster {
  /** The cluster's name (clusterNameOf), the PBS job name of its workers. */
  readonly name: string;
  readonly paths: ClusterPaths;
  readonly runtime: RuntimeBundle;
  private readonly deployer: Deployer;
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
    return renderJobScript(this.config.jobqueue.pbs, { schedulerFile: this.paths.schedulerFile });
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

  /** Installs the runtime unless this exact one is there (one exec when it is). */
  deploy(options: ActionOptions = {}): Promise<DeployResult> {
    return this.deployer.deploy({ ...options, onProgress: this.progress(options) });
  }

  /** Deploys, then starts the scheduler unless one runs or is queued; waits for it unless `wait: false`. */
  async up(options: StartOptions = {}): Promise<UpResult> {
    // Once per connection: the check costs an exec, and a missing runtime is found by the apply script anyway.
    const deploy = await this.deployer.ensure({ ...options, onProgress: this.progress(options) });
    const launch = schedulerLaunch(this.config, this.name);
    const outcome = await this.apply({ ensureScheduler: this.ensurePlan() }, options, 0);
    const scheduler = await this.settleScheduler(schedulerAction(outcome.scheduler!, this.answerContext()), options, true);
    return { deploy, scheduler, warnings: [...launch.warnings, ...outcome.warnings] };
  }

  /**
   * Reaches `request` worker jobs in one exec: submits the missing ones, or cancels queued jobs (newest first) and
   * then running ones (their workers retired first). Starts the scheduler first when none runs (and the target is not
   * 0); new workers then wait for its job to start. Turns adaptivity off.
   */
  async scale(request: ScaleRequest, options: StartOptions = {}): Promise<ScaleResult> {
    const target = this.jobsFor(request);
    const progress = this.progress(options);
    progress(`Scaling cluster ${this.name} on ${this.transport.host} to ${target} worker job${target === 1 ? '' : 's'}`);
    const plan: Partial<ApplyArgs> = { scaleTo: target, waitSeconds: options.waitSeconds ?? 60 };
    if (target > 0) plan.ensureScheduler = this.ensurePlan();
    const outcome = await this.apply(plan, options, target);
    const errors = outcome.submitErrors.map(qsubFailureError);
    const result: ScaleResult = {
      targetJobs: target,
      before: outcome.before.filter((j) => j.role === 'worker').map(({ id, state }) => ({ id, state })),
      submitted: outcome.submitted,
      cancelled: outcome.cancelled,
      errors,
      exiting: outcome.exiting,
      adaptWasOn: outcome.adaptWasOn ?? false,
      stopped: (outcome.stopped ?? false) || (options.signal?.aborted ?? false),
      warnings: outcome.warnings,
    };
    if (outcome.exiting.length) result.warnings.push(`PBS still runs ${outcome.exiting.join(', ')}: cancelled, still exiting. Check again with status.`);
    if (outcome.submitted.length) progress(`Submitted ${outcome.submitted.length} job(s): ${outcome.submitted.join(', ')}`);
    tellCancelled(outcome.cancelled, progress);
    // Nothing submitted although jobs were needed: the refusal is the answer.
    if (errors.length && outcome.submitted.length === 0) throw errors[0];
    if (outcome.scheduler) {
      const action = schedulerAction(outcome.scheduler, this.answerContext());
      // Cancelled: say what was done, wait for nothing.
      result.scheduler = result.stopped ? { action } : await this.settleScheduler(action, options);
    }
    if (result.stopped) progress(`Stopped on request: ${outcome.submitted.length} job(s) submitted, every one tracked`);
    return result;
  }

  /** Keeps the cluster between `minimum` and `maximum` worker jobs; the scheduler's launcher does it from now on. */
  async adapt(request: AdaptRequest | 'off', options: StartOptions = {}): Promise<AdaptResult> {
    if (request === 'off') {
      const outcome = await this.apply({ adapt: 'off' }, options, 0);
      return { enabled: false, adopted: 0, warnings: outcome.warnings };
    }
    const { minimum, maximum } = request;
    if (!Number.isInteger(minimum) || !Number.isInteger(maximum) || minimum < 0 || maximum < minimum) {
      throw new RangeError(`adaptive bounds must be whole numbers with 0 ≤ minimum ≤ maximum (got ${minimum} and ${maximum})`);
    }
    const layout = this.layout;
    // The agent adds the worker jobs already in the queue as `jobs`.
    const adapt = { min: minimum, max: maximum, threadsPerJob: layout.threads * layout.processes, jobScript: 'worker.pbs', qsubArgs: [] };
    const outcome = await this.apply({ ensureScheduler: this.ensurePlan(), adapt }, options, 0);
    const scheduler = outcome.scheduler ? await this.settleScheduler(schedulerAction(outcome.scheduler, this.answerContext()), options) : undefined;
    return { enabled: true, minimum, maximum, adopted: outcome.adaptAdopted ?? 0, scheduler, warnings: outcome.warnings };
  }

  /** One refresh: jobs from qstat (recently finished ones too), workers from the scheduler, in one exec. */
  async status(options: ActionOptions = {}): Promise<ClusterSnapshot> {
    return this.snapshotOf(await this.snapshotAnswer(options));
  }

  /** Retires the workers, stops the scheduler, cancels every job of the cluster (the scheduler's too), cleans up. */
  async down(options: DownOptions = {}): Promise<DownResult> {
    const progress = this.progress(options);
    progress(`Shutting down cluster ${this.name} on ${this.transport.host}`);
    const shutdownSeconds = options.shutdownTimeoutSeconds ?? 30;
    const waitSeconds = options.waitSeconds ?? 60;
    const timeoutMs = (shutdownSeconds + waitSeconds + 120 + this.lockWaitSeconds) * 1000;
    const answer = await this.call('down', {
      cluster: this.name, shutdownTimeout: shutdownSeconds, purge: options.purge ?? false, waitSeconds, ...this.lockArgs(timeoutMs),
    }, `shutting down cluster ${this.name}`, callOptions(timeoutMs, { signal: options.signal, onProgress: progress }));
    if (!answer.existed) {
      return { existed: false, wasRunning: false, retiredWorkers: [], cancelled: [], exiting: [], purged: false, warnings: [] };
    }
    const stop = shutdownWarnings(answer);
    tellCancelled(answer.cancelled, progress);
    if (answer.exiting.length) stop.warnings.push(`PBS still runs ${answer.exiting.join(', ')} after ${waitSeconds} s: cancelled, still exiting. Check again with status.`);
    return {
      existed: true, wasRunning: stop.wasRunning, retiredWorkers: stop.retired, cancelled: answer.cancelled,
      exiting: answer.exiting, purged: answer.purged, warnings: stop.warnings,
    };
  }

  /**
   * Cancels some of the cluster's jobs in one exec, under its lock: running worker jobs have their workers retired
   * first (their data moves to the workers that stay). Ids that are not the cluster's are refused, not cancelled.
   */
  async cancelJobs(ids: readonly string[], options: ActionOptions = {}): Promise<CancelJobsResult> {
    const bad = ids.find((id) => !JOB_ID.test(id));
    if (bad !== undefined) throw new RangeError(`'${bad}' is not a PBS job id`);
    if (!ids.length) return { cancelled: [], warnings: [] };
    const progress = this.progress(options);
    progress(`Cancelling job${ids.length === 1 ? '' : 's'} ${ids.join(', ')} of cluster ${this.name}`);
    // Retiring workers may take up to a minute and a half (run.py retire's timeouts).
    const timeoutMs = (this.lockWaitSeconds + 120) * 1000;
    const answer = await this.call('cancel', { cluster: this.name, ids: [...ids], ...this.lockArgs(timeoutMs) },
      `cancelling jobs of cluster ${this.name}`, callOptions(timeoutMs, options));
    const outcome: CancelJobsResult = answer.noCluster
      ? { cancelled: ids.map((id) => ({ id, outcome: 'error', message: `cluster ${this.name} has no directory on ${this.transport.host}` })), warnings: [] }
      : { cancelled: answer.cancelled, warnings: answer.warnings };
    const done = outcome.cancelled.filter((c) => c.outcome === 'deleted');
    if (done.length) progress(`Cancelled ${done.length} job(s): ${done.map((c) => c.id).join(', ')}`);
    return outcome;
  }

  /** What every job of the cluster asked for, used and cost, from the history the agent keeps on the cluster. */
  async report(options: ActionOptions = {}): Promise<ClusterReport> {
    const answer = await this.call('history', { cluster: this.name, client: this.client }, `the history of cluster ${this.name}`,
      callOptions(STATUS_TIMEOUT_MS, options));
    return buildReport(this.name, this.transport.host, answer);
  }

  /**
   * Waits until `jobs` worker jobs have all their Dask workers connected (processes per job × jobs), the signal
   * aborts, or the timeout passes. The scheduler is watched all along (the agent asks it, never PBS, until its workers
   * change); PBS only by snapshots at a gentle, growing pause, for the jobs' states and queue comments. The cluster
   * goes on either way: the jobs keep their place in the queue.
   */
  async waitForWorkers(jobs: number, options: WorkersWaitOptions = {}): Promise<WorkersWaitResult> {
    const perJob = this.layout.processes;
    const expected = jobs * perJob;
    const timeoutMs = options.timeoutMs ?? 600_000;
    const started = Date.now();
    const progress = this.progress(options);
    let pause = options.pollMs ?? 1000;
    let answer = await this.snapshotAnswer(options);
    let snapshotDue = Date.now() + pause;
    let said = '';
    for (;;) {
      const snapshot = this.snapshotOf(answer);
      const count = workersCount(snapshot, perJob, expected);
      const waitedMs = Date.now() - started;
      const message = describeCount(count);
      if (message !== said) {
        options.onCount?.(count);
        progress(message);
        said = message;
      }
      if (count.connected >= expected) return { ...count, done: true, timedOut: false, waitedMs };
      const cannotReach = shortOfJobs(snapshot, jobs);
      if (cannotReach) return { ...count, done: false, timedOut: false, waitedMs, cannotReach };
      if (waitedMs >= timeoutMs) return { ...count, done: false, timedOut: true, waitedMs };
      const leftMs = Math.min(snapshotDue, started + timeoutMs) - Date.now();
      if (leftMs > 0 && answer.exists) {
        const w = await this.call('workers', { cluster: this.name, seen: answer.workersSeen ?? null, waitSeconds: leftMs / 1000, probeTimeout: PROBE_TIMEOUT_SECONDS },
          `the workers of cluster ${this.name}`, { timeoutMs: leftMs + STATUS_TIMEOUT_MS, signal: options.signal });
        answer = { ...answer, status: w.status, workersSeen: w.workersSeen };
      } else if (leftMs > 0) {
        await sleep(leftMs, `Waiting for the workers of cluster ${this.name}`, options.signal);
      }
      if (Date.now() >= snapshotDue) {
        answer = await this.snapshotAnswer(options);
        pause = Math.min(pause * 1.5, options.maxPollMs ?? 5000);
        snapshotDue = Date.now() + pause;
      }
    }
  }

  /**
   * Polls until the scheduler of `jobId` (or, without one, any scheduler of the cluster) runs: the scheduler file is
   * there and runtime.json says running for that job. Fails when the job ends first, with the end of its log.
   */
  async waitForScheduler(jobId: string | undefined, options: WaitOptions = {}): Promise<SchedulerInfo> {
    if (jobId !== undefined && !JOB_ID.test(jobId)) throw new RangeError(`'${jobId}' is not a PBS job id`);
    const progress = this.progress(options);
    const timeoutMs = options.timeoutMs ?? 600_000;
    const started = Date.now();
    let pause = options.pollMs ?? 1000;
    let said = '';
    const tell = (message: string) => {
      if (message !== said) progress(message);
      said = message;
    };
    for (;;) {
      const answer = await this.call('probe', { cluster: this.name, ...(jobId ? { jobId } : {}) }, `the scheduler of cluster ${this.name}`, callOptions(PROBE_CALL_TIMEOUT_MS, options));
      const probe = readProbe(answer, jobId, this.name, this.paths.schedulerFile);
      if (probe.info) {
        tell(`Scheduler of ${this.name} running at ${probe.info.address}${probe.info.dashboard ? `, dashboard ${probe.info.dashboard.url}` : ''}`);
        return probe.info;
      }
      tell(probe.waiting);
      const waited = Date.now() - started;
      if (waited >= timeoutMs) {
        throw new SchedulerTimeoutError(
          `The scheduler of cluster ${this.name} is not running after ${Math.round(waited / 1000)} s: ${probe.waiting}. ` +
            (jobId ? `Its job ${jobId} keeps its place in the queue; check again later with status, or run down to cancel it.` : 'Check again later with status.'),
          jobId, waited);
      }
      await sleep(Math.min(pause, timeoutMs - waited), `Waiting for the scheduler of cluster ${this.name}`, options.signal);
      pause = Math.min(pause * 1.5, options.maxPollMs ?? 5000);
    }
  }

  // ---- internals -------------------------------------------------------------------------------------------------

  private snapshotAnswer(options: ActionOptions): Promise<Answer<'snapshot'>> {
    return this.call('snapshot', { cluster: this.name, probeTimeout: PROBE_TIMEOUT_SECONDS, client: this.client },
      `the status of cluster ${this.name}`, callOptions(STATUS_TIMEOUT_MS, options));
  }

  private snapshotOf(answer: Answer<'snapshot'>): ClusterSnapshot {
    return buildSnapshot({ cluster: this.name, host: this.transport.host, workerPrefix: this.name, answer });
  }

  private get lockWaitSeconds(): number {
    return this.options.lockWaitSeconds ?? 60;
  }

  private progress(options: ActionOptions): (message: string) => void {
    const local = options.onProgress;
    return (message) => {
      this.onProgress(message);
      local?.(message);
    };
  }

  private ensurePlan(): ApplyArgs['ensureScheduler'] {
    if (this.config.scheduler.placement === 'login') {
      return { placement: 'login', launch: launchOptions(schedulerLaunch(this.config, this.name).args) };
    }
    return { placement: 'job', script: this.schedulerJobScript() };
  }

  private get client(): string {
    return this.options.client ?? `gadi-dask ${VERSION} on ${hostname()} (pid ${process.pid})`;
  }

  private lockArgs(timeoutMs: number): LockArgs {
    return { client: this.client, lockWait: this.lockWaitSeconds, lockTtl: Math.ceil(timeoutMs / 1000) + 5 };
  }

  /** What the agent's shell needs before python: the prologue, and the python the workers run. */
  get environment(): AgentEnvironment {
    const pbs = this.config.jobqueue.pbs;
    return { prologue: effectivePrologue(pbs), python: pbs.python ?? DEFAULT_PYTHON };
  }

  private answerContext(): AnswerContext {
    return { cluster: this.name, host: this.transport.host, python: this.config.jobqueue.pbs.python ?? DEFAULT_PYTHON };
  }

  private async call<O extends Op>(op: O, args: RequestArgs[O], what: string, options: CallOptions): Promise<Answer<O>> {
    try {
      return await this.agent.call(op, args, this.environment, options, what);
    } catch (e) {
      throw failureError(e, this.answerContext());
    }
  }

  /** Changes the cluster in one agent request (a missing runtime is deployed and the request sent again). */
  private async apply(plan: Partial<ApplyArgs>, options: StartOptions, submissions: number): Promise<Answer<'apply'>> {
    // Each qsub may take a few seconds on a busy server; retiring workers up to a minute.
    const timeoutMs = clampTimerMs((this.lockWaitSeconds + 150 + 5 * submissions + (plan.waitSeconds ?? 0)) * 1000);
    return this.call('apply', { cluster: this.name, workerScript: this.workerJobScript(), ...plan, ...this.lockArgs(timeoutMs) },
      `cluster ${this.name}`, { timeoutMs, signal: options.signal, onProgress: this.progress(options) });
  }

  /** `tellExisting`: say so when a scheduler was already there (up does; scale and adapt stay quiet). */
  private async settleScheduler(action: SchedulerAction, options: StartOptions, tellExisting = false): Promise<StartedScheduler> {
    const progress = this.progress(options);
    const existing = tellExisting ? progress : () => undefined;
    switch (action.kind) {
      case 'started-login': {
        const m = action.metadata;
        const info: SchedulerInfo = {
          address: m.address ?? '', dashboard: m.dashboard ?? undefined, placement: 'login', host: m.host ?? undefined,
          schedulerFile: this.paths.schedulerFile,
        };
        progress(`Scheduler of ${this.name} started on ${info.host ?? this.transport.host} at ${info.address}`);
        return { action, info };
      }
      case 'answers':
        existing(`Scheduler of ${this.name} already running${action.address ? ` at ${action.address}` : ''}`);
        return { action };
      case 'job-exists':
        existing(`Scheduler job ${action.jobId} of ${this.name} already in the queue (state ${action.state})`);
        return { action };
      case 'submitted': {
        progress(`Submitted scheduler job ${action.jobId}`);
        if (options.wait === false) return { action };
        return { action, info: await this.waitForScheduler(action.jobId, options) };
      }
    }
  }
}

/** Progress about cancelled jobs names the ones qdel failed on apart, never as cancelled. */
function tellCancelled(cancelled: readonly CancelledJob[], progress: (message: string) => void): void {
  const done = cancelled.filter((c) => c.outcome !== 'error');
  const failed = cancelled.filter((c) => c.outcome === 'error');
  if (done.length) progress(`Cancelled ${done.length} job(s): ${done.map((c) => c.id).join(', ')}`);
  if (failed.length) progress(`Could not cancel ${failed.length} job(s): ${failed.map((c) => `${c.id} (${c.message ?? 'qdel failed'})`).join(', ')}`);
}

/** Connected workers counted per worker job (at most its processes each), and the queued jobs with PBS's reason. */
export function workersCount(s: ClusterSnapshot, perJob: number, expected: number): WorkersCount {
  const jobs = s.jobs.filter((j) => j.role === 'worker' && j.stateInfo.active);
  const connected = Math.min(expected, jobs.reduce((n, j) => n + Math.min(perJob, j.workers.filter((w) => w.status !== 'closing' && w.status !== 'closed').length), 0));
  const queued = jobs.filter((j) => j.stateInfo.phase === 'pending').map((j) => (j.pbs.comment ? { id: j.id, comment: j.pbs.comment } : { id: j.id }));
  return { connected, expected, queued };
}

/**
 * Why `jobs` worker jobs can no longer all be there (fewer of the cluster's are left in PBS: they ended, or were
 * cancelled), or undefined while they can. Waiting longer would only wait out the timeout.
 */
export function shortOfJobs(s: ClusterSnapshot, jobs: number): string | undefined {
  if (!s.exists) return `cluster ${s.cluster} no longer exists`;
  const left = s.jobs.filter((j) => j.role === 'worker').length;
  if (left >= jobs) return undefined;
  const ended = s.finishedJobs.filter((j) => j.role === 'worker').map((j) => j.id);
  return `only ${left} of the ${jobs} worker job(s) asked for ${left === 1 ? 'is' : 'are'} left in PBS` +
    `${ended.length ? ` (ended: ${ended.slice(0, 5).join(', ')}${ended.length > 5 ? ', …' : ''})` : ''}; scale again to replace them`;
}

/** `3/8 workers connected; 2 jobs queued (Not Running: Insufficient amount of resource: ncpus)`. */
export function describeCount(c: WorkersCount): string {
  const reasons = [...new Set(c.queued.map((q) => q.comment).filter(Boolean))];
  const queued = c.queued.length ? `; ${c.queued.length} job${c.queued.length === 1 ? '' : 's'} queued${reasons.length ? ` (${reasons.join('; ')})` : ''}` : '';
  return `${c.connected}/${c.expected} worker${c.expected === 1 ? '' : 's'} connected${queued}`;
}

/** run.py scheduler's options as the launcher's --config file takes them (long option names, without `--`). */
function launchOptions(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < args.length; i += 2) if (args[i] !== '--name') out[args[i].replace(/^--/, '')] = args[i + 1];
  return out;
}

/** One connection's clusters: deploys the runtime once for all of them. */
export class ClusterManager {
  readonly deployer: Deployer;
  readonly agent: AgentClient;
  constructor(readonly transport: Transport, private readonly options: Omit<ClusterOptions, 'deployer' | 'agent'> = {}) {
    this.deployer = new Deployer(transport, options.runtime ?? loadRuntimeBundle());
    this.agent = new AgentClient(transport, this.deployer.runtime, () => this.deployer.deploy({ onProgress: options.onProgress }), options.mode);
  }

  cluster(config: ClusterConfig): Cluster {
    return new Cluster(this.transport, config, { ...this.options, deployer: this.deployer, agent: this.agent });
  }

  /** Ends the session agents; the connection itself is the caller's. */
  close(): void {
    this.agent.closeSessions();
  }
}

