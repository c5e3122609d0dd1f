// Everything the extension host uses of the core at run time, as one lazily loaded bundle (see core.ts).
export {
  activeKernelJob, cancelOtherJobs, checkCeiling, clientSnippet, clockTime, ClusterError, ClusterManager, clusterNameOf, clusterPaths, ConfigFileError,
  connectLocalClient, describeCount, discoverClusters, jobCeiling, jobDisplayName, listOtherJobs, parseClusterConfig, runFileName,
  kernelExpiry, schedulerExpiry, targetSummary, tlsEnabled,
  workerScriptContext,
} from '../core/cluster';
export { HISTORY_NOTIFICATION, historyFacts } from '../core/cluster/advice';
export { reportModel } from '../core/cluster/report';
export { SCHEDULER_MEMORY, SCHEDULER_NCPUS, schedulerDirectives, schedulerQueue } from '../core/cluster/schedulerJob';
export { estimateJobCost } from '../core/config/cost';
export { ConvertError } from '../core/convert/canonical';
export { configFromDaskConfig, pythonFromConfig } from '../core/convert/fromConfig';
export { callHeader, configFileBase, renderDraft } from '../core/convert/fromPython';
export { checkBeforeSubmit } from '../core/lintGate';
export { defaultProcesses, renderJobScript } from '../core/pbs/jobScript';
export { QsubError, QsubQueueLimitError } from '../core/pbs/submit';
export { abortable } from '../core/remote/cancellation';
export { AbortedError, AuthError, HostKeyError, RemoteFileError, SshConfigError, TransportError } from '../core/remote/errors';
export { LocalTransport } from '../core/remote/localTransport';
export { SshTransportPool } from '../core/remote/sshTransport';
export { NotebookKernelSession, openKernelServer, tokenHeader } from '../core/notebook/kernelSession';
export { OutputBudget } from '../core/notebook/outputs';
export { formatWalltime } from '../core/units';
