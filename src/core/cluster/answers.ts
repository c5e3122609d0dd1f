// The agent's answers turned into what the lifecycle returns: the jobs found, submitted and cancelled, the
// scheduler found or started, and each failure as the typed error that says what to do.
import { qsubError, type QsubError } from '../pbs/submit';
import { AgentFailure } from './agent';
import { ceilingRefusal, type JobCeiling } from './ceiling';
import {
  ClusterLockedError, DaskNotFoundError, PbsUnavailableError, PythonNotFoundError, RemoteCommandError,
  SchedulerStartError,
} from './errors';
import { excerptOf } from './output';
import type { Answer, Failure, QsubFailure, SessionInfo } from './protocol';
import { checkDoc, envDocSchema, startDocSchema, statusDocSchema, type RuntimeMetadata } from './runtimeDocs';

export interface JobState {
  id: string;
  /** The job_state letter. */
  state: string;
}

export type CancelOutcome = 'deleted' | 'gone' | 'error';

export interface CancelledJob {
  id: string;
  /** deleted: qdel accepted; gone: it had already finished or PBS did not know it; error: see message. */
  outcome: CancelOutcome;
  message?: string;
  /** qdel's exit status, for a job of no cluster (one qdel per id). */
  exitCode?: number | null;
  /** A job of no cluster asked of qdel that turned out to be this cluster's (it was left alone). */
  cluster?: string;
  /** For a running job: its workers that handed their data over before it was cancelled. */
  retiredWorkers?: string[];
}

export type SchedulerAction =
  | { kind: 'job-exists'; jobId: string; state: string }
  | { kind: 'answers'; address?: string }
  | { kind: 'submitted'; jobId: string }
  | { kind: 'started-login'; metadata: RuntimeMetadata }
  | { kind: 'started-session'; metadata: RuntimeMetadata; session: SessionInfo };

export interface AnswerContext {
  cluster: string;
  host: string;
  python: string;
  /** Only the cluster's own requests can pass it. */
  ceiling?: JobCeiling;
}

function lockedError(f: Failure, ctx: AnswerContext): ClusterLockedError {
  const owner = (f.owner ?? '').trim();
  if (!owner && /disappeared/.test(f.error)) {
    return new ClusterLockedError(`The directory of cluster ${ctx.cluster} on ${ctx.host} disappeared while waiting for its lock; try again.`, owner);
  }
  const [pid, ownerHost, until, ...rest] = owner.split(/\s+/);
  const who = owner ? `${rest.join(' ') || 'another client'} (pid ${pid} on ${ownerHost}, until ${new Date(Number(until) * 1000).toISOString()})` : 'another client';
  return new ClusterLockedError(
    `Cluster ${ctx.cluster} on ${ctx.host} is being changed by ${who}. Try again when it is done; a lock left by a client that ` +
      `died expires by itself.`,
    owner,
  );
}

const ENV_FIX =
  'Put the lines that load your Python environment in jobqueue.pbs.job-script-prologue (e.g. `module load ' +
  'python3/3.11.7` and `source /g/data/<project>/<venv>/bin/activate`), or set jobqueue.pbs.python to an ' +
  'interpreter that has dask and distributed.';

function envError(f: Failure, ctx: AnswerContext): Error {
  const prologue = (f.prologue ?? '').trim();
  const prologueNote = prologue ? ` The job-script-prologue printed: ${excerptOf(prologue, 400)}.` : '';
  if (f.env) {
    const e = checkDoc(envDocSchema, f.env, 'the Python check (run.py env)');
    if (!e.ok && e.code === 'no-dask') {
      return new DaskNotFoundError(`${ctx.python} on ${ctx.host} cannot import Dask: ${e.error}. ${ENV_FIX}${prologueNote}`, ctx.python, prologue);
    }
    if (!e.ok) return new RemoteCommandError(`Checking ${ctx.python} on ${ctx.host} failed (${e.code}): ${e.error}`, e.code);
  }
  return new PythonNotFoundError(
    `The Python for the cluster, "${ctx.python}", gave no answer on ${ctx.host} after the prologue (${excerptOf(f.output ?? '', 200)}). ${ENV_FIX}${prologueNote}`,
    ctx.python, prologue);
}

export function qsubFailureError(q: QsubFailure): QsubError {
  return qsubError(q.rc ?? Number.NaN, q.stdout, q.stderr || (q.rc === null ? 'qsub gave no answer in time; the agent will find the job by its name if PBS took it' : ''));
}

