// Reading back what applyScript and downScript did: the jobs they found, submitted and cancelled, the scheduler they
// found or started, and the failures, each turned into the typed error that says what to do.
import { JOB_ID, qsubError, type QsubError } from '../pbs/submit';
import {
  ClusterLockedError, DaskNotFoundError, PbsUnavailableError, PythonNotFoundError, RemoteCommandError, RemoteOutputError,
  SchedulerStartError,
} from './errors';
import { excerptOf, runtimeDocument, type Section, type Sections } from './output';
import {
  checkDoc, envDocSchema, retireDocSchema, shutdownDocSchema, startDocSchema, statusDocSchema, type RuntimeMetadata,
} from './runtimeDocs';

export interface JobState {
  id: string;
  /** The job_state letter, or '-' when PBS no longer has the job in its queue. */
  state: string;
}

export type CancelOutcome = 'deleted' | 'gone' | 'error';

export interface CancelledJob {
  id: string;
  /** deleted: qdel accepted; gone: it had already finished or PBS did not know it; error: see message. */
  outcome: CancelOutcome;
  message?: string;
  /** For a running job: its workers that handed their data over before it was cancelled. */
  retiredWorkers?: string[];
}

export type SchedulerAction =
  | { kind: 'job-exists'; jobId: string; state: string }
  | { kind: 'answers'; address?: string }
  | { kind: 'submitted'; jobId: string }
  | { kind: 'started-login'; metadata: RuntimeMetadata };

export interface ApplyOutcome {
  /** The runtime with the expected hash is not on the cluster: deploy, then run again. */
  needsRuntime: boolean;
  /** The cluster's jobs still in the queue before the change (the scheduler's first). */
  before: JobState[];
  scheduler?: SchedulerAction;
  /** Whether adaptivity was on before it was turned off by this action. */
  adaptWasOn?: boolean;
  /** Adaptivity turned on, owning this many existing jobs. */
  adaptAdopted?: number;
  scale?: { before: number; queued: number; running: number; target: number };
  submitted: string[];
  submitErrors: QsubError[];
  cancelled: CancelledJob[];
  warnings: string[];
}

function doc(section: Section | undefined, what: string): Record<string, unknown> | undefined {
  return section ? runtimeDocument(section.body, what) : undefined;
}

function lockedError(section: Section, cluster: string, host: string): ClusterLockedError {
  const owner = section.body.trim();
  const [pid, ownerHost, until, ...rest] = owner.split(/\s+/);
  const who = owner ? `${rest.join(' ') || 'another client'} (pid ${pid} on ${ownerHost}, until ${new Date(Number(until) * 1000).toISOString()})` : 'another client';
  if (section.tag[1] === '2') return new ClusterLockedError(`The directory of cluster ${cluster} on ${host} disappeared while waiting for its lock; try again.`, owner);
  return new ClusterLockedError(
    `Cluster ${cluster} on ${host} is being changed by ${who}. Try again when it is done; a lock left by a client that ` +
      `died expires by itself.`,
    owner,
  );
}

/** The python/Dask check before starting a scheduler. */
function envError(sections: Sections, python: string, host: string): Error {
  const env = sections.first('env');
  const rc = Number(env?.tag[1]);
  const prologue = sections.first('prologue')?.body.trim() ?? '';
  const prologueNote = prologue ? ` The job-script-prologue printed: ${excerptOf(prologue, 400)}.` : '';
  const body = env?.body ?? '';
  const parsed = doc(env, 'the Python check (run.py env)');
  const fix =
    'Put the lines that load your Python environment in jobqueue.pbs.job-script-prologue (e.g. `module load ' +
    'python3/3.11.7` and `source /g/data/<project>/<venv>/bin/activate`), or set jobqueue.pbs.python to an ' +
    'interpreter that has dask and distributed.';
  if (parsed) {
    const e = checkDoc(envDocSchema, parsed, 'the Python check (run.py env)');
    if (!e.ok && e.code === 'no-dask') {
      return new DaskNotFoundError(`${python} on ${host} cannot import Dask: ${e.error}. ${fix}${prologueNote}`, python, prologue);
    }
    if (!e.ok) return new RemoteCommandError(`Checking ${python} on ${host} failed (${e.code}): ${e.error}`, e.code);
  }
  if (rc === 127 || rc === 126 || /not found|No such file|Permission denied/i.test(body)) {
    return new PythonNotFoundError(
      `The Python for the cluster, "${python}", cannot be run on ${host} after the prologue (${excerptOf(body, 200)}). ${fix}${prologueNote}`,
      python, prologue);
  }
  return new RemoteOutputError(`Checking ${python} on ${host} gave no answer (exit status ${rc}): ${excerptOf(body)}.${prologueNote}`, excerptOf(body));
}

