// The cluster lifecycle over a Transport: up, scale, adapt, status, down, and waiting for the scheduler. Each user
// action is one remote round trip (plus a one-time deploy, and polling while a scheduler job starts); the cluster's
// state lives on the cluster (~/.gadi-dask/clusters/<name>/), so any client can pick it up where another left it.
// This is the public face; the work is in lifecycle.ts, waits.ts and clusterCore.ts.
import type { ClusterConfig } from '../config/schema';
import type { ForwardHandle, Transport } from '../remote/transport';
import type {
  ActionOptions, AdaptRequest, AdaptResult, CancelJobsResult, ClusterOptions, DownOptions, DownResult, ScaleRequest, ScaleResult,
  SchedulerInfo, StartOptions, UpResult, WaitOptions, WorkersWaitOptions, WorkersWaitResult,
} from './actions';
import { AgentClient, type AgentEnvironment } from './agent';
import { callOptions, ClusterCore, STATUS_TIMEOUT_MS } from './clusterCore';
import type { DeployResult } from './deploy';
import { Deployer } from './deployer';
import { adapt, cancelJobs, down, scale, up } from './lifecycle';
import type { ClusterPaths } from './names';
import { buildReport, type ClusterReport } from './report';
import type { CancelledJob } from './answers';
import {
  kernelCancelOutcome, kernelScriptPath, kernelStatus, kernelTokenPath, renderKernelJobScript, startKernel, stopKernel, type KernelStartOptions,
  type KernelStatus,
} from './kernel';
import { runFile, type RunFileOptions, type RunFileResult } from './runFile';
import { loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
import type { DashboardInfo } from './runtimeDocs';
import type { ClusterSnapshot } from './snapshot';
import { waitForScheduler, waitForWorkers } from './waits';

export class Cluster {
  /** The cluster's name (clusterNameOf), the PBS job name of its workers. */
  readonly name: string;
  readonly paths: ClusterPaths;
  readonly runtime: RuntimeBundle;
  private readonly core: ClusterCore;

  constructor(readonly transport: Transport, readonly config: ClusterConfig, options: ClusterOptions = {}) {
    this.core = new ClusterCore(transport, config, options);
    this.name = this.core.name;
    this.runtime = this.core.runtime;
    this.paths = this.core.paths;
  }

  /** Processes per job, threads per process: how workers map to jobs. */
  get layout() {
    return this.core.layout;
  }

  /** The worker job script: PBSCluster's, joining through the cluster's scheduler file. */
  workerJobScript(): string {
    return this.core.workerJobScript();
  }

  /** The scheduler's job script (placement: job). */
  schedulerJobScript(): string {
    return this.core.schedulerJobScript();
  }

  /** The kernel's job script as the config makes it now. */
  kernelJobScript(): string {
    return renderKernelJobScript(this.core);
  }

  /** Where the script of the kernel's latest job is on the cluster (what qsub got). */
  get kernelScriptPath(): string {
    return kernelScriptPath(this.core);
  }

  /** Worker jobs for a request: N workers need ⌈N / processes per job⌉ jobs. */
  jobsFor(request: ScaleRequest): number {
    return this.core.jobsFor(request);
  }

  /** What the agent's shell needs before python: the prologue, and the python the workers run. */
  get environment(): AgentEnvironment {
    return this.core.environment;
  }

  /** Installs the runtime unless this exact one is there (one exec when it is). */
  deploy(options: ActionOptions = {}): Promise<DeployResult> {
    return this.core.deployer.deploy({ ...options, onProgress: this.core.progress(options) });
  }

  /** Deploys, then starts the scheduler unless one runs or is queued; waits for it unless `wait: false`. */
  up(options: StartOptions = {}): Promise<UpResult> {
    return up(this.core, options);
  }

  /**
   * Reaches `request` worker jobs in one exec: submits the missing ones, or cancels queued jobs (newest first) and
   * then running ones (their workers retired first). Starts the scheduler first when none runs (and the target is not
   * 0); new workers then wait for its job to start. Turns adaptivity off.
   */
  scale(request: ScaleRequest, options: StartOptions = {}): Promise<ScaleResult> {
    return scale(this.core, request, options);
  }

  /** Keeps the cluster between `minimum` and `maximum` worker jobs; the scheduler's launcher does it from now on. */
  adapt(request: AdaptRequest | 'off', options: StartOptions = {}): Promise<AdaptResult> {
    return adapt(this.core, request, options);
  }

  /** One refresh: jobs from qstat (recently finished ones too), workers from the scheduler, in one exec. */
  async status(options: ActionOptions = {}): Promise<ClusterSnapshot> {
    return this.core.snapshotOf(await this.core.snapshotAnswer(options));
  }

  /**
   * A local port on 127.0.0.1 that reaches the scheduler's dashboard over this connection. A secured cluster's
   * dashboard is behind a door that wants the cluster's keys: they are read over the same connection and kept in
   * memory for the tunnel only.
   */
  async forwardDashboard(dashboard: DashboardInfo, localPort = 0): Promise<ForwardHandle> {
    if (!dashboard.tls) return this.transport.forward(dashboard.host, dashboard.port, localPort);
    const [cert, key] = await Promise.all([this.transport.readFile(this.paths.tlsCert), this.transport.readFile(this.paths.tlsKey)]);
    return this.transport.forward(dashboard.host, dashboard.port, localPort, { ca: cert, cert, key });
  }

  /** Retires the workers, stops the scheduler, cancels every job of the cluster (the scheduler's too), cleans up. */
  down(options: DownOptions = {}): Promise<DownResult> {
    return down(this.core, options);
  }

  /**
   * Cancels some of the cluster's jobs in one exec, under its lock: running worker jobs have their workers retired
   * first (their data moves to the workers that stay). Ids that are not the cluster's are refused, not cancelled.
   */
  cancelJobs(ids: readonly string[], options: ActionOptions = {}): Promise<CancelJobsResult> {
    return cancelJobs(this.core, ids, options);
  }

  /** What every job of the cluster asked for, used and cost, from the history the agent keeps on the cluster. */
  async report(options: ActionOptions = {}): Promise<ClusterReport> {
    const answer = await this.core.call('history', { cluster: this.name, client: this.core.client }, `the history of cluster ${this.name}`,
      callOptions(STATUS_TIMEOUT_MS, options));
    return buildReport(this.name, this.transport.host, answer);
  }

  /**
   * Runs a Python file as a PBS job of a worker's size whose `Client()` connects to this cluster, streaming its output
   * until the job ends; aborting cancels the job.
   */
  runFile(options: RunFileOptions): Promise<RunFileResult> {
    return runFile(this.core, options);
  }

  /** Starts the kernel next to the cluster (or finds the one running) and waits until its Jupyter server listens. */
  startKernel(options: KernelStartOptions = {}): Promise<KernelStatus> {
    return startKernel(this.core, options);
  }

  /** The kernel's job state and where its server listens (never its token). */
  kernelStatus(options: ActionOptions = {}): Promise<KernelStatus> {
    return kernelStatus(this.core, options);
  }

  /** Cancels the kernel's job (or ends its login-node process) and waits for it to leave PBS. */
  stopKernel(options: ActionOptions = {}): Promise<KernelStatus> {
    return stopKernel(this.core, options);
  }

  /** Cancel Job on the kernel's job: the kernel's own stop, of that job only (never the worker cancel path). */
  async cancelKernelJob(jobId: string, options: ActionOptions = {}): Promise<CancelledJob> {
    return kernelCancelOutcome(jobId, await stopKernel(this.core, { ...options, jobId, waitSeconds: 0 }));
  }

  /** Where the kernel's token is on the cluster: read it over this connection, never copy it elsewhere. */
  get kernelTokenPath(): string {
    return kernelTokenPath(this.core);
  }

  /**
   * Waits until `jobs` worker jobs have all their Dask workers connected (processes per job × jobs), the signal
   * aborts, or the timeout passes. The cluster goes on either way: the jobs keep their place in the queue.
   */
  waitForWorkers(jobs: number, options: WorkersWaitOptions = {}): Promise<WorkersWaitResult> {
    return waitForWorkers(this.core, jobs, options);
  }

  /**
   * Polls until the scheduler of `jobId` (or, without one, any scheduler of the cluster) runs: the scheduler file is
   * there and runtime.json says running for that job. Fails when the job ends first, with the end of its log.
   */
  waitForScheduler(jobId: string | undefined, options: WaitOptions = {}): Promise<SchedulerInfo> {
    return waitForScheduler(this.core, jobId, options);
  }
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
