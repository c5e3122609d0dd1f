// Cluster config templates, one per Gadi queue, made from the queue table (core/config/queues) so that every
// queue gets a config that lints clean: a whole node per worker job on CPU queues, one GPU per job on GPU queues,
// with the project, storage, jobfs and interface settings Gadi needs.
import { GADI_QUEUES, maxWalltimeSeconds, type QueueInfo } from '../core/config/queues';
import { core } from './core';

const GiB = 2 ** 30;
/** copyq has no compute nodes worth a Dask cluster (one core, for data transfer). */
export const TEMPLATE_QUEUES: readonly QueueInfo[] = GADI_QUEUES.filter((q) => q.name !== 'copyq');

export interface TemplateOptions {
  queue: QueueInfo;
  /** The NCI project charged, e.g. ab12. */
  project: string;
  /** The ~/.ssh/config alias of a Gadi login node. */
  host: string;
}

/** NCI project codes: two or three letters and digits, such as ab12 or x77. */
export const PROJECT_CODE = /^[a-z]{1,2}\d{1,3}$|^[a-z]{2}\d{2}$/;

export function templateSummary(q: QueueInfo): string {
  const { cores, memGb, gpus } = sizeOf(q);
  return `${cores} cores, ${memGb}GB${gpus ? `, ${gpus} GPU` : ''} per job · ${q.suRate} SU per core-hour`;
}

function sizeOf(q: QueueInfo): { cores: number; memGb: number; gpus: number } {
  if (q.gpusPerNode && q.cpusPerGpu) {
    return { cores: q.cpusPerGpu, memGb: Math.floor(q.memPerNode / GiB / q.gpusPerNode), gpus: 1 };
  }
  return { cores: q.coresPerNode, memGb: Math.floor(q.memPerNode / GiB), gpus: 0 };
}

export function clusterConfigTemplate({ queue: q, project, host }: TemplateOptions): string {
  const { cores, memGb, gpus } = sizeOf(q);
  const express = q.name.startsWith('express');
  const wanted = express ? 3600 : 2 * 3600;
  const { defaultProcesses, formatWalltime } = core();
  const walltime = formatWalltime(Math.min(wanted, maxWalltimeSeconds(q, cores) ?? wanted));
  const processes = gpus ? 1 : defaultProcesses(cores);
  const threads = Math.floor(cores / processes);
  const resources = [`-l ncpus=${cores}`, ...(gpus ? [`-l ngpus=${gpus}`] : []), `-l mem=${memGb}GB`];
  return [
    `# A Dask cluster on Gadi's ${q.name} queue: ${q.summary}.`,
    `# Each worker job: ${cores} cores and ${memGb}GB${gpus ? ` with ${gpus} GPU` : ''}; ${q.suRate} SU per core-hour.`,
    '# Edit the project, the Python environment and the sizes, then run "Gadi Dask: Scale Cluster".',
    'site: gadi',
    'connection:',
    `  host: ${host}${' '.repeat(Math.max(1, 21 - host.length))}# an alias in ~/.ssh/config`,
    'scheduler:',
    '  placement: job             # the scheduler runs in its own small PBS job',
    'jobqueue:',
    '  pbs:',
    `    name: dask-${q.name}`,
    `    queue: ${q.name}`,
    `    cores: ${cores}`,
    `    memory: ${memGb}GB`,
    ...(gpus ? ['    processes: 1             # one worker drives the GPU'] : [`    processes: ${processes}${' '.repeat(Math.max(1, 14 - String(processes).length))}# ${processes} workers of ${threads} threads`]),
    '    interface: ib0           # InfiniBand between compute nodes',
    `    walltime: '${walltime}'`,
    '    local-directory: $TMPDIR # spill to the node\'s SSD (jobfs)',
    '    job-script-prologue:',
    `      - module load python3/3.11.7${gpus ? ' cuda/12.3.2' : ''}`,
    `      - source /g/data/${project}/envs/dask/bin/activate`,
    '    job-directives-skip:',
    '      - select               # Gadi rejects PBSCluster\'s "-l select=…" line',
    '    job-extra-directives:',
    `      - -P ${project}`,
    ...resources.map((r) => `      - ${r}`),
    '      - -l jobfs=100GB',
    `      - -l storage=gdata/${project}`,
    '',
  ].join('\n');
}
