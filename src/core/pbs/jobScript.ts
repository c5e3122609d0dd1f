// The worker job script: byte for byte what `PBSCluster(...).job_script()` prints for the same `jobqueue.pbs`
// values (dask-jobqueue's PBSJob and Job), except for three things a cluster driven from the editor needs:
//   1. the worker joins through `--scheduler-file <file>` where dask-jobqueue puts the scheduler's address;
//   2. `--name` is `<prefix>-$PBS_JOBID` where job_script() prints `dummy-name` (and a real submission
//      `<cluster>-<n>`), so each worker can be traced to its PBS job; with `--nworkers` > 1 dask itself appends
//      `-0`, `-1`, …;
//   3. `--lifetime`/`--lifetime-stagger` derived from the walltime, so workers hand their data over and leave
//      before PBS kills the job (see workerLifetime).
// With TLS the script gains exactly what PBSCluster(security=Security(tls_ca_file=…, tls_worker_cert=…,
// tls_worker_key=…)) writes: `--protocol tls://` and the three `--tls-*` file options.
// Everything dask-jobqueue prints unquoted is printed unquoted here too (users rely on that: `$TMPDIR`); the values
// we add are shell-quoted.
import { refuseControlCharacters } from '../config/controlCharacters';
import { DEFAULT_JOB_NAME, type PbsOptions } from '../config/schema';
import { pythonFloat } from '../python';
import { shellQuote } from '../remote/shellQuote';
import { formatBytes, parseBytes, parseWalltime, pbsFormatBytesCeil } from '../units';

/** The Python used when `python` is unset (dask-jobqueue would use its own interpreter's path). */
export const DEFAULT_PYTHON = 'python3';
/** dask-jobqueue adds `--nworkers` and `--nanny` only for this worker module. */
export const DASK_WORKER_MODULE = 'distributed.cli.dask_worker';

export type LifetimeOption =
  | 'auto' // derived from the walltime (workerLifetime); only for distributed.cli.dask_worker
  | 'off'
  | { lifetimeSeconds: number; staggerSeconds?: number };

export interface JobScriptContext {
  /** The scheduler file on the shared filesystem: absolute, or `~/…` (expanded by the job's shell). */
  schedulerFile: string;
  /** Workers are named `<prefix>-<PBS job id>`. Default: the `name` key (the PBS job name), else dask-worker. */
  workerNamePrefix?: string;
  /** Default 'auto'. Left out when worker-extra-args already has a `--lifetime…` flag. */
  lifetime?: LifetimeOption;
  /** The cluster's TLS files (absolute, or `~/…`); absent: plain TCP. */
  tls?: TlsFiles;
}

export interface TlsFiles {
  caFile: string;
  cert: string;
  key: string;
}

export interface WorkerLifetime {
  lifetimeSeconds: number;
  staggerSeconds: number;
}

export interface WorkerLayout {
  processes: number;
  /** `--nthreads`: int(cores / processes). */
  threads: number;
  memoryBytes: number;
  /** `--memory-limit` as dask-jobqueue prints it. */
  memoryLimit: string;
}

/** distributed's nprocesses_nthreads: all cores as processes up to 4, else the smallest divisor ≥ √cores. */
export function defaultProcesses(cores: number): number {
  if (cores <= 4) return cores;
  for (let p = Math.ceil(Math.sqrt(cores)); p < cores; p++) if (cores % p === 0) return p;
  return cores;
}

export function workerLayout(opts: PbsOptions): WorkerLayout {
  const processes = opts.processes ?? defaultProcesses(opts.cores);
  const memoryBytes = parseBytes(opts.memory);
  return {
    processes,
    threads: Math.trunc(opts.cores / processes),
    memoryBytes,
    memoryLimit: memoryLimitText(memoryBytes / processes),
  };
}

