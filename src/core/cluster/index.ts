// The cluster lifecycle's public surface: what the CLI and the VS Code front end build on.
export { Deployer } from './deployer';
export { Cluster, ClusterManager } from './cluster';
export { describeCount } from './waits';
export type {
  ActionOptions, AdaptRequest, AdaptResult, CancelJobsResult, ClusterOptions, DownOptions, DownResult,
  ScaleRequest, ScaleResult, SchedulerInfo, StartedScheduler, StartOptions, UpResult, WaitOptions, WorkersCount,
  WorkersWaitOptions, WorkersWaitResult,
} from './actions';
export type { CancelledJob, CancelOutcome, JobState, SchedulerAction } from './answers';
export { checkCeiling, describeCeiling, jobCeiling, MAX_JOBS_SETTING, type JobCeiling } from './ceiling';
export { deployRuntime, type DeployOptions, type DeployResult } from './deploy';
export { discoverClusters, type DiscoverOptions, type DiscoveredCluster } from './discover';
export { cancelOtherJobs, listOtherJobs, type OtherJobsOptions } from './otherJobs';
export {
  AgentProtocolError, ClusterError, ClusterLockedError, ConfigFileError, DaskNotFoundError, DeployError,
  InvalidClusterNameError, JobCeilingError, PbsUnavailableError, PythonNotFoundError, RemoteCommandError, RemoteOutputError, RunFileError, SchedulerNotRunningError,
  RuntimeFilesError, SchedulerStartError, SchedulerTimeoutError, type ClusterErrorCode,
} from './errors';
export { loadClusterConfig, parseClusterConfig } from './configFile';
export { assertClusterName, clusterNameOf, clusterPaths, CLUSTER_NAME, jobDisplayName, schedulerJobName, type ClusterPaths } from './names';
export { clientSnippet } from './clientSnippet';
export { compareVersions, connectLocalClient, localClientSnippet, THROUGH_THE_TUNNEL, type LocalClient, type LocalClientOptions, type VersionCheck } from './localClient';
export {
  kernelCancelOutcome, kernelJobName, kernelSettings, renderKernelJobScript, type KernelSettings, type KernelStartOptions, type KernelStatus,
} from './kernel';
export { MAX_RUN_FILE_BYTES, newRunId, renderRunJobScript, runFileName, type RunFileOptions, type RunFileResult } from './runFile';
export { clockTime, targetSummary, type TargetSummary } from './target';
export { tlsEnabled, workerScriptContext } from './tls';
export { findRuntimeDir, loadRuntimeBundle, type RuntimeBundle } from './runtimeBundle';
export type { AdaptiveStatus, RuntimeMetadata, WorkerStatus } from './runtimeDocs';
export {
  activeKernelJob, type ClusterJob, type ClusterSnapshot, type JobRecord, type JobRole, type SchedulerSnapshot, type SchedulerState,
} from './snapshot';
export { buildReport, groupRuns, reportJobs, reportJson, type ClusterReport, type ReportJob, type ReportRun } from './report';
export {
  kernelExpiry, KERNEL_EXPIRY_NOTICE_SECONDS, schedulerExpiry, SCHEDULER_EXPIRY_NOTICE_SECONDS, type SchedulerExpiry, type WalltimeNotice,
} from './walltimeNotice';
