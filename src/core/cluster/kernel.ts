// A kernel next to the cluster: a Jupyter server with an IPython kernel, in its own PBS job (kernel.placement: job)
// or on the login node (login), run by the config's python after the prologue, where the workers run. Its
// environment connects `Client()` with no arguments to this cluster (the run's client environment, and the
// scheduler's address added by run.py kernel-server when it starts). Its token is made by the agent at each start
// into a 0600 file in the kernel's directory and reaches the server through a 0600 config file: never argv, a PBS
// attribute, a log or settings. The server listens on its node only; a client reaches it through the SSH
// connection (Transport.forward) with the token read over that same connection.
import type { ClusterConfig, KernelOptions } from '../config/schema';
import { DEFAULT_PYTHON, effectivePrologue } from '../pbs/jobScript';
import { shellQuote } from '../remote/shellQuote';
import { parseBytes, pbsFormatBytesCeil } from '../units';
import type { ActionOptions } from './actions';
import type { CancelledJob } from './answers';
import { callOptions, type ClusterCore } from './clusterCore';
import { shellPath } from './names';
import type { Answer } from './protocol';
import { clientEnvironment } from './runFile';
import { schedulerLaunch, serviceJobHeader } from './schedulerJob';

/** The kernel's files in the cluster directory (runtime/gadi_dask/kernel.py, op_kernel.py). */
export const KERNEL_DIR = 'kernel';
export const KERNEL_TOKEN_FILE = 'token';
export const KERNEL_LOG_FILE = 'kernel.log';
/** The script the kernel's job was submitted with (op_kernel.py's KERNEL_SCRIPT). */
export const KERNEL_SCRIPT_FILE = 'kernel.pbs';
const KERNEL_JOB_LOG = 'kernel-job.log';

/** The kernel section with its defaults: a worker job's size, queue, walltime and python; the scheduler's idle-timeout. */
export interface KernelSettings {
  placement: KernelOptions['placement'];
  cores: number;
  memory: string | number;
  queue: string | undefined;
  walltime: string | number | null;
  python: string;
  /** Seconds; undefined: the runtime's default, the scheduler's. */
  idleTimeout: number | undefined;
}

export function kernelSettings(config: ClusterConfig): KernelSettings {
  const k = config.kernel;
  const pbs = config.jobqueue.pbs;
  return {
    placement: k?.placement ?? 'job',
    cores: k?.cores ?? pbs.cores,
    memory: k?.memory ?? pbs.memory,
    queue: k?.queue ?? pbs.queue,
    walltime: k?.walltime ?? pbs.walltime,
    python: k?.python ?? pbs.python ?? DEFAULT_PYTHON,
    idleTimeout: k?.['idle-timeout'] ?? config.scheduler['idle-timeout'],
  };
}

export function kernelJobName(cluster: string): string {
  return `dask-kernel-${cluster}`;
}

/** Where the server listens, by the scheduler's rule: its --interface or --host, else the node's loopback. */
function listenFlags(config: ClusterConfig, cluster: string): string[] {
  const args = schedulerLaunch(config, cluster).args;
  const out: string[] = [];
  for (const flag of ['--interface', '--host']) {
    const i = args.indexOf(flag);
    if (i >= 0) out.push(flag, args[i + 1]);
  }
  return out;
}

/** The kernel's job script: its own size, the workers' project and storage, the client environment, the prologue. */
export function renderKernelJobScript(core: Pick<ClusterCore, 'config' | 'name' | 'paths'>): string {
  const config = core.config;
  const k = kernelSettings(config);
  const kdir = `${core.paths.cluster}/${KERNEL_DIR}`;
  const header = serviceJobHeader(config, {
    name: kernelJobName(core.name), queue: k.queue, ncpus: k.cores, memory: pbsFormatBytesCeil(parseBytes(k.memory)),
    walltime: k.walltime, log: KERNEL_JOB_LOG,
  });
  const args = ['--name', core.name, ...listenFlags(config, core.name), ...(k.idleTimeout !== undefined ? ['--idle-timeout', String(k.idleTimeout)] : [])];
  const command = ['exec', shellPath(k.python), shellPath(core.paths.runPy), 'kernel-server', ...args.map(shellQuote)].join(' ');
  return [
    config.jobqueue.pbs.shebang,
    '',
    ...header,
    '',
    `# gadi-dask kernel of cluster ${core.name}: a Jupyter server whose Client() connects to the cluster.`,
    `exec >>${shellPath(`${kdir}/${KERNEL_LOG_FILE}`)} 2>&1`,
    ...clientEnvironment(core),
    ...effectivePrologue(config.jobqueue.pbs).filter(Boolean),
    command,
    '',
  ].join('\n');
}