// dask-jobqueue formats memory / processes, a Python float: below 0.9 kiB format_bytes prints it as `512.0 B`.
function memoryLimitText(bytes: number): string {
  if (bytes >= 0.9 * 1024) return formatBytes(bytes);
  return `${pythonFloat(bytes)}B`;
}

/** The option each generated header line comes from; `select` is built from `cores` and `memory`. */
export type HeaderKey = 'name' | 'queue' | 'account' | 'resource-spec' | 'select' | 'walltime' | 'log-directory';

export interface HeaderLine {
  key: HeaderKey;
  /** The directive up to its value, e.g. `-l walltime=`; the line is `#PBS <prefix><value>`. */
  prefix: string;
  value: string;
}

/**
 * PBSJob's generated header in its order, before job-directives-skip. It takes a partial section so the linter can
 * read a config that is still being typed: a line whose source keys are missing or unreadable is left out.
 */
export function generatedHeader(opts: Partial<PbsOptions>): HeaderLine[] {
  const lines: HeaderLine[] = [];
  const add = (key: HeaderKey, prefix: string, value: unknown) => lines.push({ key, prefix, value: String(value) });
  if (opts.name !== undefined && opts.name !== null) add('name', '-N ', opts.name);
  if (opts.queue !== undefined) add('queue', '-q ', opts.queue);
  // PBSJob falls back to $PBS_ACCOUNT when account is empty; that variable belongs to the machine running
  // PBSCluster, which here is none, so an empty account means no -A line.
  // The deprecated project stands in while account is empty, as in PBSJob.
  const account = opts.account || opts.project;
  if (account) add('account', '-A ', account);
  if (opts['resource-spec'] !== undefined) add('resource-spec', '-l ', opts['resource-spec']);
  else if (opts.cores !== undefined && opts.memory !== undefined) {
    const mem = memoryBytesOf(opts.memory);
    if (mem !== undefined) add('select', '-l ', `select=1:ncpus=${opts.cores}:mem=${pbsFormatBytesCeil(mem)}`);
  }
  if (opts.walltime !== undefined && opts.walltime !== null) add('walltime', '-l walltime=', opts.walltime);
  const logDir = opts['log-directory'];
  if (logDir !== undefined) {
    add('log-directory', '-e ', `${logDir}/`);
    add('log-directory', '-o ', `${logDir}/`);
  }
  return lines;
}

function memoryBytesOf(memory: string | number): number | undefined {
  try {
    return parseBytes(memory);
  } catch {
    return undefined;
  }
}

/** The job-directives-skip entry that removes a generated line, if any: a substring of the whole `#PBS` line. */
export function skippedBy(line: HeaderLine, skip: readonly string[]): string | undefined {
  const text = `#PBS ${line.prefix}${line.value}`;
  return skip.find((s) => text.includes(s));
}

/** The `#PBS` lines in PBSJob's order, after job-directives-skip, followed by the extra directives. */
export function jobHeaderLines(opts: PbsOptions): string[] {
  refuseControlCharacters(opts, 'jobqueue.pbs');
  const skip = effectiveList(opts, 'job-directives-skip', 'header-skip').items;
  const kept = generatedHeader(opts).filter((line) => skippedBy(line, skip) === undefined);
  return [
    ...kept.map((line) => `#PBS ${line.prefix}${line.value}`),
    ...effectiveJobExtraDirectives(opts).map((d) => `#PBS ${d}`),
  ];
}

/**
 * dask-jobqueue reads a deprecated list only while its replacement is empty. Returns the key that was read, so a
 * diagnostic can point at it.
 */
export function effectiveList(
  pbs: Partial<PbsOptions> | Record<string, unknown>, key: string, deprecated: string,
): { key: string; items: string[] } {
  const raw = pbs as Record<string, unknown>;
  const current = raw[key];
  if (Array.isArray(current) && current.length) return { key, items: current.map(String) };
  const old = raw[deprecated];
  if (Array.isArray(old) && old.length) return { key: deprecated, items: old.map(String) };
  return { key, items: [] };
}

