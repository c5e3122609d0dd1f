// The Python that connects a client to a cluster, run on the cluster (a login node or a PBS job): through the
// scheduler file, which outlives any one scheduler address, and with the cluster's keys when it speaks TLS.
import type { ClusterConfig } from '../config/schema';
import { clusterNameOf, clusterPaths } from './names';
import { tlsFiles } from './tls';

const expand = (path: string) => `os.path.expanduser(${JSON.stringify(path)})`;

export function clientSnippet(config: ClusterConfig): string {
  const cluster = clusterNameOf(config);
  const host = config.connection?.host ?? 'the cluster';
  const paths = clusterPaths(cluster);
  const tls = tlsFiles(config, paths);
  const head = [
    'import os',
    tls ? 'from dask.distributed import Client, Security' : 'from dask.distributed import Client',
    '',
    `# Dask cluster ${cluster} on ${host}; run this on the cluster (a login node or a PBS job).`,
  ];
  if (!tls) {
    return [...head, `client = Client(scheduler_file=${expand(paths.schedulerFile)})`, ''].join('\n');
  }
  return [
    ...head,
    '# It admits only holders of its key, which only you can read and which changes each time the cluster starts.',
    `cert = ${expand(tls.cert)}`,
    `key = ${expand(tls.key)}`,
    'security = Security(tls_ca_file=cert, tls_client_cert=cert, tls_client_key=key, require_encryption=True)',
    `client = Client(scheduler_file=${expand(paths.schedulerFile)}, security=security)`,
    '',
  ].join('\n');
}
