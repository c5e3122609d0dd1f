// The cluster lifecycle over a Transport: up, scale, adapt, status, down, and waiting for the scheduler. Each user
// action is one remote round trip (plus a one-time deploy, and polling while a scheduler job starts); the cluster's
// state lives on the cluster (~/.gadi-dask/clusters/<name>/), so any client can pick it up where another left it.
import { hostname } from 'node:os';
import type { ClusterConfig } from '../config/schema';
import { DEFAULT_PYTHON, effectivePrologue, renderJobScript, workerLayout } from '../pbs/jobScript';
import { parseQstatJson, QstatParseError } from '../pbs/qstat';
import { describeExitStatus } from '../pbs/states';
import { JOB_ID, type QsubError } from '../pbs/submit';
import { AbortedError } from '../remote/errors';
import type { Transport } from '../remote/transport';
import { VERSION } from '../version';
import { readApplyOutput, readCancelOutput, readDownOutput, type ApplyOutcome, type CancelledJob, type JobState, type SchedulerAction } from './applyResult';
import { deployRuntime, type DeployResult } from './deploy';
import { RemoteOutputError, RuntimeFilesError, SchedulerStartError, SchedulerTimeoutError } from './errors';
import { assertClusterName, clusterPaths, type ClusterPaths } from './names';
import { excerptOf, parseSections, type Sections } from './output';
import { applyScript, cancelScript, downScript, probeScript, statusScript, type ApplyPlan, type RemoteScript, type ScriptContext } from './remoteScript';
import { checkDoc, metadataSchema, type RuntimeMetadata } from './runtimeDocs';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
import { pythonWord, renderSchedulerJobScript, schedulerLaunch } from './schedulerJob';
import { buildSnapshot, type ClusterSnapshot } from './snapshot';

export interface ActionOptions {
  signal?: AbortSignal;
  /** Called with a sentence whenever something worth telling the user happens. */
  onProgress?: (message: string) => void;
}

export interface WaitOptions extends ActionOptions {
  /** How long to wait for a scheduler job to start; default 10 minutes. The job is not cancelled after. */
  timeoutMs?: number;
  /** First pause between polls; it grows to `maxPollMs` (NCI asks for gentle polling). Default 1 s. */
  pollMs?: number;
  maxPollMs?: number;
}

export interface StartOptions extends WaitOptions {
  /** Wait for a scheduler started by this action to run (default true). */
  wait?: boolean;
}

export type ScaleRequest = { jobs: number } | { workers: number };

export interface AdaptRequest {
  /** Bounds on the number of worker jobs. */
  minimum: number;
  maximum: number;
}

export interface DownOptions extends ActionOptions {
  /** Also remove ~/.gadi-dask/clusters/<name>/ (PBS output files included). */
  purge?: boolean;
  /** Seconds the runtime waits for the scheduler to stop cleanly; default 30. */
  shutdownTimeoutSeconds?: number;
}

export interface SchedulerInfo {
  address: string;
  dashboard?: { host: string; port: number; url: string };
  /** The scheduler's PBS job (placement job). */
  jobId?: string;
  placement?: string;
  host?: string;
  /** `~/.gadi-dask/clusters/<name>/scheduler.json`: what `Client(scheduler_file=…)` takes. */
  schedulerFile: string;
}

export interface StartedScheduler {
  /** What this action found or did about the scheduler. */
  action: SchedulerAction;
  /** Set once it is known to run (after waiting, or at once for login placement). */
  info?: SchedulerInfo;
}

export interface UpResult {
  deploy: DeployResult;
  scheduler: StartedScheduler;
  warnings: string[];
}

export interface ScaleResult {
  /** The number of worker jobs asked for. */
  targetJobs: number;
  /** Worker jobs in the queue before, by state. */
  before: JobState[];
  submitted: string[];
  cancelled: CancelledJob[];
  /** qsub refusals (the first one stops the submissions: the next would be refused the same way). */
  errors: QsubError[];
  /** The scheduler, when this scale had to start one. */
  scheduler?: StartedScheduler;
  adaptWasOn: boolean;
  warnings: string[];
}

export interface AdaptResult {
  enabled: boolean;
  minimum?: number;
  maximum?: number;
  /** Jobs already in the queue that adaptivity now counts and owns. */
  adopted: number;
  scheduler?: StartedScheduler;
  warnings: string[];
}

export interface DownResult {
  existed: boolean;
  wasRunning: boolean;
  retiredWorkers: string[];
  cancelled: CancelledJob[];
  purged: boolean;
  warnings: string[];
}