export function effectiveJobExtraDirectives(opts: PbsOptions): readonly string[] {
  return effectiveList(opts, 'job-extra-directives', 'job-extra').items;
}

export function effectivePrologue(opts: PbsOptions): readonly string[] {
  return effectiveList(opts, 'job-script-prologue', 'env-extra').items;
}

/** worker-extra-args (or deprecated extra), then `--interface` as dask-jobqueue appends it. */
export function effectiveWorkerExtraArgs(opts: PbsOptions): readonly string[] {
  const args = [...effectiveList(opts, 'worker-extra-args', 'extra').items];
  if (opts.interface) args.push('--interface', opts.interface);
  return args;
}

/**
 * When a worker should retire, for a job of this walltime. A worker with `--lifetime L --lifetime-stagger S` closes
 * gracefully (hands its results to other workers) after L ± S. We keep L + S at most walltime − reserve, where the
 * reserve (10 % of the walltime, 2 to 10 minutes) covers the prologue before the worker starts and the hand-over
 * itself. The stagger (5 %, at most 5 minutes) spreads the retirements of jobs that started together so the cluster
 * does not lose all its workers at once. Whole minutes from 20 minutes of walltime up, for readability. Below about
 * 3 minutes there is no room to retire: undefined.
 */
export function workerLifetime(walltimeSeconds: number): WorkerLifetime | undefined {
  const w = Math.trunc(walltimeSeconds);
  const reserve = Math.trunc(Math.min(600, Math.max(120, w / 10)));
  const minutes = w >= 1200;
  const floorTo = (s: number) => (minutes ? Math.floor(s / 60) * 60 : Math.floor(s));
  const staggerSeconds = floorTo(Math.min(300, w / 20));
  const lifetimeSeconds = floorTo(w - reserve - staggerSeconds);
  return lifetimeSeconds >= 60 ? { lifetimeSeconds, staggerSeconds } : undefined;
}

// dask parses these with parse_timedelta, which reads "55m" and "90s".
function duration(seconds: number): string {
  return seconds % 60 === 0 && seconds > 0 ? `${seconds / 60}m` : `${seconds}s`;
}

function resolveLifetime(opts: PbsOptions, option: LifetimeOption, extraArgs: readonly string[]): WorkerLifetime | undefined {
  if (option === 'off' || extraArgs.some((a) => a.startsWith('--lifetime'))) return undefined;
  if (option !== 'auto') return { lifetimeSeconds: option.lifetimeSeconds, staggerSeconds: option.staggerSeconds ?? 0 };
  if (opts['worker-command'] !== DASK_WORKER_MODULE) return undefined; // other worker CLIs may lack the flag
  let walltime: number;
  if (opts.walltime === null) return undefined; // PBS gives the queue's default walltime, unknown here
  try {
    walltime = parseWalltime(opts.walltime);
  } catch {
    return undefined; // the linter reports the walltime; the script stays PBSCluster's
  }
  return workerLifetime(walltime);
}

/** When a worker job's workers are expected to go (seconds): their lifetime and stagger, and the job's walltime. */
export function workerExpiry(opts: PbsOptions, ctx: JobScriptContext): { lifetime: number | null; stagger: number | null; walltime: number | null } {
  const lifetime = resolveLifetime(opts, ctx.lifetime ?? 'auto', effectiveWorkerExtraArgs(opts));
  let walltime: number | null = null;
  try {
    walltime = opts.walltime === null ? null : parseWalltime(opts.walltime);
  } catch {
    walltime = null; // the linter reports it
  }
  return { lifetime: lifetime?.lifetimeSeconds ?? null, stagger: lifetime?.staggerSeconds ?? null, walltime };
}

// `~/` must stay outside the quotes for the job's shell to expand it.
function quotePath(path: string): string {
  return path.startsWith('~/') ? `~/${shellQuote(path.slice(2))}` : shellQuote(path);
}

