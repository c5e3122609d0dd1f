// `gadi-dask job-script | up | scale | adapt | status | down | cancel`: parse the command line, open the transport, call the
// cluster lifecycle, print the result on stdout and progress on stderr, and return an exit status (exitCodes.ts).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { cancelOtherJobs, checkCeiling, connectLocalClient, ClusterManager, MAX_RUN_FILE_BYTES, runFileName, type Cluster, ConfigFileError, jobCeiling, loadClusterConfig, reportJson, type CancelledJob, type ClusterSnapshot } from '../core/cluster';
import { clusterNameOf, clusterPaths } from '../core/cluster/names';
import { renderSchedulerJobScript } from '../core/cluster/schedulerJob';
import { workerScriptContext } from '../core/cluster/tls';
import { GADI_MAX_JOBS_PER_USER, GADI_SUBMISSIONS_PER_MINUTE } from '../core/config/queues';
import type { ClusterConfig } from '../core/config/schema';
import { checkBeforeSubmit } from '../core/lintGate';
import { renderJobScript, workerLayout } from '../core/pbs/jobScript';
import { JOB_ID, QDEL_EXIT } from '../core/pbs/submit';
import { clampTimerMs } from '../core/timers';
import { trace } from '../core/trace';
import { neutralize, neutralizeJson } from '../core/serverText';
import { HostKeyError } from '../core/remote/errors';
import { LocalTransport } from '../core/remote/localTransport';
import { SshTransportPool } from '../core/remote/sshTransport';
import type { Transport } from '../core/remote/transport';
import type { SshPrompt } from '../core/remote/prompt';
import { EXIT, exitCodeOf, UsageError } from './exitCodes';
import { renderAdapt, renderCancel, renderDown, renderKernel, renderReport, renderScale, renderStatus, renderUp, renderWorkers, toJson } from './render';
import { isInteractive, readLine, TerminalPrompt } from './terminal';

export const CLUSTER_COMMANDS = ['job-script', 'up', 'scale', 'adapt', 'status', 'report', 'down', 'cancel', 'connect', 'run', 'kernel'] as const;
export type ClusterCommand = (typeof CLUSTER_COMMANDS)[number];

export interface CliIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  cwd: string;
  /** A process that keeps connections between commands (server.ts): the connection and session agent it holds for
   * this destination (the config says which agent). It throws when it has none signed in, before anything is done. */
  connections?: (to: Destination, config: ClusterConfig) => Kept;
  /** Milliseconds since the command's own process started (traces count from there). */
  elapsedMs?: () => number;
}

/** Where a command connects: an ssh destination with the files it was told to read, or this machine. */
export type Destination = { target: string; sshConfigFile?: string; knownHostsFile?: string } | 'local';

/** A connection and its session agent, kept open by whoever made them. */
export interface Kept {
  transport: Transport;
  manager: ClusterManager;
}