export interface CancelJobsResult {
  /** One entry per id asked for, in that order. */
  cancelled: CancelledJob[];
  warnings: string[];
}

export interface ClusterOptions {
  onProgress?: (message: string) => void;
  /** The runtime to deploy; default this build's. */
  runtime?: RuntimeBundle;
  /** How long to wait for another client's lock on the cluster; default 60 s. */
  lockWaitSeconds?: number;
  /** Names this client in another client's "locked" message. */
  client?: string;
  /** Shares the deployment between clusters on one connection (ClusterManager passes its own). */
  deployer?: Deployer;
}

const STATUS_TIMEOUT_MS = 45_000;
const PROBE_TIMEOUT_SECONDS = 5;

/** A pause that a cancellation ends with the same AbortedError the transport gives. */
function sleep(ms: number, what: string, signal?: AbortSignal): Promise<void> {
  const cancelled = () => new AbortedError(`${what} was cancelled.`);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const timer = setTimeout(() => {
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

/** Deploys the runtime once per connection; `deploy()` checks again. */
export class Deployer {
  private done?: Promise<DeployResult>;
  constructor(readonly transport: Transport, readonly runtime: RuntimeBundle) {}

  deploy(options: ActionOptions = {}): Promise<DeployResult> {
    const p = deployRuntime(this.transport, { bundle: this.runtime, ...options });
    this.done = p;
    // A failed deploy is forgotten (the caller gets the error), so the next action tries again.
    p.catch(() => {
      if (this.done === p) this.done = undefined;
    });
    return p;
  }

  ensure(options: ActionOptions = {}): Promise<DeployResult> {
    return this.done ?? this.deploy(options);
  }
}

export class Cluster {
  /** The cluster's name: jobqueue.pbs.name, the PBS job name of its workers. */
  readonly name: string;
  readonly paths: ClusterPaths;
  readonly runtime: RuntimeBundle;
  private readonly deployer: Deployer;
  private readonly onProgress: (message: string) => void;

  constructor(readonly transport: Transport, readonly config: ClusterConfig, private readonly options: ClusterOptions = {}) {
    this.name = assertClusterName(config.jobqueue.pbs.name);
    this.runtime = options.runtime ?? options.deployer?.runtime ?? loadRuntimeBundle();
    this.paths = clusterPaths(this.name, this.runtime.version);
    this.deployer = options.deployer ?? new Deployer(transport, this.runtime);
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
    const outcome = await this.apply({ workerScript: this.workerJobScript(), ensureScheduler: this.ensurePlan() }, options, 0);
    const scheduler = await this.settleScheduler(outcome.scheduler!, options, true);
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
    const plan: ApplyPlan = { workerScript: this.workerJobScript(), scaleTo: target };
    if (target > 0) plan.ensureScheduler = this.ensurePlan();
    const outcome = await this.apply(plan, options, target);
    const result: ScaleResult = {
      targetJobs: target,
      before: outcome.before.filter((j) => j.id !== this.schedulerJobIn(outcome)),
      submitted: outcome.submitted,
      cancelled: outcome.cancelled,
      errors: outcome.submitErrors,
      adaptWasOn: outcome.adaptWasOn ?? false,
      warnings: outcome.warnings,
    };
    if (outcome.submitted.length) progress(`Submitted ${outcome.submitted.length} job(s): ${outcome.submitted.join(', ')}`);
    if (outcome.cancelled.length) progress(`Cancelled ${outcome.cancelled.length} job(s): ${outcome.cancelled.map((c) => c.id).join(', ')}`);
    // Nothing submitted although jobs were needed: the refusal is the answer.
    if (outcome.submitErrors.length && outcome.submitted.length === 0) throw outcome.submitErrors[0];
    if (outcome.scheduler) result.scheduler = await this.settleScheduler(outcome.scheduler, options);
    return result;
  }

  /** Keeps the cluster between `minimum` and `maximum` worker jobs; the scheduler's launcher does it from now on. */
  async adapt(request: AdaptRequest | 'off', options: StartOptions = {}): Promise<AdaptResult> {
    if (request === 'off') {
      const outcome = await this.apply({ workerScript: this.workerJobScript(), adapt: 'off' }, options, 0);
      return { enabled: false, adopted: 0, warnings: outcome.warnings };
    }
    const { minimum, maximum } = request;
    if (!Number.isInteger(minimum) || !Number.isInteger(maximum) || minimum < 0 || maximum < minimum) {
      throw new RangeError(`adaptive bounds must be whole numbers with 0 ≤ minimum ≤ maximum (got ${minimum} and ${maximum})`);
    }
    const layout = this.layout;
    // The worker job ids already in the queue are appended on the cluster (remoteLib gd_adapt_on).
    const head = JSON.stringify({
      min: minimum, max: maximum, threadsPerJob: layout.threads * layout.processes, jobScript: 'worker.pbs', qsubArgs: [],
    }).replace(/}$/, ',"jobs":[');
    const outcome = await this.apply({
      workerScript: this.workerJobScript(), ensureScheduler: this.ensurePlan(), adapt: { jsonHead: head },
    }, options, 0);
    const scheduler = outcome.scheduler ? await this.settleScheduler(outcome.scheduler, options) : undefined;
    return { enabled: true, minimum, maximum, adopted: outcome.adaptAdopted ?? 0, scheduler, warnings: outcome.warnings };
  }

  /** One refresh: jobs from qstat (recently finished ones too), workers from the scheduler, in one exec. */
  async status(options: ActionOptions = {}): Promise<ClusterSnapshot> {
    const script = statusScript(this.context(STATUS_TIMEOUT_MS), PROBE_TIMEOUT_SECONDS);
    const sections = await this.run(script, `the status of cluster ${this.name}`, STATUS_TIMEOUT_MS, options);
    return buildSnapshot({ cluster: this.name, host: this.transport.host, workerPrefix: this.config.jobqueue.pbs.name, sections });
  }

  /** Retires the workers, stops the scheduler, cancels every job of the cluster (the scheduler's too), cleans up. */
  async down(options: DownOptions = {}): Promise<DownResult> {
    const progress = this.progress(options);
    progress(`Shutting down cluster ${this.name} on ${this.transport.host}`);
    const shutdownSeconds = options.shutdownTimeoutSeconds ?? 30;
    const timeoutMs = (shutdownSeconds + 90 + this.lockWaitSeconds) * 1000;
    const script = downScript(this.context(timeoutMs), shutdownSeconds, options.purge ?? false);
    const sections = await this.run(script, `shutting down cluster ${this.name}`, timeoutMs, options);
    const outcome = readDownOutput(sections, this.applyContext());
    if (outcome.cancelled.length) progress(`Cancelled ${outcome.cancelled.length} job(s): ${outcome.cancelled.map((c) => c.id).join(', ')}`);
    return outcome;
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
    const script = cancelScript(this.context(timeoutMs), ids);
    const sections = await this.run(script, `cancelling jobs of cluster ${this.name}`, timeoutMs, options);
    const outcome = readCancelOutput(sections, ids, this.applyContext());
    const done = outcome.cancelled.filter((c) => c.outcome === 'deleted');
    if (done.length) progress(`Cancelled ${done.length} job(s): ${done.map((c) => c.id).join(', ')}`);
    return outcome;
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
      const sections = await this.run(probeScript(this.context(30_000), jobId), `the scheduler of cluster ${this.name}`, 30_000, options);
      const probe = this.readProbe(sections, jobId);
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

  private ensurePlan(): ApplyPlan['ensureScheduler'] {
    if (this.config.scheduler.placement === 'login') {
      return { placement: 'login', args: schedulerLaunch(this.config, this.name).args };
    }
    return { placement: 'job', script: this.schedulerJobScript() };
  }

  private context(timeoutMs: number): ScriptContext {
    const pbs = this.config.jobqueue.pbs;
    return {
      cluster: this.name,
      version: this.runtime.version,
      hash: this.runtime.hash,
      pythonWord: pythonWord(this.config),
      prologue: effectivePrologue(pbs),
      client: this.options.client ?? `gadi-dask ${VERSION} on ${hostname()} (pid ${process.pid})`,
      lockWaitSeconds: this.lockWaitSeconds,
      lockTtlSeconds: Math.ceil(timeoutMs / 1000) + 5,
    };
  }

  private applyContext() {
    return { cluster: this.name, host: this.transport.host, python: this.config.jobqueue.pbs.python ?? DEFAULT_PYTHON };
  }

  private async run(script: RemoteScript, what: string, timeoutMs: number, options: ActionOptions): Promise<Sections> {
    const r = await this.transport.exec(script.command, { timeoutMs, signal: options.signal });
    return parseSections(r.stdout, script.marker, what, r.stderr);
  }

  /** Runs an apply script; deploys first and runs it again when the runtime is missing or outdated. */
  private async apply(plan: ApplyPlan, options: StartOptions, submissions: number): Promise<ApplyOutcome> {
    // Each qsub may take a few seconds on a busy server; retiring workers up to a minute.
    const timeoutMs = (this.lockWaitSeconds + 150 + 5 * submissions) * 1000;
    const what = `cluster ${this.name}`;
    for (let attempt = 0; ; attempt++) {
      const sections = await this.run(applyScript(this.context(timeoutMs), plan), what, timeoutMs, options);
      const outcome = readApplyOutput(sections, this.applyContext());
      if (!outcome.needsRuntime) return outcome;
      if (attempt > 0) {
        throw new RuntimeFilesError(`The gadi-dask runtime ${this.runtime.version} was installed on ${this.transport.host} but is not found there right after; is ~/.gadi-dask on a full or read-only filesystem?`);
      }
      await this.deploy(options);
    }
  }

  private schedulerJobIn(outcome: ApplyOutcome): string | undefined {
    const s = outcome.scheduler;
    return s?.kind === 'job-exists' || s?.kind === 'submitted' ? s.jobId : undefined;
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

  private readProbe(sections: Sections, jobId: string | undefined): { info?: SchedulerInfo; waiting: string } {
    if (sections.first('nocluster')) return { waiting: 'the cluster directory does not exist yet' };
    let meta: RuntimeMetadata | undefined;
    const metaText = sections.first('meta')?.body.trim();
    if (metaText) {
      try {
        meta = checkDoc(metadataSchema, JSON.parse(metaText), 'runtime.json');
      } catch (e) {
        if (!(e instanceof SyntaxError)) throw e;
        throw new RemoteOutputError(`runtime.json of cluster ${this.name} is not JSON: ${excerptOf(metaText)}`, excerptOf(metaText), { cause: e });
      }
    }
    const schedFile = sections.first('schedfile')?.tag[1] === '1';
    const ours = meta && (jobId === undefined || meta.pbsJobId === jobId);
    if (ours && meta!.state === 'running' && schedFile && meta!.address) {
      return {
        waiting: '',
        info: {
          address: meta!.address, dashboard: meta!.dashboard ?? undefined, jobId: meta!.pbsJobId ?? undefined,
          placement: meta!.placement ?? undefined, host: meta!.host ?? undefined, schedulerFile: this.paths.schedulerFile,
        },
      };
    }
    const log = [sections.first('log')?.body, sections.first('runlog')?.body].filter((t) => t?.trim()).join('\n');
    if (ours && (meta!.state === 'failed' || meta!.state === 'stopped')) {
      throw new SchedulerStartError(
        `The scheduler of cluster ${this.name} ${meta!.state === 'failed' ? 'failed to start' : 'stopped'}: ${meta!.error ?? meta!.stopReason ?? 'no reason recorded'}.` +
          (log ? ` The end of its log: ${excerptOf(log, 800)}` : ''),
        jobId, log);
    }
    if (jobId === undefined) return { waiting: 'waiting for the scheduler to start' };
    const q = sections.first('qstat');
    let job;
    if (q?.body.trim()) {
      try {
        job = parseQstatJson(q.body).jobs.find((j) => j.id === jobId);
      } catch (e) {
        if (!(e instanceof QstatParseError)) throw e;
        throw new RemoteOutputError(`qstat printed output that cannot be read: ${e.message}`, e.excerpt, { cause: e });
      }
    }
    if (!job) return { waiting: `scheduler job ${jobId} is not known to PBS yet` };
    if (job.stateInfo.finished) {
      const status = job.exitStatus !== undefined ? describeExitStatus(job.exitStatus) : 'ended';
      throw new SchedulerStartError(
        `The scheduler job ${jobId} of cluster ${this.name} ended before the scheduler ran: ${status}.` +
          (log ? ` The end of its output: ${excerptOf(log, 800)}` : ' It left no output in the cluster directory.'),
        jobId, log);
    }
    if (job.stateInfo.phase === 'pending') {
      return { waiting: `scheduler job ${jobId} is ${job.stateInfo.label.toLowerCase()}${job.comment ? ` (${job.comment})` : ''}` };
    }
    return { waiting: `scheduler job ${jobId} is running${job.nodes.length ? ` on ${job.nodes.join(', ')}` : ''}; waiting for the scheduler to start` };
  }
}

/** One connection's clusters: deploys the runtime once for all of them. */
export class ClusterManager {
  readonly deployer: Deployer;
  constructor(readonly transport: Transport, private readonly options: Omit<ClusterOptions, 'deployer'> = {}) {
    this.deployer = new Deployer(transport, options.runtime ?? loadRuntimeBundle());
  }

  cluster(config: ClusterConfig): Cluster {
    return new Cluster(this.transport, config, { ...this.options, deployer: this.deployer });
  }
}