export type KernelStatus = Answer<'kernel'>;

export interface KernelStartOptions extends ActionOptions {
  /** How long to wait for the server to listen (default 10 minutes). */
  timeoutMs?: number;
  /** How often to ask (default 2 s). */
  pollMs?: number;
}

/** Where the script of the kernel's latest job is on the cluster. */
export function kernelScriptPath(core: Pick<ClusterCore, 'paths'>): string {
  return `${core.paths.cluster}/${KERNEL_DIR}/${KERNEL_SCRIPT_FILE}`;
}

/** Where the token is on the cluster (0600, readable over the same connection that forwards to the server). */
export function kernelTokenPath(core: Pick<ClusterCore, 'paths'>): string {
  return `${core.paths.cluster}/${KERNEL_DIR}/${KERNEL_TOKEN_FILE}`;
}

export async function kernelStatus(core: ClusterCore, options: ActionOptions = {}): Promise<KernelStatus> {
  return core.call('kernel', { cluster: core.name, action: 'status' }, `the kernel of cluster ${core.name}`, callOptions(120_000, options));
}

export interface KernelStopOptions extends ActionOptions {
  /** That job only, and only while it is the kernel's live job: a row of an older snapshot never stops a newer kernel. */
  jobId?: string;
  /** Answer once the job has left PBS, waiting at most this long (default 60; 0 answers at the qdel). */
  waitSeconds?: number;
}

export async function stopKernel(core: ClusterCore, options: KernelStopOptions = {}): Promise<KernelStatus> {
  const only = options.jobId === undefined ? {} : { jobId: options.jobId };
  const waitSeconds = options.waitSeconds ?? 60;
  return core.call('kernel', { cluster: core.name, action: 'stop', waitSeconds, ...only }, `stopping the kernel of cluster ${core.name}`,
    callOptions(120_000 + waitSeconds * 1000, options));
}

/** Cancel Job on the kernel's job: its stop's answer as that job's cancel outcome (nothing stopped: it had gone). */
export function kernelCancelOutcome(jobId: string, answer: Pick<KernelStatus, 'stopped' | 'errors'>): CancelledJob {
  if (answer.stopped?.includes(jobId)) return { id: jobId, outcome: 'deleted' };
  if (answer.errors?.length) return { id: jobId, outcome: 'error', message: answer.errors.join('; ') };
  return { id: jobId, outcome: 'gone' };
}

/** Starts the kernel (or finds the one running) and waits until its server listens; answers where. */
export async function startKernel(core: ClusterCore, options: KernelStartOptions = {}): Promise<KernelStatus> {
  const k = kernelSettings(core.config);
  const say = options.onProgress ?? (() => undefined);
  const timeoutMs = core.lockWaitSeconds * 1000 + 180_000;
  const started = await core.call('kernel', {
    ...core.lockArgs(timeoutMs), cluster: core.name, action: 'start', placement: k.placement, python: k.python, script: renderKernelJobScript(core),
  }, `starting the kernel of cluster ${core.name}`, callOptions(timeoutMs, options));
  if (started.existing) say(`The kernel of cluster ${core.name} is already ${started.state}`);
  else say(started.jobId ? `Submitted the kernel's job ${started.jobId}` : `Started the kernel on the login node (pid ${started.pid})`);
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  let status: KernelStatus = started;
  let last = '';
  for (;;) {
    if (status.state === 'running' && status.port) return status;
    if (status.state === 'none') throw new Error(`The kernel of cluster ${core.name} ended before its server listened; its output is in ${core.paths.cluster}/${KERNEL_DIR}/${KERNEL_LOG_FILE} on the cluster.`);
    const line = status.state === 'queued'
      ? `waiting for the kernel job (queued: ${status.comment ?? 'no reason given yet'})`
      : 'waiting for the kernel\'s Jupyter server to listen';
    if (line !== last) say(line);
    last = line;
    if (Date.now() > deadline) throw new Error(`The kernel of cluster ${core.name} did not listen in time (${status.state}); gadi-dask kernel status says where it is.`);
    await sleep(options.pollMs ?? 2000, options.signal);
    status = await kernelStatus(core, options);
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason as Error);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
