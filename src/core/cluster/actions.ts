// What the lifecycle's actions take and give back: the options of up, scale, adapt, status and down, and their
// results as the front ends render them.
import type { QsubError } from '../pbs/submit';
import type { AgentClient, AgentMode } from './agent';
import type { CancelledJob, JobState, SchedulerAction } from './answers';
import type { DeployResult } from './deploy';
import type { Deployer } from './deployer';
import type { RuntimeBundle } from './runtimeBundle';
import type { DashboardInfo } from './runtimeDocs';

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
  /** Scale 0: seconds to wait for cancelled jobs to leave PBS (a deleted running job stays R a while); default 60. */
  waitSeconds?: number;
}

export type ScaleRequest = { jobs: number } | { workers: number };

export interface AdaptRequest {
  /** Bounds on the number of worker jobs. */
  minimum: number;
  maximum: number;
}

export interface DownOptions extends ActionOptions {
  /** Seconds to wait for cancelled jobs to leave PBS (a deleted running job stays R for a while); default 60. */
  waitSeconds?: number;
  /** Also remove ~/.gadi-dask/clusters/<name>/ (PBS output files included). */
  purge?: boolean;
  /** Seconds the runtime waits for the scheduler to stop cleanly; default 30. */
  shutdownTimeoutSeconds?: number;
  /** Leave the kernel next to the cluster running (default: it is stopped with the cluster). */
  keepKernel?: boolean;
}

export interface SchedulerInfo {
  address: string;
  dashboard?: DashboardInfo;
  /** The scheduler's PBS job (placement job). */
  jobId?: string;
  placement?: string;
  host?: string;
  /** Placement persistent-session: the session's name. */
  session?: string;
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
  /** Scale 0: cancelled jobs PBS still ran when the wait ended. */
  exiting: string[];
  /** The scheduler, when this scale had to start one. */
  scheduler?: StartedScheduler;
  adaptWasOn: boolean;
  /**
   * The size the scheduler now holds: a job that ends is replaced, one near its retirement gets a successor. Less
   * than `targetJobs` when the scale stopped or qsub refused (a refusal is not retried blindly); 0 for scale 0.
   */
  holding: number;
  /** Cancelled by the caller's signal: the agent stopped between two submissions; the lists say what it had done. */
  stopped: boolean;
  warnings: string[];
}

export interface WorkersWaitOptions extends ActionOptions {
  /** Give up after this long (the jobs stay queued); default 10 minutes. */
  timeoutMs?: number;
  /**
   * First pause between snapshots (each asks PBS), growing to `maxPollMs` while PBS's answer stays the same and back
   * to the first after it changes: NCI asks for gentle polling. Defaults FIRST_SNAPSHOT_PAUSE_MS and
   * MAX_SNAPSHOT_PAUSE_MS (waits.ts). In between, the agent watches the scheduler alone, so a worker that joins is
   * seen at once.
   */
  pollMs?: number;
  maxPollMs?: number;
  /**
   * The scale this wait follows: its answer names the worker jobs, so the wait asks the scheduler alone until its
   * first snapshot is due (a pause later) instead of asking PBS again at once.
   */
  after?: Pick<ScaleResult, 'before' | 'cancelled' | 'submitted'>;
  /** Each snapshot's count, as it changes (the front ends show `3/8 workers connected`). */
  onCount?: (count: WorkersCount) => void;
}

export interface WorkersCount {
  connected: number;
  expected: number;
  /** Worker jobs still queued, with PBS's reason (the job's `comment`) when it gives one. */
  queued: { id: string; comment?: string }[];
}

export interface WorkersWaitResult extends WorkersCount {
  /** All expected workers connected. */
  done: boolean;
  /** The wait ended by timeout (done false). */
  timedOut: boolean;
  /** The wait ended early because the cluster cannot reach the asked size (done false): why. */
  cannotReach?: string;
  waitedMs: number;
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
  /** Cancelled jobs PBS still ran when the wait ended. */
  exiting: string[];
  wasRunning: boolean;
  cancelled: CancelledJob[];
  purged: boolean;
  warnings: string[];
  /** Placement persistent-session: the sentence saying the session is still running (it is never stopped). */
  sessionLeft?: string;
  /** The kernel next to the cluster: its job (or `pid N` on the login node) stopped, or kept running as asked. */
  kernel: { stopped: string[]; kept: string[] };
  /** keepKernel: the sentence saying the kernel still runs, and how to stop it. */
  kernelLeft?: string;
}

export interface CancelJobsResult {
  /** One entry per id asked for, in that order. */
  cancelled: CancelledJob[];
  /** A held cluster holds fewer jobs by the worker jobs cancelled (the others that end are replaced). */
  holding?: number;
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
  /** Shares the agent (and, in session mode, its long-lived process) between clusters on one connection. */
  agent?: AgentClient;
  /** One long-lived agent per connection instead of one per action (the editor's choice; default one-shot). */
  mode?: AgentMode;
  /** qsubs a minute after the first 20 of a large scale; default Gadi's 20 (GADI_SUBMISSIONS_PER_MINUTE). */
  submitRate?: number;
}