/** qdel's outcome per job: its messages name the jobs it could not delete. */
export function qdelOutcomes(ids: readonly string[], output: string): CancelledJob[] {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  return ids.map((id) => {
    const about = lines.filter((l) => l.includes(id));
    if (about.length === 0) return { id, outcome: 'deleted' };
    if (about.every((l) => /Unknown Job Id|has finished/i.test(l))) return { id, outcome: 'gone', message: about.join('; ') };
    return { id, outcome: 'error', message: about.join('; ') };
  });
}

function qdelSections(sections: Sections): CancelledJob[] {
  const out: CancelledJob[] = [];
  const list = sections.list;
  list.forEach((s, i) => {
    if (s.tag[0] !== 'qdel') return;
    const ids = s.body.split('\n').map((l) => l.trim()).filter((l) => JOB_ID.test(l));
    const next = list[i + 1];
    out.push(...qdelOutcomes(ids, next?.tag[0] === 'qdel-out' ? next.body : ''));
  });
  return out;
}

function retireSection(sections: Sections, warnings: string[]): CancelledJob[] {
  const section = sections.first('retire');
  if (!section) return [];
  const raw = doc(section, 'retiring workers (run.py retire)');
  if (!raw) {
    warnings.push(`Retiring workers failed, so running jobs were cancelled without handing their data over: ${excerptOf(section.body)}`);
    return [];
  }
  const r = checkDoc(retireDocSchema, raw, 'retiring workers (run.py retire)');
  warnings.push(...r.warnings);
  if (!r.ok && r.error) warnings.push(r.error);
  // {id: outcome}, or {error: message} when qdel could not run (no job id is "error").
  const qdel = (r.qdel ?? {}) as Record<string, string>;
  return r.chosen.map((id) => {
    const said = qdel[id];
    const outcome: CancelOutcome = said === 'deleted' ? 'deleted' : said === 'gone' ? 'gone' : 'error';
    const retiredWorkers = (r.workers[id] ?? []).filter((w) => r.retired.includes(w));
    return { id, outcome, retiredWorkers, ...(outcome === 'error' ? { message: said ?? r.error ?? 'not cancelled' } : {}) };
  });
}

export interface ApplyContext {
  cluster: string;
  host: string;
  python: string;
}