export const CLUSTER_HELP = `Cluster commands:
  job-script [--scheduler]       print the worker job script (or the scheduler's); no connection needed
  up [--wait]                    deploy the runtime and start the scheduler (waits until it runs)
  scale N [--workers] [--wait]   reach N worker jobs (or N workers: ceil(N / processes) jobs), in one round trip;
                                 starts the scheduler first if none runs; refused when your jobs would pass the
                                 ceiling (scheduler.max-jobs in the config, default ${GADI_MAX_JOBS_PER_USER} queued or running);
                                 more than ${GADI_SUBMISSIONS_PER_MINUTE} new jobs are submitted at ${GADI_SUBMISSIONS_PER_MINUTE} a minute after the first ${GADI_SUBMISSIONS_PER_MINUTE};
                                 --wait: until every worker is connected (or --timeout);
                                 the scheduler then holds N: a job that ends is replaced, one near its walltime
                                 gets a successor first; after 3 failed starts in a row it stops and status says why
  adapt MIN MAX | adapt off      let the scheduler keep MIN..MAX worker jobs itself; off: hold no size, adapt no more
  status [--json]                the cluster's jobs, workers and scheduler
  report [--json]                per run and job: SU spent against the estimate, CPU efficiency, peak memory
  down [--purge] [--keep-kernel] cancel every job of the cluster (its scheduler and workers end with them) and
                                 stop its kernel; --keep-kernel leaves the kernel running (its notebook's state)
  cancel JOBID... [--yes]        cancel PBS jobs: the cluster's through the cluster (workers retired first), your
                                 other jobs with qdel; asks first on a terminal, needs --yes otherwise
  connect [--port N] [--python P] forward the scheduler to 127.0.0.1:N (default any free port) and print the
                                 Client(...) that connects a local Python to it; keeps the tunnel until Ctrl-C
  run FILE [-- ARGS...]          run a Python file on the cluster as a PBS job of a worker's size, with Client()
                                 connected to the cluster; streams its output and exits with its status;
                                 Ctrl-C cancels the job
  kernel [start|status|stop]     a Jupyter server with an IPython kernel next to the cluster (config: kernel:),
                                 whose Client() connects to it; start waits until it listens (or --timeout);
                                 status (the default) says its job's state and where it listens; down stops it
                                 too, unless --keep-kernel

Options for every cluster command:
  --config FILE          the cluster config (default: the one *.dask-cluster.yaml in this directory)
  --transport ssh|local  ssh (default) to connection.host; local when already on the cluster's login node
  --ssh-config FILE      use this ssh config instead of ~/.ssh/config (and not the system one)
  --known-hosts FILE     trust the host keys in this file (new ones are added to it)
  --json                 print the result as JSON
  -q, --quiet            no progress messages on stderr
  --no-wait              up, scale, adapt: do not wait for a scheduler job that was just submitted
  --timeout SECONDS      how long to wait for the scheduler, and with scale --wait for the workers (default 600)
`;

