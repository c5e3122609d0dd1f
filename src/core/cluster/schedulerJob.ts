// How the scheduler is started: the `run.py scheduler` options from the config, and, for `placement: job`, the small
// PBS job that runs it. That job takes from the workers' settings what the site needs for any job (project,
// storage, queue, the prologue that loads Python) and drops what sizes a worker (cores, memory, GPUs, jobfs):
// a scheduler needs one core.
import type { ClusterConfig } from '../config/schema';
import { DEFAULT_PYTHON, effectiveJobExtraDirectives, effectivePrologue, jobHeaderLines } from '../pbs/jobScript';
import { shellQuote } from '../remote/shellQuote';
import { schedulerJobName, shellPath } from './names';
import { tlsEnabled } from './tls';

export const SCHEDULER_NCPUS = 1;
export const SCHEDULER_MEMORY = '4GB';
/** The scheduler job's output and error, joined, in the cluster directory (qsub runs there). */
export const SCHEDULER_JOB_LOG = 'scheduler-job.log';

// A scheduler needs no GPU; these queues only take jobs that ask for GPUs.
const GPU_QUEUES = new Set(['gpuvolta', 'dgxa100', 'gpuhopper']);
// Resources that size a worker; everything else (storage, wd, software, other, …) the scheduler job keeps.
const WORKER_SIZED = new Set(['select', 'ncpus', 'mem', 'vmem', 'ngpus', 'jobfs', 'walltime', 'nodes', 'place', 'host', 'vnode', 'nodect', 'mpiprocs', 'ompthreads']);
// Options the scheduler job sets itself, or that make no sense for it.
const DROPPED_OPTIONS = new Set(['N', 'q', 'o', 'e', 'j', 'J', 'A']);

export interface SchedulerLaunch {
  /** `run.py scheduler` arguments, unquoted (each is one word). */
  args: string[];
  /** scheduler-options keys that the launcher does not take. */
  warnings: string[];
}

/** run.py scheduler's flags for this config (runtime/README.md, "scheduler"). */
export function schedulerLaunch(config: ClusterConfig, cluster: string): SchedulerLaunch {
  const pbs = config.jobqueue.pbs;
  const placement = config.scheduler.placement;
  const args = ['--name', cluster, '--placement', placement];
  const warnings: string[] = [];
  const options = pbs['scheduler-options'];
  const flags: Record<string, string> = {};
  for (const [key, value] of Object.entries(options)) {
    const flag = key.replace(/_/g, '-');
    if (!['dashboard-address', 'interface', 'host', 'protocol', 'port'].includes(flag)) {
      warnings.push(`scheduler-options.${key} is not used by the gadi-dask scheduler launcher (it takes dashboard_address, interface, host, protocol and port).`);
      continue;
    }
    if (value === null || value === undefined) continue;
    flags[flag] = String(value);
  }
  // As dask-jobqueue does: the workers' interface is the scheduler's too unless scheduler-options says otherwise.
  if (flags.interface === undefined && flags.host === undefined && pbs.interface) flags.interface = pbs.interface;
  for (const flag of ['interface', 'host', 'protocol', 'port', 'dashboard-address']) {
    if (flags[flag] !== undefined) args.push(`--${flag}`, flags[flag]);
  }
  // The launcher makes the cluster's keys at each start and listens on tls:// (runtime/gadi_dask/tls.py).
  if (tlsEnabled(config)) args.push('--tls', 'on');
  const idle = config.scheduler['idle-timeout'];
  if (idle !== undefined) args.push('--idle-timeout', String(idle));
  return { args, warnings };
}

/** The configured python as a shell word: quoted, with a leading `~/` left for the shell to expand. */
export function pythonWord(config: ClusterConfig): string {
  return shellPath(config.jobqueue.pbs.python ?? DEFAULT_PYTHON);
}

function splitDirective(directive: string): { option: string; value: string } | undefined {
  const m = /^\s*-([A-Za-z])\s*(.*?)\s*$/.exec(directive);
  return m ? { option: m[1], value: m[2] } : undefined;
}

/** The job-extra-directives a scheduler job keeps: project, storage and the like, without worker sizes. */
export function schedulerDirectives(config: ClusterConfig): string[] {
  const kept: string[] = [];
  for (const directive of effectiveJobExtraDirectives(config.jobqueue.pbs)) {
    const d = splitDirective(directive);
    if (!d) {
      kept.push(directive);
      continue;
    }
    if (DROPPED_OPTIONS.has(d.option)) continue;
    if (d.option !== 'l') {
      kept.push(directive);
      continue;
    }
    const resources = d.value.split(',').filter((r) => r && !WORKER_SIZED.has(r.split('=')[0].trim().toLowerCase()));
    if (resources.length) kept.push(`-l ${resources.join(',')}`);
  }
  return kept;
}

export function schedulerQueue(config: ClusterConfig): string | undefined {
  const queue = config.jobqueue.pbs.queue;
  return queue !== undefined && GPU_QUEUES.has(queue) ? 'normal' : queue;
}

/**
 * The scheduler job: `run.py scheduler` in the foreground as the job's command (README: "placement: job").
 * `runPy` is the remote run.py path (`~/…`).
 */
/** A job of the cluster's that is not a worker (the scheduler's, the kernel's): its own name, size and log. */
export interface ServiceJob {
  name: string;
  queue: string | undefined;
  ncpus: number;
  memory: string;
  walltime: string | number | null;
  /** Output and error, joined, relative to the directory qsub runs in. */
  log: string;
}

/**
 * The `#PBS` lines of such a job: its own size in the form the workers' script uses (a select line when it has one,
 * otherwise, as Gadi wants, plain ncpus and mem), then the workers' directives that are not about a worker's size
 * (project, storage, …).
 */
export function serviceJobHeader(config: ClusterConfig, job: ServiceJob): string[] {
  const workersUseSelect = jobHeaderLines(config.jobqueue.pbs).some((line) => /^#PBS -l\s.*\bselect=/.test(line));
  const resources = workersUseSelect
    ? [`#PBS -l select=1:ncpus=${job.ncpus}:mem=${job.memory}`]
    : [`#PBS -l ncpus=${job.ncpus}`, `#PBS -l mem=${job.memory}`];
  return [
    `#PBS -N ${job.name}`,
    ...(job.queue !== undefined ? [`#PBS -q ${job.queue}`] : []),
    ...resources,
    ...(job.walltime !== null ? [`#PBS -l walltime=${String(job.walltime)}`] : []), // null: the queue's default, as for the workers
    '#PBS -j oe',
    `#PBS -o ${job.log}`,
    ...schedulerDirectives(config).map((d) => `#PBS ${d}`),
  ];
}

export function renderSchedulerJobScript(config: ClusterConfig, cluster: string, runPy: string): string {
  const pbs = config.jobqueue.pbs;
  const header = serviceJobHeader(config, {
    name: schedulerJobName(cluster), queue: schedulerQueue(config), ncpus: SCHEDULER_NCPUS, memory: SCHEDULER_MEMORY,
    walltime: config.scheduler.walltime ?? pbs.walltime, log: SCHEDULER_JOB_LOG,
  });
  const launch = schedulerLaunch(config, cluster);
  const command = ['exec', pythonWord(config), shellPath(runPy), 'scheduler', ...launch.args.map(shellQuote)].join(' ');
  const prologue = effectivePrologue(pbs).filter(Boolean);
  return `${pbs.shebang}\n\n${header.join('\n')}\n${prologue.length ? `${prologue.join('\n')}\n` : ''}${command}\n`;
}
