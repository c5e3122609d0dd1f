// The cluster config file (`*.dask-cluster.yaml`): one file, two readers. `connection`, `scheduler` and `site` are
// ours; `jobqueue.pbs` holds exactly dask-jobqueue's PBSCluster keys, with its defaults and meanings, so that the
// worker job script we render equals `PBSCluster(...).job_script()` for the same file.
import { z } from 'zod';
import { parseBytes, parseTimedelta, parseWalltime } from '../units';
import { GADI_MAX_JOBS_PER_USER, GADI_MAX_JOBS_SOURCE, GADI_QUEUE_NAMES } from './queues';

const stringList = z.array(z.string());

/** Memory as dask reads it: parsed with dask's own rules, so `192 GB`, `4GiB` and `5G` pass and `4 parsecs` fails. */
const memorySize = z.union([z.string(), z.number()]).superRefine((value, ctx) => {
  let bytes: number;
  try {
    bytes = parseBytes(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `${(e as Error).message}: write a size such as 192GB or 4GiB` });
    return;
  }
  if (bytes <= 0) ctx.addIssue({ code: 'custom', message: `Memory must be more than zero bytes (got ${JSON.stringify(value)})` });
});

/** A walltime as PBS reads it: `HH:MM:SS`, `MM:SS` or seconds. */
const walltime = z.union([z.string(), z.number()]).superRefine((value, ctx) => {
  try {
    parseWalltime(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** `--death-timeout` as text: the worker reads it with dask's parse_timedelta (`60`, `1e1`, `90s`, `2m`). */
const timedeltaText = z.string().superRefine((value, ctx) => {
  try {
    parseTimedelta(value);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
  }
});

/** dask-jobqueue still reads these; each has a replacement. */
export const DEPRECATED_PBS_KEYS: Readonly<Record<string, string>> = {
  project: 'account',
  'env-extra': 'job-script-prologue',
  extra: 'worker-extra-args',
  'job-extra': 'job-extra-directives',
  'header-skip': 'job-directives-skip',
};

/**
 * Lists dask-jobqueue writes into the job script item after item (`"\n".join(filter(None, items))`): each item is
 * shell, so it may span lines, and anything but text in it makes dask-jobqueue fail.
 */
export const SCRIPT_LINE_KEYS: readonly string[] = ['job-script-prologue', 'job-script-epilogue', 'env-extra'];

/** dask-jobqueue's default `name`: the PBS job name of the workers, and the cluster's name when the config has none. */
export const DEFAULT_JOB_NAME = 'dask-worker';

export const pbsSchema = z.strictObject({
  name: z.string().nullable().default(DEFAULT_JOB_NAME)
    .describe('Name of the Dask worker; also the PBS job name (`#PBS -N`) and the cluster\'s name. null leaves `#PBS -N` out, as in dask-jobqueue; the cluster is then named `dask-worker`.'),
  cores: z.number().int().positive()
    .describe('Total number of cores per job (`ncpus`). Split between `processes` worker processes.'),
  memory: memorySize.meta({ examples: ['192GB', '4GiB'] })
    .describe('Total memory per job, as dask parses it: `192GB` is 192×10^9 bytes, `4GiB` is 4×2^30.'),
  processes: z.number().int().positive().optional()
    .describe('Worker processes per job. Default: `cores` if cores ≤ 4, else the smallest divisor of cores ≥ √cores.'),
  python: z.string().optional().meta({ examples: ['python3'] })
    .describe('Python executable on the compute nodes that runs the worker. Default: `python3`.'),
  interface: z.string().optional().meta({ examples: ['ib0'] })
    .describe('Network interface the workers listen on; on Gadi compute nodes this is InfiniBand, `ib0`.'),
  'death-timeout': z.union([z.number().nonnegative(), timedeltaText]).nullable().default(60)
    .describe('Seconds a worker waits for the scheduler before giving up (`--death-timeout`); null leaves the flag out.'),
  'local-directory': z.string().optional().meta({ examples: ['$TMPDIR'] })
    .describe('Directory for worker spill files (`--local-directory`). `$TMPDIR` uses the job-local SSD (jobfs).'),
  'shared-temp-directory': z.string().optional()
    .describe('Shared directory for temporary files the scheduler and workers both see (security credentials).'),
  'worker-command': z.string().default('distributed.cli.dask_worker')
    .describe('Python module run with `python -m` to start the worker.'),
  'worker-extra-args': stringList.default([])
    .describe('Extra arguments appended to the worker command line.'),
  shebang: z.string().default('#!/usr/bin/env bash')
    .describe('First line of the job script.'),
  queue: z.string().optional().meta({ examples: [...GADI_QUEUE_NAMES] })
    .describe('PBS queue (`#PBS -q`). On Gadi: normal, express, hugemem, gpuvolta, normalsr, …'),
  account: z.string().optional()
    .describe('Accounting string (`#PBS -A`). Gadi does not use `-A`: give the project as `-P <project>` in job-extra-directives.'),
  walltime: walltime.nullable().default('00:30:00').meta({ examples: ['01:00:00'] })
    .describe('Walltime of each worker job (`#PBS -l walltime=`), HH:MM:SS or seconds; null leaves the line out (the queue\'s default).'),
  'job-script-prologue': stringList.default([])
    .describe('Shell lines run before the worker starts, such as `module load python3` or `source venv/bin/activate`; an item may hold several lines (a `|` block).'),
  'job-script-epilogue': stringList.default([])
    .describe('Shell lines run after the worker exits; an item may hold several lines.'),
  'resource-spec': z.string().optional()
    .describe('Replaces the generated `select=1:ncpus=…:mem=…` resource line (`#PBS -l <resource-spec>`).'),
  'job-extra-directives': stringList.default([])
    .describe('Extra `#PBS` directives, each appended as `#PBS <directive>`, e.g. `-P ab12`, `-l storage=gdata/ab12`.'),
  'job-directives-skip': stringList.default([])
    .describe('Generated header lines containing any of these strings are left out; on Gadi skip `select`.'),
  'log-directory': z.string().optional()
    .describe('Directory for job output and error files (`#PBS -o`/`-e`).'),
  'scheduler-options': z.record(z.string(), z.unknown()).default({})
    .describe('Options for the scheduler (dask-jobqueue passes them to the Scheduler): e.g. `dashboard_address`.'),
  project: z.string().optional().meta({ deprecated: true })
    .describe('Deprecated: use `account`.'),
  'env-extra': stringList.optional().meta({ deprecated: true })
    .describe('Deprecated: use `job-script-prologue`.'),
  extra: stringList.optional().meta({ deprecated: true })
    .describe('Deprecated: use `worker-extra-args`.'),
  'job-extra': stringList.optional().meta({ deprecated: true })
    .describe('Deprecated: use `job-extra-directives`.'),
  'header-skip': stringList.optional().meta({ deprecated: true })
    .describe('Deprecated: use `job-directives-skip`.'),
}).describe('dask-jobqueue\'s PBSCluster settings: the same keys, defaults and meanings as in a dask config file.');

export const connectionSchema = z.strictObject({
  host: z.string().min(1).meta({ examples: ['gadi'] })
    .describe('~/.ssh/config alias or host name of a login node, e.g. `gadi`. User, port and key come from ssh config when omitted.'),
  user: z.string().optional().describe('Login user name, when ssh config does not give it.'),
  port: z.number().int().min(1).max(65535).optional().describe('SSH port, when ssh config does not give it.'),
}).describe('How to reach the cluster\'s login node over SSH.');

/**
 * A Gadi persistent session's name (NCI's rule: a letter, then letters, digits and `-`; it is one label of the
 * session's host name) and the project it runs under (Gadi's projects: lower-case letters and digits). The agent's
 * copy is runtime/gadi_dask/protocol.py's.
 */
export const SESSION_NAME = /^[A-Za-z][A-Za-z0-9-]{0,62}$/;
export const PROJECT_NAME = /^[a-z][a-z0-9]{1,15}$/;

export const SCHEDULER_PLACEMENTS = ['job', 'login', 'persistent-session'] as const;

export const sessionSchema = z.strictObject({
  name: z.string().regex(SESSION_NAME, 'A persistent session\'s name starts with a letter and holds only letters, digits and "-" (at most 63)')
    .meta({ examples: ['dask'] })
    .describe('The persistent session\'s name (`persistent-sessions start -p <project> <name>`): started when it does not exist, never stopped by gadi-dask.'),
  project: z.string().regex(PROJECT_NAME, 'A Gadi project is lower-case letters and digits, such as ab12')
    .meta({ examples: ['ab12'] })
    .describe('The project the session runs under (`-p`); its host is `<name>.<user>.<project>.ps.gadi.nci.org.au`.'),
}).describe('The Gadi persistent session that runs the scheduler (placement: persistent-session).');

export const schedulerSchema = z.strictObject({
  placement: z.enum(SCHEDULER_PLACEMENTS).default('job')
    .describe('`job`: the scheduler runs in its own small PBS job and ends at its walltime, with every worker and result (default; work shorter than the walltime). `login`: on the login node, for short sessions only (Gadi stops processes after 30 minutes of CPU). `persistent-session`: in a Gadi persistent session (`session`), with no walltime: for work that outlives a job.'),
  session: sessionSchema.optional(),
  walltime: walltime.optional()
    .describe('Walltime of the scheduler job; defaults to the workers\' walltime.'),
  'idle-timeout': z.number().nonnegative().optional()
    .describe('Seconds without clients or work after which the scheduler shuts the cluster down.'),
  tls: z.boolean().default(true)
    .describe('`true` (default): the scheduler and workers speak TLS with keys made for this cluster at each start, so only holders of its key (you) connect. `false`: plain TCP that anyone on the cluster network can connect to and run code as you.'),
  'max-jobs': z.number().int().min(1).optional()
    .describe(`The most jobs you may have queued or running at once (all of yours, not only this cluster's): scale and adapt are refused above it. Default ${GADI_MAX_JOBS_PER_USER}, ${GADI_MAX_JOBS_SOURCE}.`),
}).superRefine((s, ctx) => {
  if (s.placement === 'persistent-session' && s.session === undefined) {
    ctx.addIssue({ code: 'custom', path: ['session'], message: 'placement: persistent-session needs session: { name: <session name>, project: <project> }, the Gadi persistent session that runs the scheduler.' });
  }
}).describe('Where and how the Dask scheduler runs.');

export const KERNEL_PLACEMENTS = ['job', 'login'] as const;

export const kernelSchema = z.strictObject({
  placement: z.enum(KERNEL_PLACEMENTS).default('job')
    .describe('`job`: the kernel (a Jupyter server with an IPython kernel) runs in its own PBS job, sized by the keys below (default). `login`: on the login node, for short sessions only (Gadi stops processes after 30 minutes of CPU or over 4 GiB).'),
  cores: z.number().int().positive().optional()
    .describe('Cores of the kernel\'s job (`ncpus`). Default: a worker job\'s `cores`.'),
  memory: memorySize.optional().meta({ examples: ['16GB'] })
    .describe('Memory of the kernel\'s job: results that `.compute()` gathers land here. Default: a worker job\'s `memory`.'),
  queue: z.string().optional().meta({ examples: [...GADI_QUEUE_NAMES] })
    .describe('PBS queue of the kernel\'s job. Default: the workers\' queue.'),
  walltime: walltime.optional()
    .describe('Walltime of the kernel\'s job. Default: the workers\' walltime.'),
  python: z.string().optional().meta({ examples: ['python3'] })
    .describe('Python that runs the Jupyter server and kernel (after the job-script-prologue); it needs `jupyter_server` and `ipykernel`. Default: `jobqueue.pbs.python`, where the workers run.'),
  'idle-timeout': z.number().nonnegative().optional()
    .describe('Seconds without activity after which the Jupyter server stops (and its job ends). Default: the scheduler\'s idle-timeout.'),
}).describe('A kernel next to the cluster: a Jupyter server whose `Client()` connects to this cluster (`gadi-dask kernel start`).');

export const clusterConfigSchema = z.looseObject({
  site: z.string().optional().meta({ examples: ['gadi'] })
    .describe('The PBS site: `gadi` turns on Gadi\'s rules. Inferred from `connection.host` when absent.'),
  connection: connectionSchema.optional(),
  scheduler: schedulerSchema.default({ placement: 'job', tls: true }),
  kernel: kernelSchema.optional(),
  jobqueue: z.looseObject({ pbs: pbsSchema })
    .describe('dask-jobqueue\'s section of the dask config; `pbs` holds the PBSCluster settings.'),
}).describe('A Dask cluster on a PBS Pro site such as NCI Gadi (`*.dask-cluster.yaml`).');

export type KernelOptions = z.output<typeof kernelSchema>;
export type PbsOptions = z.output<typeof pbsSchema>;
export type ClusterConfig = z.output<typeof clusterConfigSchema>;
