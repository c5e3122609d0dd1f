// Typed failures of the cluster lifecycle. Each message says what happened and what to do about it, so front ends
// show `message` as it is; `code` is stable for programs. Transport failures (TransportError) and qsub refusals
// (QsubError, QsubQueueLimitError) pass through as they are: they already say what to do.

export type ClusterErrorCode =
  | 'invalid-name'
  | 'config'
  | 'remote-output'
  | 'locked'
  | 'no-python'
  | 'no-dask'
  | 'no-pbs'
  | 'deploy'
  | 'runtime-files'
  | 'scheduler-failed'
  | 'scheduler-timeout'
  | 'remote-command'
  | 'job-ceiling'
  | 'not-running'
  | 'run-file';

export abstract class ClusterError extends Error {
  abstract readonly code: ClusterErrorCode;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A cluster name the runtime cannot use as a directory name (and so never put in a command). */
export class InvalidClusterNameError extends ClusterError {
  readonly code = 'invalid-name';
}

/** The cluster config file is missing, not YAML, or not a valid cluster config. */
export class ConfigFileError extends ClusterError {
  readonly code = 'config';
  constructor(message: string, readonly path?: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A remote command printed something we cannot read: its markers are missing, or a document is not JSON. */
export class RemoteOutputError extends ClusterError {
  readonly code = 'remote-output';
  constructor(message: string, readonly excerpt: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Another client holds the cluster's lock for longer than we were willing to wait. */
export class ClusterLockedError extends ClusterError {
  readonly code = 'locked';
  constructor(message: string, readonly owner: string) {
    super(message);
  }
}

/** The configured python is not on PATH after the prologue. */
export class PythonNotFoundError extends ClusterError {
  readonly code = 'no-python';
  constructor(message: string, readonly python: string, readonly prologueOutput: string) {
    super(message);
  }
}

/** The configured python runs but cannot import Dask's `distributed`. */
export class DaskNotFoundError extends ClusterError {
  readonly code = 'no-dask';
  constructor(message: string, readonly python: string, readonly prologueOutput: string) {
    super(message);
  }
}

/** qsub/qstat/qdel are not on PATH in a login shell, or the PBS server did not answer. */
export class PbsUnavailableError extends ClusterError {
  readonly code = 'no-pbs';
  constructor(message: string, readonly output: string) {
    super(message);
  }
}

/** The runtime could not be installed on the cluster; `installerCode` is install.sh's code (README "Deploying"). */
export class DeployError extends ClusterError {
  readonly code = 'deploy';
  constructor(message: string, readonly installerCode: string) {
    super(message);
  }
}

/** The runtime's files are not where this build expects them (a broken installation of the extension). */
export class RuntimeFilesError extends ClusterError {
  readonly code = 'runtime-files';
}

/** The scheduler (its job, or the detached launcher) ended or failed before it was running. */
export class SchedulerStartError extends ClusterError {
  readonly code = 'scheduler-failed';
  constructor(message: string, readonly jobId: string | undefined, readonly log: string) {
    super(message);
  }
}

/** The scheduler did not come up within the wait; its job keeps its place in the queue. */
export class SchedulerTimeoutError extends ClusterError {
  readonly code = 'scheduler-timeout';
  constructor(message: string, readonly jobId: string | undefined, readonly waitedMs: number) {
    super(message);
  }
}

/** A runtime command answered `ok: false` with a code we do not handle more specifically. */
export class RemoteCommandError extends ClusterError {
  readonly code = 'remote-command';
  constructor(message: string, readonly remoteCode: string) {
    super(message);
  }
}

/** A scale or adapt that would take the user above the job ceiling (ceiling.ts): refused before anything is submitted. */
export class JobCeilingError extends ClusterError {
  readonly code = 'job-ceiling';
  constructor(message: string, readonly ceiling: number) {
    super(message);
  }
}

/** The agent on the cluster speaks another protocol than this client, even after reinstalling it. */
export class AgentProtocolError extends ClusterError {
  readonly code = 'remote-command';
}

/** What needs a running scheduler (a local client, a file run on the cluster) found none. */
export class SchedulerNotRunningError extends ClusterError {
  readonly code = 'not-running';
}

/** A file to run on the cluster that cannot be read here, or a run that could not be followed to its end. */
export class RunFileError extends ClusterError {
  readonly code = 'run-file';
}