/** Reads applyScript's output; throws the typed error for a lock, a PBS or Python problem, or a failed start. */
export function readApplyOutput(sections: Sections, ctx: ApplyContext): ApplyOutcome {
  const outcome: ApplyOutcome = { needsRuntime: false, before: [], submitted: [], submitErrors: [], cancelled: [], warnings: [] };
  if (sections.first('noruntime')) return { ...outcome, needsRuntime: true };
  if (sections.first('nodir')) {
    throw new RemoteCommandError(`Cannot create ~/.gadi-dask/clusters/${ctx.cluster} on ${ctx.host}: is the home directory writable and under its quota?`, 'nodir');
  }
  const locked = sections.first('locked');
  if (locked) throw lockedError(locked, ctx.cluster, ctx.host);
  const qstatFailed = sections.first('qstat-failed');
  if (qstatFailed) {
    throw new PbsUnavailableError(
      `PBS did not answer on ${ctx.host}, so nothing was changed: ${excerptOf(qstatFailed.body) || 'qstat failed'}. Is qstat on PATH in a ` +
        `login shell there? Try again later if the PBS server is busy.`, qstatFailed.body);
  }
  for (const line of (sections.first('state')?.body ?? '').split('\n')) {
    const [id, state] = line.trim().split(/\s+/);
    if (id && state && JOB_ID.test(id) && state !== '-') outcome.before.push({ id, state });
  }
  const off = sections.first('adapt-off');
  if (off) outcome.adaptWasOn = off.tag[1] === '1';

  const existing = sections.first('sched');
  if (existing) outcome.scheduler = schedulerAction(sections, ctx);
  else if (sections.first('env')) throw envError(sections, ctx.python, ctx.host);

  const scale = sections.first('scale');
  if (scale) {
    const [before, queued, running, target] = scale.tag.slice(1).map(Number);
    outcome.scale = { before, queued, running, target };
  }
  for (const s of sections.all('sub')) {
    const index = Number(s.tag[1]);
    const rc = Number(s.tag[2]);
    const err = sections.list.find((x) => x.tag[0] === 'sub-err' && Number(x.tag[1]) === index)?.body ?? '';
    const id = s.body.split('\n').map((l) => l.trim()).filter((l) => JOB_ID.test(l)).at(-1);
    if (rc === 0 && id) outcome.submitted.push(id);
    else outcome.submitErrors.push(qsubError(rc, s.body, err));
  }
  outcome.cancelled.push(...qdelSections(sections), ...retireSection(sections, outcome.warnings));
  const on = sections.first('adapt-on');
  if (on) outcome.adaptAdopted = Number(on.tag[1]);
  if (!sections.complete) {
    throw new RemoteOutputError(
      `The remote command for cluster ${ctx.cluster} on ${ctx.host} stopped before its end (killed, or the connection dropped). ` +
        `Submitted: ${outcome.submitted.join(', ') || 'none'}; cancelled: ${outcome.cancelled.map((c) => c.id).join(', ') || 'none'}. ` +
        'Run status to see where the cluster stands.',
      '',
    );
  }
  return outcome;
}

function schedulerAction(sections: Sections, ctx: ApplyContext): SchedulerAction {
  const s = sections.first('sched')!;
  switch (s.tag[1]) {
    case 'job':
      return { kind: 'job-exists', jobId: s.tag[2], state: s.tag[3] };
    case 'answers': {
      const d = doc(s, 'the status probe (run.py status)');
      const status = d ? checkDoc(statusDocSchema, d, 'the status probe (run.py status)') : undefined;
      return { kind: 'answers', address: status?.ok ? status.scheduler.address : undefined };
    }
    case 'submit': {
      const rc = Number(s.tag[2]);
      const err = sections.list.find((x) => x.tag[0] === 'sched' && x.tag[1] === 'submit-err')?.body ?? '';
      const id = s.body.split('\n').map((l) => l.trim()).filter((l) => JOB_ID.test(l)).at(-1);
      if (rc === 0 && id) return { kind: 'submitted', jobId: id };
      throw qsubError(rc, s.body, err);
    }
    case 'login': {
      const d = doc(s, 'starting the scheduler (run.py scheduler --detach)');
      if (!d) {
        throw new SchedulerStartError(`The scheduler did not start on ${ctx.host}: ${excerptOf(s.body, 400)}`, undefined, s.body);
      }
      const started = checkDoc(startDocSchema, d, 'starting the scheduler (run.py scheduler --detach)');
      if (started.ok) return { kind: 'started-login', metadata: started };
      if (started.code === 'already-running') return { kind: 'answers', address: started.address ?? undefined };
      const log = Array.isArray(started.log) ? started.log.join('\n') : started.log ?? '';
      throw new SchedulerStartError(
        `The scheduler did not start on ${ctx.host} (${started.code}): ${started.error}.${log ? ` Its log ends with: ${excerptOf(log, 600)}` : ''}`,
        undefined, log);
    }
    default:
      throw new RemoteOutputError(`Unexpected scheduler report "${s.tag.join(':')}"`, s.tag.join(':'));
  }
}

export interface DownOutcome {
  /** The scheduler answered and was stopped. */
  wasRunning: boolean;
  stopped: boolean;
  /** Workers that handed their data over and closed. */
  retiredWorkers: string[];
  cancelled: CancelledJob[];
  purged: boolean;
  /** False when there was no cluster directory at all. */
  existed: boolean;
  warnings: string[];
}

