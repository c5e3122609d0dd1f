// The cluster's TLS, on unless the config says `scheduler.tls: false`. The scheduler makes new keys on the cluster
// at each start (runtime/gadi_dask/tls.py); this side only names their files, for the job script and for clients,
// and never reads or carries the keys themselves.
import type { ClusterConfig } from '../config/schema';
import type { JobScriptContext, TlsFiles } from '../pbs/jobScript';
import type { ClusterPaths } from './names';

export function tlsEnabled(config: ClusterConfig): boolean {
  return config.scheduler.tls !== false;
}

/** The certificate is its own CA, as with Dask's Security.temporary(). */
export function tlsFiles(config: ClusterConfig, paths: ClusterPaths): TlsFiles | undefined {
  return tlsEnabled(config) ? { caFile: paths.tlsCert, cert: paths.tlsCert, key: paths.tlsKey } : undefined;
}

/** How the cluster's worker script joins: the scheduler file, and the cluster's keys when TLS is on. */
export function workerScriptContext(config: ClusterConfig, paths: ClusterPaths): JobScriptContext {
  return { schedulerFile: paths.schedulerFile, tls: tlsFiles(config, paths) };
}
