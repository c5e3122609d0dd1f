// A Python file run on the cluster as a PBS job of its own, a client of the cluster: the job is a worker's size
// (the worker job's directives and prologue, the config's python) until kernels give it a size of its own. The
// file's `Client()` with no arguments connects: the job script exports the cluster's TLS settings as dask's config
// variables (paths only; the keys stay in their 0600 files), and run.py run-file adds the scheduler's address as it
// is when the job starts. Nothing of that is in argv or a PBS attribute (no `qsub -v`: `qstat -f` shows it).
// The job writes its output to a file in the run's directory as it goes (PBS's own output file appears only when
// the job ends); follow.sh streams that file to the client until the job ends, and says how it ended.
import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import { DEFAULT_PYTHON, effectivePrologue, jobHeaderLines } from '../pbs/jobScript';
import { ConnectionError } from '../remote/errors';
import { shellJoin, shellQuote } from '../remote/shellQuote';
import type { RemoteProcess } from '../remote/transport';
import { callOptions, type ClusterCore } from './clusterCore';
import { RunFileError } from './errors';
import { shellPath } from './names';
import { tlsFiles } from './tls';

/** What the run's files are called in its directory (runtime/gadi_dask/op_run.py, runfile.py). */
export const RUN_OUTPUT_FILE = 'output';
export const RUN_SCRIPT_FILE = 'run.pbs';
/** op_run.py's rule for the name the file keeps on the cluster. */
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}\.py$/;
/** A run's file is source code: far below what one agent request should carry. */
export const MAX_RUN_FILE_BYTES = 8 * 2 ** 20;

export interface RunFileOptions {
  /** The file's name as the job sees it (its base name, made safe). */
  fileName: string;
  source: Buffer;
  /** The file's command-line arguments (sys.argv[1:]). */
  args?: readonly string[];
  /** Each piece of the file's output (stdout and stderr together), as it arrives. */
  onOutput?: (chunk: Buffer) => void;
  /** Sentences about the run: submitted, queued, the link dropped. */
  onProgress?: (message: string) => void;
  /** Aborting cancels the job (qdel) and ends the follow. */
  signal?: AbortSignal;
}

export interface RunFileResult {
  jobId: string;
  /** The run's directory on the cluster (absolute). */
  runDir: string;
  /** The file's exit status, when it ran to its end. */
  exitStatus?: number;
  /** The job ended without the file's status (qdel, walltime, a node lost): PBS's Exit_status, or '?'. */
  endedWithout?: string;
  cancelled: boolean;
}

/** The run's id: time-ordered, unique (its directory is made exclusively). */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '')}-${randomBytes(3).toString('hex')}`;
}

/** The name the file keeps on the cluster: its base name with anything unusual replaced. */
export function runFileName(path: string): string {
  let name = basename(path).replace(/[^A-Za-z0-9._-]/g, '_');
  if (!name.endsWith('.py')) name = `${name.replace(/\.+$/, '')}.py`;
  if (!/^[A-Za-z0-9_]/.test(name)) name = `_${name}`;
  if (name.length > 131) name = `${name.slice(0, 128)}.py`;
  return FILE_NAME.test(name) ? name : 'script.py';
}

/** A path as a job script's word: `~/` left for the job's shell to expand, the rest quoted. */
const word = (path: string) => shellPath(path);

/**
 * The environment of a job that is a client of the cluster (a run's, the kernel's): unbuffered Python, and the
 * cluster's TLS settings as dask's config variables, so `Client()` with no arguments connects. Paths only: the keys
 * stay in their 0600 files.
 */
export function clientEnvironment(core: Pick<ClusterCore, 'config' | 'paths'>): string[] {
  const tls = tlsFiles(core.config, core.paths);
  return [
    // A file, not a terminal: without this, Python holds prints back until the job ends.
    'export PYTHONUNBUFFERED=1',
    ...(tls
      ? [
          `export DASK_DISTRIBUTED__COMM__TLS__CA_FILE=${word(tls.caFile)}`,
          `export DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT=${word(tls.cert)}`,
          `export DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY=${word(tls.key)}`,
          'export DASK_DISTRIBUTED__COMM__REQUIRE_ENCRYPTION=True',
        ]
      : []),
  ];
}

/** The run's job script: the worker job's shebang, directives and prologue, then the file under run.py run-file. */
export function renderRunJobScript(core: Pick<ClusterCore, 'config' | 'name' | 'paths'>, runDir: string, fileName: string, args: readonly string[]): string {
  const pbs = core.config.jobqueue.pbs;
  const env = clientEnvironment(core);
  const command = [
    word(pbs.python ?? DEFAULT_PYTHON), word(core.paths.runPy), 'run-file', '--name', shellQuote(core.name), '--dir', word(runDir),
    '--', word(`${runDir}/${fileName}`), ...args.map(shellQuote),
  ].join(' ');
  return [
    pbs.shebang,
    '',
    ...jobHeaderLines(pbs),
    '',
    `# gadi-dask run of ${fileName}: its output goes to the run's directory as it is written.`,
    `exec >>${word(`${runDir}/${RUN_OUTPUT_FILE}`)} 2>&1`,
    ...env,
    ...effectivePrologue(pbs).filter(Boolean),
    command,
    '',
  ].join('\n');
}