const OPTIONS = {
  config: { type: 'string' },
  transport: { type: 'string' },
  'ssh-config': { type: 'string' },
  'known-hosts': { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  'no-wait': { type: 'boolean' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  yes: { type: 'boolean', short: 'y' },
  workers: { type: 'boolean' },
  purge: { type: 'boolean' },
  'keep-kernel': { type: 'boolean' },
  scheduler: { type: 'boolean' },
  port: { type: 'string' },
  python: { type: 'string' },
} satisfies ParseArgsConfig['options'];

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

const ALLOWED: Record<ClusterCommand, ReadonlyArray<keyof typeof OPTIONS>> = {
  'job-script': ['config', 'scheduler'],
  up: ['no-wait', 'wait', 'timeout'],
  scale: ['workers', 'no-wait', 'wait', 'timeout'],
  adapt: ['no-wait', 'timeout'],
  status: [],
  report: [],
  down: ['purge', 'keep-kernel'],
  cancel: ['yes'],
  connect: ['port', 'python'],
  run: [],
  kernel: ['timeout'],
};
const COMMON: ReadonlyArray<keyof typeof OPTIONS> = ['config', 'transport', 'ssh-config', 'known-hosts', 'json', 'quiet'];

function parse(command: ClusterCommand, argv: string[]): { values: Values; positionals: string[] } {
  // parseArgs would read `-1` as an unknown option.
  const negative = argv.find((a) => /^-\d/.test(a));
  if (negative !== undefined) throw new UsageError(`${command} takes whole numbers from 0 up, not "${negative}"`);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const allowed = new Set([...ALLOWED[command], ...(command === 'job-script' ? [] : COMMON)]);
  for (const key of Object.keys(parsed.values)) {
    if (!allowed.has(key as keyof typeof OPTIONS)) throw new UsageError(`${command} does not take --${key}`);
  }
  return parsed;
}

/** A whole number, or a usage error saying what is allowed. */
function count(text: string | undefined, what: string): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new UsageError(`${what} must be a whole number, not ${text === undefined ? 'nothing' : `"${text}"`}`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what} is too large: ${text}`);
  return n;
}


/** The config file: --config, else the single *.dask-cluster.yaml (or .yml) in the working directory. */
export function findConfigFile(given: string | undefined, cwd: string): string {
  if (given) return resolve(cwd, given);
  let names: string[];
  try {
    names = readdirSync(cwd).filter((n) => /\.dask-cluster\.ya?ml$/.test(n)).sort();
  } catch (e) {
    throw new ConfigFileError(`Cannot list ${cwd}: ${(e as Error).message}; pass --config FILE.`);
  }
  if (names.length === 1) return join(cwd, names[0]);
  if (names.length === 0) throw new ConfigFileError(`No *.dask-cluster.yaml in ${cwd}; pass --config FILE.`);
  throw new ConfigFileError(`Several cluster configs in ${cwd} (${names.join(', ')}); pass --config FILE to pick one.`);
}

interface Opened {
  transport: Transport;
  /** Set when the connection is kept by another (io.connections): its session agent goes on after the command. */
  manager?: ClusterManager;
  close(): Promise<void>;
}

function destinationOf(values: Values, config: ClusterConfig, io: CliIO, warn: (m: string) => void): Destination {
  const kind = values.transport ?? 'ssh';
  if (kind === 'local') return 'local';
  if (kind !== 'ssh') throw new UsageError(`--transport is ssh or local, not "${kind}"`);
  const conn = config.connection;
  if (!conn?.host) {
    throw new ConfigFileError('The config has no connection.host: add `connection: {host: <ssh alias>}`, or run on the cluster with --transport local.');
  }
  if (conn.port !== undefined) warn(`connection.port is not used: set Port for ${conn.host} in your ssh config.`);
  return {
    target: conn.user ? `${conn.user}@${conn.host}` : conn.host,
    sshConfigFile: values['ssh-config'] ? resolve(io.cwd, values['ssh-config']) : undefined,
    knownHostsFile: values['known-hosts'] ? resolve(io.cwd, values['known-hosts']) : undefined,
  };
}

/** An ssh pool for `to` as a command opens it; `prompt` asks whoever can answer (a terminal, or nobody). */
export function sshPoolFor(to: Exclude<Destination, 'local'>, prompt: SshPrompt): SshTransportPool {
  return new SshTransportPool({
    prompt,
    sshConfig: to.sshConfigFile ? { configFile: to.sshConfigFile, systemConfigFile: null } : undefined,
    knownHostsFiles: to.knownHostsFile ? [to.knownHostsFile] : undefined,
  });
}

function openTransport(values: Values, config: ClusterConfig, io: CliIO, warn: (m: string) => void): Opened {
  const to = destinationOf(values, config, io, warn);
  if (io.connections) {
    const kept = io.connections(to, config);
    return { ...kept, close: async () => undefined };
  }
  if (to === 'local') {
    const t = new LocalTransport();
    return { transport: t, close: () => t.close() };
  }
  const pool = sshPoolFor(to, new TerminalPrompt({ input: io.stdin, output: io.stderr }));
  try {
    return { transport: pool.open(to.target), close: () => pool.close() };
  } catch (e) {
    void pool.close();
    throw e;
  }
}

function waitOptions(values: Values): { wait: boolean; timeoutMs?: number } {
  if (values['no-wait'] && values.wait) throw new UsageError('--wait and --no-wait contradict each other');
  const wait = !values['no-wait'];
  return values.timeout === undefined ? { wait } : { wait, timeoutMs: clampTimerMs(count(values.timeout, '--timeout') * 1000) };
}

/** On a terminal the progress of a wait rewrites one line; otherwise each change is a plain line. */
function waitLine(io: CliIO, quiet: boolean): { say: (m: string) => void; done: () => void } {
  if (quiet) return { say: () => undefined, done: () => undefined };
  if (!io.stderr.isTTY) return { say: (m) => io.stderr.write(`… ${neutralize(m)}\n`), done: () => undefined };
  let shown = false;
  return {
    say: (m) => {
      io.stderr.write(`\r\x1b[K… ${neutralize(m)}`);
      shown = true;
    },
    done: () => {
      if (shown) io.stderr.write('\n');
      shown = false;
    },
  };
}

/** The same rule as the editor's: nothing is cancelled without a yes; without a terminal only --yes says it. */
async function confirmCancel(ids: readonly string[], io: CliIO, yes: boolean | undefined): Promise<boolean> {
  if (yes) return true;
  const term = { input: io.stdin, output: io.stderr };
  if (!isInteractive(term)) throw new UsageError('cancel asks before it cancels anything; without a terminal, pass --yes');
  const answer = await readLine(term, `Cancel PBS job${ids.length === 1 ? '' : 's'} ${ids.join(', ')}? [y/N] `, false);
  return /^y(es)?$/i.test(answer?.trim() ?? '');
}

function explain(error: unknown, interactive: boolean): string {
  if (error instanceof HostKeyError && error.problem === 'unknown' && !interactive) {
    return `${error.message}\nWithout a terminal nobody can be asked, so an unknown host key is refused: connect once with ` +
      '`ssh` in a terminal to check and accept it, or pass --known-hosts FILE with the key.';
  }
  return error instanceof Error ? error.message : String(error);
}

export async function runClusterCommand(command: ClusterCommand, argv: string[], io: CliIO, signal?: AbortSignal): Promise<number> {
  // run FILE -- ARGS: what follows `--` is the file's, never an option of ours.
  const dashes = command === 'run' ? argv.indexOf('--') : -1;
  const scriptArgs = dashes >= 0 ? argv.slice(dashes + 1) : [];
  const { values, positionals } = parse(command, dashes >= 0 ? argv.slice(0, dashes) : argv);
  // Whatever reaches the terminal may quote the remote side (qsub's stderr, qstat's fields): made inert here.
  const say = (m: string) => io.stderr.write(`${neutralize(m)}\n`);
  const progress = values.quiet ? (m: string) => trace(`progress: ${m}`) : (m: string) => (trace(`progress: ${m}`), say(`… ${m}`));
  const configPath = findConfigFile(values.config, io.cwd);
  const config = loadClusterConfig(configPath);
  const out = (text: string) => io.stdout.write(values.json ? neutralizeJson(text) : neutralize(text));

  if (command === 'job-script') {
    if (positionals.length) throw new UsageError('job-script takes no arguments');
    const paths = clusterPaths(clusterNameOf(config));
    out(values.scheduler
      ? renderSchedulerJobScript(config, clusterNameOf(config), paths.runPy)
      : renderJobScript(config.jobqueue.pbs, workerScriptContext(config, paths)));
    return EXIT.ok;
  }

  // Arguments are checked before anything connects.
  const wait = waitOptions(values);
  const gate = () => checkBeforeSubmit(readFileSync(configPath, 'utf8'), configPath);
  let action: (cluster: ReturnType<ClusterManager['cluster']>) => Promise<number>;
  switch (command) {
    case 'up': {
      if (positionals.length) throw new UsageError('up takes no arguments');
      gate();
      action = async (c) => {
        const r = await c.up({ ...wait, signal, onProgress: progress });
        out(values.json ? toJson(r) : renderUp(r));
        return EXIT.ok;
      };
      break;
    }
    case 'scale': {
      if (positionals.length !== 1) throw new UsageError('scale takes one number: scale N [--workers]');
      const n = count(positionals[0], 'N');
      // Before connecting: the request alone may pass the ceiling (the agent counts the user's other jobs too).
      checkCeiling(jobCeiling(config), values.workers ? Math.ceil(n / workerLayout(config.jobqueue.pbs).processes) : n, 'Scaling the cluster');
      gate();
      action = async (c) => {
        const r = await c.scale(values.workers ? { workers: n } : { jobs: n }, { ...wait, signal, onProgress: progress });
        const failed = r.errors.length || r.cancelled.some((x) => x.outcome === 'error');
        if (!values.wait || r.stopped) {
          out(values.json ? toJson(r) : renderScale(r));
          return failed ? EXIT.failed : EXIT.ok;
        }
        // Waiting for workers, in the same connection: one snapshot per poll.
        const line = waitLine(io, !!values.quiet);
        const tell = (m: string) => (trace(`progress: ${m}`), line.say(m));
        const workers = await c.waitForWorkers(r.targetJobs, { signal, timeoutMs: wait.timeoutMs, onProgress: tell, after: r }).finally(line.done);
        trace('cli: wait done');
        out(values.json ? toJson({ ...r, workers }) : renderScale(r) + renderWorkers(workers));
        if (failed || workers.cannotReach) return EXIT.failed;
        return workers.done ? EXIT.ok : EXIT.timeout;
      };
      break;
    }
    case 'adapt': {
      let request: { minimum: number; maximum: number } | 'off';
      if (positionals.length === 1 && positionals[0] === 'off') request = 'off';
      else if (positionals.length === 2) request = { minimum: count(positionals[0], 'MIN'), maximum: count(positionals[1], 'MAX') };
      else throw new UsageError('adapt takes MIN MAX, or off');
      if (request !== 'off' && request.maximum < request.minimum) throw new UsageError(`MAX (${request.maximum}) is below MIN (${request.minimum})`);
      if (request !== 'off') checkCeiling(jobCeiling(config), request.maximum, 'Adaptive scaling of the cluster up');
      if (request !== 'off') gate(); // turning adaptivity off submits nothing
      const req = request;
      action = async (c) => {
        const r = await c.adapt(req, { ...wait, signal, onProgress: progress });
        out(values.json ? toJson(r) : renderAdapt(r));
        return EXIT.ok;
      };
      break;
    }
    case 'status': {
      if (positionals.length) throw new UsageError('status takes no arguments');
      action = async (c) => {
        const s: ClusterSnapshot = await c.status({ signal });
        out(values.json ? toJson(s) : renderStatus(s));
        return s.scheduler.state === 'running' ? EXIT.ok : EXIT.notRunning;
      };
      break;
    }
    case 'report': {
      if (positionals.length) throw new UsageError('report takes no arguments');
      action = async (c) => {
        const r = await c.report({ signal });
        out(values.json ? toJson(reportJson(r)) : renderReport(r));
        return EXIT.ok;
      };
      break;
    }
    case 'down': {
      if (positionals.length) throw new UsageError('down takes no arguments');
      action = async (c) => {
        const r = await c.down({ purge: values.purge, keepKernel: values['keep-kernel'], signal, onProgress: progress });
        out(values.json ? toJson(r) : renderDown(r));
        return r.cancelled.some((x) => x.outcome === 'error') ? EXIT.failed : EXIT.ok;
      };
      break;
    }
  }

  if (command === 'connect') {
    if (positionals.length) throw new UsageError('connect takes no arguments; the port is --port N');
    const port = values.port === undefined ? undefined : count(values.port, '--port');
    if (port !== undefined && port > 65535) throw new UsageError(`--port must be a port number (0-65535), not ${port}`);
    action = (c) => runConnect(c, { port, python: values.python, json: !!values.json, io, say, progress, out, signal });
  }

  if (command === 'kernel') {
    const sub = positionals[0] ?? 'status';
    if (positionals.length > 1 || !['start', 'status', 'stop'].includes(sub)) throw new UsageError('kernel takes one of start, status, stop');
    if (sub === 'start') gate();
    action = async (c) => {
      const k = sub === 'start'
        ? await c.startKernel({ signal, onProgress: progress, timeoutMs: wait.timeoutMs })
        : sub === 'stop' ? await c.stopKernel({ signal, onProgress: progress }) : await c.kernelStatus({ signal });
      out(values.json ? toJson(k) : renderKernel(k));
      if (k.errors?.length) return EXIT.failed;
      return sub === 'status' && k.state !== 'running' ? EXIT.notRunning : EXIT.ok;
    };
  }

  if (command === 'run') {
    if (positionals.length !== 1) throw new UsageError('run takes one Python file: run FILE [-- ARGS...]');
    const file = resolve(io.cwd, positionals[0]);
    const source = readRunFile(file);
    gate();
    action = (c) => runOnCluster(c, { file, source, args: scriptArgs, io, say, progress, signal });
  }

  if (command === 'cancel') {
    if (!positionals.length) throw new UsageError('cancel takes one or more PBS job ids: cancel JOBID...');
    const bad = positionals.find((id) => !JOB_ID.test(id));
    if (bad !== undefined) throw new UsageError(`"${bad}" is not a PBS job id (like 123.gadi-pbs)`);
    const ids = [...new Set(positionals)];
    if (!(await confirmCancel(ids, io, values.yes))) {
      say('Nothing cancelled.');
      return EXIT.ok;
    }
    action = async (c) => {
      // The agent qdels jobs of no cluster and names the cluster of any other; this cluster's go through it.
      const other = await cancelOtherJobs(c.transport, ids, { signal, onProgress: progress, python: config.jobqueue.pbs.python, prologue: c.environment.prologue });
      const ours = other.filter((x) => x.cluster === c.name).map((x) => x.id);
      const mine = ours.length ? (await c.cancelJobs(ours, { signal, onProgress: progress })).cancelled : [];
      const results: CancelledJob[] = other.map((x) => mine.find((m) => m.id === x.id) ?? x);
      out(values.json ? toJson(results) : renderCancel(results));
      return results.every((x) => x.outcome === 'deleted' || (x.outcome === 'gone' && x.exitCode !== QDEL_EXIT.unknownJob)) ? EXIT.ok : EXIT.failed;
    };
  }

  const opened = openTransport(values, config, io, (m) => say(`warning: ${m}`));
  // A wait asks many times: one agent for all of them (session), ended before the transport closes.
  const manager = opened.manager ?? new ClusterManager(opened.transport, values.wait ? { mode: 'session' } : {});
  try {
    return await action!(manager.cluster(config));
  } catch (e) {
    if (!(e instanceof Error)) throw e;
    say(`gadi-dask ${command}: ${explain(e, isInteractive({ input: io.stdin, output: io.stderr }))}`);
    return exitCodeOf(e);
  } finally {
    if (!opened.manager) manager.close();
    await opened.close();
  }
}

interface ConnectCommand {
  port?: number;
  python?: string;
  json: boolean;
  io: CliIO;
  say: (m: string) => void;
  progress: (m: string) => void;
  out: (text: string) => void;
  signal?: AbortSignal;
}

/** `connect`: prints the address and the snippet, then holds the tunnel until Ctrl-C (or the link is gone for good). */
async function runConnect(c: Cluster, o: ConnectCommand): Promise<number> {
  // The key files live in a private directory of this process, removed when it ends.
  const keyDir = mkdtempSync(join(tmpdir(), 'gadi-dask-connect-'));
  try {
    const client = await connectLocalClient(c, { keyDir, localPort: o.port, python: o.python, signal: o.signal, onProgress: o.progress });
    try {
      if (o.json) {
        o.out(toJson({ address: client.address, remoteAddress: client.remoteAddress, snippet: client.snippet, versions: client.versions, advice: client.advice }));
      } else {
        o.out(`${client.address}\n\n${client.snippet}`);
      }
      o.say(client.advice);
      if (client.versions.warning) o.say(`warning: ${client.versions.warning}`);
      o.say(`The tunnel stays open until Ctrl-C.`);
      await new Promise<void>((resolve) => {
        if (o.signal?.aborted) return resolve();
        o.signal?.addEventListener('abort', () => resolve(), { once: true });
        c.transport.onStateChange((change) => {
          if (change.state === 'reconnecting') o.say('The connection dropped; the tunnel answers again once it is back.');
          if (change.state === 'failed' || change.state === 'closed') resolve();
        });
      });
      return c.transport.state === 'failed' ? EXIT.connection : EXIT.ok;
    } finally {
      await client.close();
    }
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
  }
}

/** The file to run, read before anything connects: a missing or unreadable one is a clear message. */
function readRunFile(file: string): Buffer {
  let source: Buffer;
  try {
    source = readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(code === 'ENOENT' ? `${file} does not exist` : code === 'EISDIR' ? `${file} is a directory, not a Python file` : `cannot read ${file}: ${(e as Error).message}`);
  }
  if (source.length > MAX_RUN_FILE_BYTES) throw new UsageError(`${file} is ${source.length} bytes; a file run on the cluster may have at most ${MAX_RUN_FILE_BYTES}`);
  return source;
}

interface RunCommand {
  file: string;
  source: Buffer;
  args: string[];
  io: CliIO;
  say: (m: string) => void;
  progress: (m: string) => void;
  signal?: AbortSignal;
}

/** `run`: the file's output on stdout as it comes, our messages on stderr; the exit status is the file's. */
async function runOnCluster(c: Cluster, o: RunCommand): Promise<number> {
  const r = await c.runFile({
    fileName: runFileName(o.file), source: o.source, args: o.args, signal: o.signal, onProgress: o.progress,
    onOutput: (chunk) => o.io.stdout.write(chunk),
  });
  if (r.cancelled) {
    o.say(`Cancelled job ${r.jobId}; what it printed is in ${r.runDir} on the cluster.`);
    return EXIT.interrupted;
  }
  if (r.exitStatus !== undefined) {
    if (r.exitStatus !== 0) o.progress(`${basename(o.file)} exited with status ${r.exitStatus} (job ${r.jobId})`);
    return r.exitStatus;
  }
  o.say(`Job ${r.jobId} ended before ${basename(o.file)} did (PBS exit status ${r.endedWithout}): cancelled, out of walltime or its node lost. Its output is in ${r.runDir} on the cluster.`);
  return EXIT.failed;
}