/** The typed error for an operation the agent refused. */
export function failureError(e: unknown, ctx: AnswerContext): unknown {
  if (!(e instanceof AgentFailure)) return e;
  const f = e.failure;
  switch (f.code) {
    case 'locked':
      return lockedError(f, ctx);
    case 'pbs': {
      const missing = /^(\w+): command not found/.exec(f.error);
      if (missing) {
        return new PbsUnavailableError(`${missing[1]} is not on PATH in a login shell on ${ctx.host}, so nothing was changed. ` +
          'Is this a PBS login node? Check `which qsub qstat qselect` in a terminal there.', f.error);
      }
      if (f.unreachable) {
        return new PbsUnavailableError(`Nothing was changed on ${ctx.host}: ${f.error}.`, f.error);
      }
      return new PbsUnavailableError(
        `PBS did not answer in its own format on ${ctx.host}, so nothing was changed: ${f.error}. ` +
          'Try again later if the PBS server is busy.', f.error);
    }
    case 'env':
      return envError(f, ctx);
    case 'kernel-env':
      return new RemoteCommandError(`No kernel was started on ${ctx.host}, and no job submitted: ${f.error}.`, f.code);
    case 'ceiling':
      if (ctx.ceiling) return ceilingRefusal(ctx.ceiling, { userJobs: f.userJobs ?? 0, adding: f.adding ?? 0 }, `This request to cluster ${ctx.cluster} on ${ctx.host}`);
      return new RemoteCommandError(`The gadi-dask agent on ${ctx.host} refused (${f.code}): ${f.error}`, f.code);
    case 'session':
      return new RemoteCommandError(`No scheduler was started: the persistent session could not be started or reached from ${ctx.host}: ${f.error}`, f.code);
    case 'no-python':
      return new PythonNotFoundError(`The Python for the cluster, "${ctx.python}", cannot be run on ${ctx.host}. ${ENV_FIX}`, ctx.python, f.prologue ?? '');
    case 'qsub':
      return f.qsub ? qsubFailureError(f.qsub) : new RemoteCommandError(f.error, f.code);
    case 'no-preamble':
      return new RemoteCommandError(
        `A login script on ${ctx.host} read the gadi-dask agent's standard input before the agent could (${f.error}): ` +
          '~/.bash_profile, ~/.bashrc or ~/.profile runs something that reads input (read, cat, ssh-add, a prompt). Run it only ' +
          'in an interactive terminal (e.g. inside `if [ -t 0 ]; then … fi`) and try again; nothing was changed.', f.code);
    case 'no-home':
      return new RemoteCommandError(
        `Your home directory on ${ctx.host} cannot be used (${f.error}); gadi-dask keeps its runtime and cluster state there, so ` +
          'nothing was changed. Check `echo $HOME; ls -ld "$HOME"` in a terminal there, and any login script that sets HOME.', f.code);
    case 'no-tmpdir':
      return new RemoteCommandError(
        `The gadi-dask agent cannot start on ${ctx.host}: ${f.error}. Check TMPDIR in your login scripts there ` +
          '(`echo $TMPDIR; df -h "$TMPDIR"` in a terminal), or unset it; nothing was changed.', f.code);
    case 'prologue-exit':
      return new RemoteCommandError(
        `The job-script-prologue of cluster ${ctx.cluster} stopped the agent's shell on ${ctx.host}: ${f.error}. Every worker ` +
          'job would end the same way: remove the `exit` (or the command that fails under `set -e`) from ' +
          'jobqueue.pbs.job-script-prologue. Nothing was changed.', f.code);
    case 'no-dir':
      return new RemoteCommandError(`Cannot create ~/.gadi-dask/clusters/${ctx.cluster} on ${ctx.host}: is the home directory writable and under its quota? (${f.error})`, f.code);
    default:
      return new RemoteCommandError(`The gadi-dask agent on ${ctx.host} refused (${f.code}): ${f.error}`, f.code);
  }
}

export function schedulerAction(a: NonNullable<Answer<'apply'>['scheduler']>, ctx: AnswerContext): SchedulerAction {
  switch (a.kind) {
    case 'job-exists':
      return { kind: 'job-exists', jobId: a.jobId, state: a.state };
    case 'submitted':
      return { kind: 'submitted', jobId: a.jobId };
    case 'answers': {
      const status = checkDoc(statusDocSchema, a.status, 'the status probe (run.py status)');
      return { kind: 'answers', address: status.ok ? status.scheduler.address : undefined };
    }
    case 'started-login':
    case 'started-session': {
      const where = a.kind === 'started-session' ? `in the persistent session ${a.session.name} (${a.session.host})` : `on ${ctx.host}`;
      if (!a.start) {
        throw new SchedulerStartError(`The scheduler did not start ${where}: ${excerptOf(a.output, 400)}`, undefined, a.output);
      }
      const started = checkDoc(startDocSchema, a.start, 'starting the scheduler (run.py scheduler --detach)');
      if (started.ok) return a.kind === 'started-session' ? { kind: 'started-session', metadata: started, session: a.session } : { kind: 'started-login', metadata: started };
      if (started.code === 'already-running') return { kind: 'answers', address: started.address ?? undefined };
      const log = Array.isArray(started.log) ? started.log.join('\n') : started.log ?? '';
      throw new SchedulerStartError(
        `The scheduler did not start ${where} (${started.code}): ${started.error}.${log ? ` Its log ends with: ${excerptOf(log, 600)}` : ''}`,
        undefined, log);
    }
  }
}

export function shutdownWarnings(a: Extract<Answer<'down'>, { existed: true }>): { wasRunning: boolean; warnings: string[] } {
  const warnings = [...a.warnings];
  if (!a.shutdown) {
    warnings.push(`The scheduler could not be asked to stop (${excerptOf(a.shutdownOutput ?? '', 300)}); its job is cancelled instead.`);
    return { wasRunning: false, warnings };
  }
  const raw = a.shutdown as { ok?: boolean; wasRunning?: boolean; warnings?: string[]; error?: string };
  if (raw.ok !== true) warnings.push(`Stopping the scheduler: ${raw.error ?? 'failed'}`);
  warnings.push(...(raw.warnings ?? []));
  return { wasRunning: raw.wasRunning === true, warnings };
}