/** The worker command line, as dask-jobqueue's Job builds `_command_template`, with the three changes above. */
export function workerCommand(opts: PbsOptions, ctx: JobScriptContext): string {
  const layout = workerLayout(opts);
  const module = opts['worker-command'];
  const extraArgs = effectiveWorkerExtraArgs(opts);
  const prefix = ctx.workerNamePrefix ?? opts.name ?? DEFAULT_JOB_NAME;
  const args: string[] = [
    `${opts.python ?? DEFAULT_PYTHON} -m ${module}`,
    '--scheduler-file', quotePath(ctx.schedulerFile),
    '--name', `${shellQuote(`${prefix}-`)}"$PBS_JOBID"`,
    '--nthreads', String(layout.threads),
    '--memory-limit', layout.memoryLimit,
  ];
  if (module === DASK_WORKER_MODULE) {
    if (layout.processes > 1) args.push('--nworkers', String(layout.processes));
    args.push('--nanny');
  }
  // Printed as dask-jobqueue prints it: floats and text arrive as Python's text from the config reader.
  if (opts['death-timeout'] !== null) args.push('--death-timeout', String(opts['death-timeout']));
  if (opts['local-directory'] !== undefined) args.push('--local-directory', opts['local-directory']);
  args.push(...extraArgs);
  if (ctx.tls) {
    // dask-jobqueue's order: the protocol its security implies, then get_tls_config_for_role('worker') without ciphers.
    args.push('--protocol', 'tls://', '--tls-ca-file', quotePath(ctx.tls.caFile), '--tls-cert', quotePath(ctx.tls.cert),
      '--tls-key', quotePath(ctx.tls.key));
  }
  const lifetime = resolveLifetime(opts, ctx.lifetime ?? 'auto', extraArgs);
  if (lifetime) {
    args.push('--lifetime', duration(lifetime.lifetimeSeconds));
    if (lifetime.staggerSeconds > 0) args.push('--lifetime-stagger', duration(lifetime.staggerSeconds));
  }
  return args.join(' ');
}

/**
 * The whole job script, in Job._script_template's layout: shebang, a blank line, the header, then on their own lines
 * the prologue, the worker command and the epilogue (an empty prologue or epilogue still leaves its empty line).
 */
export function renderJobScript(opts: PbsOptions, ctx: JobScriptContext): string {
  refuseControlCharacters({ ...opts, 'scheduler-file': ctx.schedulerFile, 'worker-name-prefix': ctx.workerNamePrefix, tls: ctx.tls }, 'jobqueue.pbs');
  const prologue = effectivePrologue(opts).filter(Boolean).join('\n');
  const epilogue = opts['job-script-epilogue'].filter(Boolean).join('\n');
  const header = jobHeaderLines(opts).join('\n');
  return `${opts.shebang}\n\n${header}\n${prologue}\n${workerCommand(opts, ctx)}\n${epilogue}\n`;
}

/** The Dask worker names a job's workers take: `<prefix>-<job id>`, with `-<i>` per process when there are several. */
export function workerNames(prefix: string, jobId: string, processes: number): string[] {
  const base = `${prefix}-${jobId}`;
  if (processes <= 1) return [base];
  return Array.from({ length: processes }, (_, i) => `${base}-${i}`);
}

/** Which of `jobIds` a worker named by this script belongs to (exact match, not a guess at where the id ends). */
export function jobIdOfWorker(workerName: string, prefix: string, jobIds: Iterable<string>): string | undefined {
  if (!workerName.startsWith(`${prefix}-`)) return undefined;
  const rest = workerName.slice(prefix.length + 1);
  for (const id of jobIds) {
    if (rest === id || (rest.startsWith(`${id}-`) && /^\d+$/.test(rest.slice(id.length + 1)))) return id;
  }
  return undefined;
}
