// Cluster names and where a cluster lives on the remote side. The name comes from the config's `jobqueue.pbs.name`
// (the PBS job name of the workers), so jobs carry it and a cluster can always be found again by it.
import { DEFAULT_JOB_NAME, type ClusterConfig } from '../config/schema';
import { shellQuote } from '../remote/shellQuote';
import { VERSION } from '../version';
import { InvalidClusterNameError } from './errors';

/** runtime/README.md, "Cluster names and files". */
export const CLUSTER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** What install.sh accepts as a version directory name. */
const VERSION_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/;

/**
 * The cluster's name: jobqueue.pbs.name. With `name: null` dask-jobqueue writes no `#PBS -N` (and neither do we),
 * but every job is still submitted with a `-N` of the cluster's: then the cluster takes dask-jobqueue's default
 * name, as when `name` is left out, so the same file always finds the same cluster.
 */
export function clusterNameOf(config: ClusterConfig): string {
  return config.jobqueue.pbs.name ?? DEFAULT_JOB_NAME;
}

export function assertClusterName(name: string): string {
  if (!CLUSTER_NAME.test(name)) {
    throw new InvalidClusterNameError(
      `"${name}" cannot name a cluster: the name (jobqueue.pbs.name in the config) must start with a letter or ` +
        `digit and use only letters, digits, ".", "_" and "-" (at most 64 characters). Change jobqueue.pbs.name.`,
    );
  }
  return name;
}

export function assertVersion(version: string): string {
  if (!VERSION_NAME.test(version)) throw new RangeError(`"${version}" is not a runtime version the installer accepts`);
  return version;
}

/** The PBS job name of a cluster's scheduler job (README: `dask-scheduler-<name>`; starts with a letter as PBS wants). */
export function schedulerJobName(cluster: string): string {
  return `dask-scheduler-${cluster}`;
}

/** Remote locations, `~/`-relative (what Transport.upload and readFile accept). */
export interface ClusterPaths {
  root: string;
  runtime: string;
  runPy: string;
  cluster: string;
  schedulerFile: string;
  /** The cluster's job ids, one `<id> <role> <epoch seconds>` line each (role: scheduler | worker). */
  jobsFile: string;
  /** The cluster's TLS certificate (its own CA) and private key, made by the scheduler at each start. */
  tlsCert: string;
  tlsKey: string;
}

/** runtime/README.md, "Cluster names and files" (runtime/gadi_dask/common.py holds the same names). */
export const TLS_CERT_FILE = 'tls-cert.pem';
export const TLS_KEY_FILE = 'tls-key.pem';

export const REMOTE_ROOT = '~/.gadi-dask';
export const RUNTIME_VERSION = VERSION;

export function runtimeDir(version = RUNTIME_VERSION): string {
  return `${REMOTE_ROOT}/runtime/${assertVersion(version)}`;
}

export function clusterPaths(cluster: string, version = RUNTIME_VERSION): ClusterPaths {
  const dir = `${REMOTE_ROOT}/clusters/${assertClusterName(cluster)}`;
  const runtime = runtimeDir(version);
  return {
    root: REMOTE_ROOT,
    runtime,
    runPy: `${runtime}/run.py`,
    cluster: dir,
    schedulerFile: `${dir}/scheduler.json`,
    jobsFile: `${dir}/jobs`,
    tlsCert: `${dir}/${TLS_CERT_FILE}`,
    tlsKey: `${dir}/${TLS_KEY_FILE}`,
  };
}

/** A `~/`-relative path as a shell word: the `~/` stays unquoted so the shell expands it, the rest is quoted. */
export function shellPath(path: string): string {
  return path.startsWith('~/') ? `"$HOME"/${shellQuote(path.slice(2))}` : shellQuote(path);
}

/** The agent submits every job as `<cluster>` or `dask-scheduler-<cluster>` plus this unique suffix (qsub -N). */
export const JOB_NAME_SUFFIX = /-[0-9a-f]{8}$/;

/** A job's name as the user knows it: the agent's unique suffix left out. */
export function jobDisplayName(jobName: string): string {
  return jobName.replace(JOB_NAME_SUFFIX, '');
}