/** Submits the file and follows its output to the job's end; see RunFileOptions. */
export async function runFile(core: ClusterCore, options: RunFileOptions): Promise<RunFileResult> {
  const say = options.onProgress ?? (() => undefined);
  if (!FILE_NAME.test(options.fileName)) throw new RunFileError(`"${options.fileName}" cannot name a file on the cluster; runFileName() makes one that can.`);
  if (options.source.length > MAX_RUN_FILE_BYTES) {
    throw new RunFileError(`${options.fileName} is ${options.source.length} bytes; a file run on the cluster may have at most ${MAX_RUN_FILE_BYTES} (copy data to the cluster some other way and read it there).`);
  }
  const runId = newRunId();
  const runDir = `${core.paths.cluster}/runs/${runId}`;
  const script = renderRunJobScript(core, runDir, options.fileName, options.args ?? []);
  const answer = await core.call('run', {
    cluster: core.name, runId, fileName: options.fileName, source: options.source.toString('base64'), script,
  }, `running ${options.fileName} on cluster ${core.name}`, callOptions(core.lockWaitSeconds * 1000 + 180_000, { signal: options.signal, onProgress: say }));
  say(`Submitted ${options.fileName} as job ${answer.jobId}; its output follows as it runs`);
  const result: RunFileResult = { jobId: answer.jobId, runDir: answer.runDir, cancelled: false };
  const ended = await follow(core, answer.jobId, answer.runDir, options);
  if (ended === 'cancelled') {
    result.cancelled = true;
    say(`Cancelling job ${answer.jobId}`);
    // The run's job is the user's, not one of the cluster's: the agent's qdel, never the cluster's cancel.
    const q = await core.call('qdel', { ids: [answer.jobId] }, `cancelling job ${answer.jobId}`, callOptions(120_000, {}));
    const c = q.cancelled[0];
    if (c && c.outcome === 'error') throw new RunFileError(`Job ${answer.jobId} could not be cancelled: ${c.message ?? 'qdel failed'}. Cancel it with gadi-dask cancel ${answer.jobId}.`);
    return result;
  }
  const m = /^(status|ended) (-?\d+|\?)$/.exec(ended);
  if (m?.[1] === 'status') result.exitStatus = Number(m[2]);
  else result.endedWithout = m?.[2] ?? '?';
  return result;
}

const END_LINE = /^gadi-dask-run: ((?:status|ended) (?:-?\d+|\?))$/m;
/** How many times a dropped link is waited for before the follow gives up (the job goes on either way). */
const FOLLOW_ATTEMPTS = 5;

/** Streams the output from where it left off, across dropped links; resolves with follow.sh's end, or 'cancelled'. */
async function follow(core: ClusterCore, jobId: string, runDir: string, options: RunFileOptions): Promise<string> {
  let offset = 0;
  for (let attempt = 1; ; attempt++) {
    if (options.signal?.aborted) return 'cancelled';
    let proc: RemoteProcess;
    try {
      proc = await core.transport.spawn(`bash ${shellPath(`${core.paths.runtime}/follow.sh`)} ${shellJoin([runDir, jobId, String(offset)])}`,
        { signal: options.signal, maxOutputBytes: Number.MAX_SAFE_INTEGER });
    } catch (e) {
      if (options.signal?.aborted) return 'cancelled';
      if (!(e instanceof ConnectionError) || attempt >= FOLLOW_ATTEMPTS) throw lostFollow(jobId, runDir, e);
      options.onProgress?.(`The connection dropped; following the output again once it is back (${attempt}/${FOLLOW_ATTEMPTS - 1})`);
      continue;
    }
    let stderr = '';
    proc.onStdout((chunk) => {
      offset += chunk.length;
      options.onOutput?.(chunk);
    });
    proc.onStderr((chunk) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4000);
    });
    const onAbort = () => proc.kill();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const exit = await proc.exited.finally(() => options.signal?.removeEventListener('abort', onAbort));
    if (options.signal?.aborted) return 'cancelled';
    const end = END_LINE.exec(stderr);
    if (end) return end[1];
    if (exit.error instanceof ConnectionError && attempt < FOLLOW_ATTEMPTS) {
      options.onProgress?.(`The connection dropped; following the output again once it is back (${attempt}/${FOLLOW_ATTEMPTS - 1})`);
      continue;
    }
    throw lostFollow(jobId, runDir, exit.error ?? new Error(`follow.sh ended (${exit.code ?? exit.signal}) ${stderr.trim().slice(-300)}`));
  }
}

function lostFollow(jobId: string, runDir: string, cause: unknown): RunFileError {
  return new RunFileError(
    `Lost the output of job ${jobId} (${cause instanceof Error ? cause.message : String(cause)}). The job goes on; its output is in ` +
      `${runDir}/${RUN_OUTPUT_FILE} on the cluster, and gadi-dask cancel ${jobId} cancels it.`, { cause });
}