export function readDownOutput(sections: Sections, ctx: ApplyContext): DownOutcome {
  const outcome: DownOutcome = { wasRunning: false, stopped: false, retiredWorkers: [], cancelled: [], purged: false, existed: true, warnings: [] };
  if (sections.first('nocluster')) return { ...outcome, existed: false };
  const locked = sections.first('locked');
  if (locked) throw lockedError(locked, ctx.cluster, ctx.host);
  const shutdown = sections.first('shutdown');
  if (shutdown) {
    const raw = doc(shutdown, 'the shutdown (run.py shutdown)');
    if (!raw) {
      outcome.warnings.push(`The scheduler could not be asked to stop (${excerptOf(shutdown.body, 300)}); its job is cancelled instead.`);
    } else {
      const d = checkDoc(shutdownDocSchema, raw, 'the shutdown (run.py shutdown)');
      if (d.ok) {
        outcome.wasRunning = d.wasRunning;
        outcome.stopped = d.stopped;
        outcome.retiredWorkers = d.retired;
        outcome.warnings.push(...d.warnings);
      } else {
        outcome.warnings.push(`Stopping the scheduler: ${d.error}`);
      }
    }
  } else if (sections.first('noruntime')) {
    outcome.warnings.push('The runtime is not installed, so no scheduler could have been asked to stop; jobs are cancelled.');
  }
  const qstatFailed = sections.first('qstat-failed');
  if (qstatFailed) outcome.warnings.push(`qstat did not answer (${excerptOf(qstatFailed.body, 200)}); every recorded job was cancelled to be sure.`);
  outcome.cancelled = qdelSections(sections);
  outcome.purged = !!sections.first('purged');
  if (!sections.first('cleaned') || !sections.complete) {
    throw new RemoteOutputError(
      `Shutting down cluster ${ctx.cluster} on ${ctx.host} stopped before its end; cancelled so far: ` +
        `${outcome.cancelled.map((c) => c.id).join(', ') || 'none'}. Run down again.`, '');
  }
  return outcome;
}

export interface CancelJobsOutcome {
  /** One entry per id asked for, in the order asked. */
  cancelled: CancelledJob[];
  warnings: string[];
}

/** Reads cancelScript's output: every id asked for gets an outcome, whichever way it went. */
export function readCancelOutput(sections: Sections, ids: readonly string[], ctx: ApplyContext): CancelJobsOutcome {
  if (sections.first('nocluster')) {
    return { cancelled: ids.map((id) => ({ id, outcome: 'error', message: `cluster ${ctx.cluster} has no directory on ${ctx.host}` })), warnings: [] };
  }
  const locked = sections.first('locked');
  if (locked) throw lockedError(locked, ctx.cluster, ctx.host);
  const qstatFailed = sections.first('qstat-failed');
  if (qstatFailed) {
    throw new PbsUnavailableError(
      `PBS did not answer on ${ctx.host}, so no job was cancelled: ${excerptOf(qstatFailed.body) || 'qstat failed'}. Try again later.`, qstatFailed.body);
  }
  const listed = (tag: string) => (sections.first(tag)?.body ?? '').split('\n').map((l) => l.trim()).filter((l) => JOB_ID.test(l));
  const warnings: string[] = [];
  const found = new Map<string, CancelledJob>();
  for (const id of listed('foreign')) found.set(id, { id, outcome: 'error', message: `not a job of cluster ${ctx.cluster}` });
  for (const id of listed('gone')) found.set(id, { id, outcome: 'gone' });
  for (const c of [...qdelSections(sections), ...retireSection(sections, warnings)]) found.set(c.id, c);
  if (!sections.complete) {
    throw new RemoteOutputError(
      `Cancelling jobs of cluster ${ctx.cluster} on ${ctx.host} stopped before its end; cancelled so far: ` +
        `${[...found.values()].filter((c) => c.outcome === 'deleted').map((c) => c.id).join(', ') || 'none'}. Refresh to see where the jobs stand.`, '');
  }
  const cancelled = ids.map((id): CancelledJob => found.get(id) ?? { id, outcome: 'error', message: 'no answer about this job' });
  return { cancelled, warnings };
}
