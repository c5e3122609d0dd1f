// The cluster config file (`*.dask-cluster.yaml`): one file, two readers. `connection`, `scheduler` and `site` are
// ours; `jobqueue.pbs` holds exactly dask-jobqueue's PBSCluster keys, with its defaults and meanings, so that the
// worker job script we render equals `PBSCluster(...).job_script()` for the same file.
import { z } from 'zod';

const stringList = z.array(z.string());

export const pbsSchema = z.strictObject({
  name: z.string().default('dask-worker')
    .describe('Name of the Dask worker; also the PBS job name (`#PBS -N`).'),
  cores: z.number().int().positive()
    .describe('Total number of cores per job (`ncpus`). Split between `processes` worker processes.'),
  memory: z.union([z.string(), z.number()])
    .describe('Total memory per job, as dask parses it: `192GB` is 192×10^9 bytes, `4GiB` is 4×2^30.'),
  processes: z.number().int().positive().optional()
    .describe('Worker processes per job. Default: `cores` if cores ≤ 4, else the smallest divisor of cores ≥ √cores.'),
  python: z.string().optional()
    .describe('Python executable on the compute nodes that runs the worker. Default: `python3`.'),
  interface: z.string().optional()
    .describe('Network interface the workers listen on; on Gadi compute nodes this is InfiniBand, `ib0`.'),
  'death-timeout': z.number().nonnegative().default(60)
    .describe('Seconds a worker waits for the scheduler before giving up (`--death-timeout`).'),
  'local-directory': z.string().optional()
    .describe('Directory for worker spill files (`--local-directory`). `$TMPDIR` uses the job-local SSD (jobfs).'),
  'shared-temp-directory': z.string().optional()
    .describe('Shared directory for temporary files the scheduler and workers both see (security credentials).'),
  'worker-command': z.string().default('distributed.cli.dask_worker')
    .describe('Python module run with `python -m` to start the worker.'),
  'worker-extra-args': stringList.default([])
    .describe('Extra arguments appended to the worker command line.'),
  shebang: z.string().default('#!/usr/bin/env bash')
    .describe('First line of the job script.'),
  queue: z.string().optional()
    .describe('PBS queue (`#PBS -q`). On Gadi: normal, express, hugemem, gpuvolta, normalsr, …'),
  account: z.string().optional()
    .describe('Accounting string (`#PBS -A`). Gadi does not use `-A`: give the project as `-P <project>` in job-extra-directives.'),
  walltime: z.union([z.string(), z.number()]).default('00:30:00')
    .describe('Walltime of each worker job (`#PBS -l walltime=`), HH:MM:SS.'),
  'job-script-prologue': stringList.default([])
    .describe('Shell lines run before the worker starts, such as `module load python3` or `source venv/bin/activate`.'),
  'job-script-epilogue': stringList.default([])
    .describe('Shell lines run after the worker exits.'),
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
  'env-extra': stringList.optional()
    .describe('Deprecated: use `job-script-prologue`.'),
  extra: stringList.optional()
    .describe('Deprecated: use `worker-extra-args`.'),
  'job-extra': stringList.optional()
    .describe('Deprecated: use `job-extra-directives`.'),
});

export const connectionSchema = z.strictObject({
  host: z.string().min(1)
    .describe('~/.ssh/config alias or host name of a login node, e.g. `gadi`. User, port and key come from ssh config when omitted.'),
  user: z.string().optional().describe('Login user name, when ssh config does not give it.'),
  port: z.number().int().min(1).max(65535).optional().describe('SSH port, when ssh config does not give it.'),
});

export const schedulerSchema = z.strictObject({
  placement: z.enum(['job', 'login']).default('job')
    .describe('`job`: the scheduler runs in its own small PBS job (default). `login`: on the login node, for short sessions only.'),
  walltime: z.union([z.string(), z.number()]).optional()
    .describe('Walltime of the scheduler job; defaults to the workers\' walltime.'),
  'idle-timeout': z.number().nonnegative().optional()
    .describe('Seconds without clients or work after which the scheduler shuts the cluster down.'),
});

export const clusterConfigSchema = z.looseObject({
  site: z.string().optional()
    .describe('The PBS site: `gadi` turns on Gadi\'s rules. Inferred from `connection.host` when absent.'),
  connection: connectionSchema.optional(),
  scheduler: schedulerSchema.default({ placement: 'job' }),
  jobqueue: z.looseObject({ pbs: pbsSchema }),
});

export type PbsOptions = z.output<typeof pbsSchema>;
export type ClusterConfig = z.output<typeof clusterConfigSchema>;
