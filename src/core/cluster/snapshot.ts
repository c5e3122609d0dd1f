// A cluster as one refresh sees it: its PBS jobs (the scheduler's and the workers'), the Dask workers nested under
// the job each one runs in, the scheduler's state and address, and adaptivity. Built from the output of
// statusScript (one exec); every part is typed, and output that cannot be read is an error that quotes it.
import { jobIdOfWorker } from '../pbs/jobScript';
import { parseQstatJson, QstatParseError, type PbsJob } from '../pbs/qstat';
import { pbsState, type PbsStateInfo } from '../pbs/states';
import { PbsUnavailableError, RemoteOutputError } from './errors';
import { excerptOf, runtimeDocument, type Sections } from './output';
import {
  checkDoc, statusDocSchema, type AdaptiveStatus, type ErrorDoc, type RuntimeMetadata, type StatusOk, type WorkerStatus,
} from './runtimeDocs';

export type JobRole = 'scheduler' | 'worker';

export interface JobRecord {
  id: string;
  role: JobRole;
  /** When it was submitted, from the cluster's jobs file. */
  submittedAt?: Date;
}

export interface ClusterJob {
  id: string;
  role: JobRole;
  /** The job_state letter, and what it means. */
  state: string;
  stateInfo: PbsStateInfo;
  /** Everything qstat said about the job. */
  pbs: PbsJob;
  /** The Dask workers running in this job (by the job id in their names). */
  workers: WorkerStatus[];
  /** Adaptivity submitted or adopted it. */
  adaptive: boolean;
  submittedAt?: Date;
}

/**
 * running: the scheduler answers. starting: its job runs, the scheduler is not up yet. queued: its job waits.
 * unreachable: a scheduler file names a scheduler that does not answer. stopped: none (runtime.json says why).
 * not-deployed: the runtime is not on the cluster. unknown: the probe gave no answer (see `problem`).
 */
export type SchedulerState = 'running' | 'starting' | 'queued' | 'unreachable' | 'stopped' | 'not-deployed' | 'unknown';

export interface SchedulerSnapshot {
  state: SchedulerState;
  address?: string;
  dashboard?: { host: string; port: number; url: string };
  /** The PBS job running (or about to run) the scheduler. */
  jobId?: string;
  placement?: string;
  host?: string;
  /** Why it is not running, or what went wrong asking it. */
  problem?: string;
  /** The runtime's description of the scheduler, when it answered. */
  details?: StatusOk['scheduler'];
  metadata?: RuntimeMetadata;
}

export interface ClusterSnapshot {
  cluster: string;
  host: string;
  takenAt: Date;
  /** False when ~/.gadi-dask/clusters/<name>/ does not exist: the cluster was never started here (or was purged). */
  exists: boolean;
  scheduler: SchedulerSnapshot;
  /** Jobs still in the queue: the scheduler's first, then workers' in submission order. */
  jobs: ClusterJob[];
  /** Jobs of the cluster that finished (within a day), newest first. */
  finishedJobs: ClusterJob[];
  /** Workers whose names carry none of the cluster's job ids. */
  otherWorkers: WorkerStatus[];
  adaptive?: AdaptiveStatus;
  /** Active worker jobs and connected workers, for a status line. */
  counts: { workerJobs: number; queuedWorkerJobs: number; workers: number; threads: number };
}

/** The jobs file: `<id> <role> <epoch seconds>` per line; unreadable lines are skipped. */
export function parseJobsFile(text: string): JobRecord[] {
  const records: JobRecord[] = [];
  for (const line of text.split('\n')) {
    const [id, role, when] = line.trim().split(/\s+/);
    if (!id || (role !== 'scheduler' && role !== 'worker')) continue;
    const seconds = Number(when);
    records.push({ id, role, submittedAt: Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000) : undefined });
  }
  return records;
}

const QSTAT_QUIET_CODES = new Set([0, 35, 153]);

/** qstat -x -f -F json of the cluster's jobs, from a `qstat:<rc>` section and its `qstat-err` section. */
export function readQstatSection(sections: Sections, host: string): PbsJob[] {
  const section = sections.first('qstat');
  if (!section) return [];
  const rc = Number(section.tag[1]);
  const err = sections.first('qstat-err')?.body ?? '';
  const unexpected = err.split('\n').filter((l) => l.trim() && !/Unknown Job Id|Job has finished/.test(l));
  if (!QSTAT_QUIET_CODES.has(rc) || unexpected.length) {
    if (!section.body.trim()) {
      const why = rc === 127 ? 'qstat is not on PATH in a login shell there' : `qstat exited with status ${rc}`;
      throw new PbsUnavailableError(`PBS did not answer on ${host}: ${why}: ${excerptOf(unexpected.join('\n') || err)}. Try again later; if it persists, check \`qstat\` in a terminal on ${host}.`, err);
    }
  }
  if (!section.body.trim()) return []; // every job unknown to PBS (history expired)
  try {
    return parseQstatJson(section.body).jobs;
  } catch (e) {
    if (e instanceof QstatParseError) {
      throw new RemoteOutputError(`qstat on ${host} printed output that cannot be read: ${e.message}`, e.excerpt, { cause: e });
    }
    throw e;
  }
}

function schedulerFromError(doc: ErrorDoc, schedulerJob: ClusterJob | undefined): SchedulerSnapshot {
  const metadata = doc.metadata ?? undefined;
  const base = { problem: doc.error, metadata, placement: metadata?.placement ?? undefined, host: metadata?.host ?? undefined };
  if (schedulerJob && schedulerJob.stateInfo.active) {
    const state: SchedulerState = schedulerJob.stateInfo.phase === 'pending' ? 'queued' : 'starting';
    return { ...base, state, jobId: schedulerJob.id };
  }
  const state: SchedulerState = doc.code === 'unreachable' || doc.code === 'timeout' || doc.code === 'bad-scheduler-file' ? 'unreachable' : 'stopped';
  return { ...base, state, address: doc.address ?? undefined, jobId: metadata?.pbsJobId ?? undefined };
}

export interface SnapshotInput {
  cluster: string;
  host: string;
  /** The worker name prefix (jobqueue.pbs.name). */
  workerPrefix: string;
  sections: Sections;
  takenAt?: Date;
}

/** The snapshot from statusScript's output sections. */
export function buildSnapshot(input: SnapshotInput): ClusterSnapshot {
  const { sections, cluster, host } = input;
  const takenAt = input.takenAt ?? new Date();
  const empty = { workerJobs: 0, queuedWorkerJobs: 0, workers: 0, threads: 0 };
  if (sections.first('nocluster')) {
    return {
      cluster, host, takenAt, exists: false, scheduler: { state: 'stopped', problem: `No cluster named ${cluster} on ${host}.` },
      jobs: [], finishedJobs: [], otherWorkers: [], counts: empty,
    };
  }
  const records = parseJobsFile(sections.first('jobs')?.body ?? '');
  const adopted = (sections.first('adopted')?.body ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
  const byId = new Map<string, JobRecord>();
  for (const r of records) if (!byId.has(r.id) || r.role === 'scheduler') byId.set(r.id, r);
  for (const id of adopted) if (!byId.has(id)) byId.set(id, { id, role: 'worker' });
  const order = [...byId.keys()];

  // The status document first: adaptivity tells which jobs it owns.
  let status: StatusOk | undefined;
  let scheduler: SchedulerSnapshot | undefined;
  const statusSection = sections.first('status');
  const statusDocRaw = statusSection ? runtimeDocument(statusSection.body, 'the status probe (run.py status)') : undefined;
  const statusDoc = statusDocRaw ? checkDoc(statusDocSchema, statusDocRaw, 'the status probe (run.py status)') : undefined;
  if (statusDoc?.ok) status = statusDoc;
  const adaptiveIds = new Set((status?.adaptive?.jobs ?? []).map((j) => j.id));
  for (const id of adaptiveIds) if (!byId.has(id)) { byId.set(id, { id, role: 'worker' }); order.push(id); }

  const pbsJobs = new Map(readQstatSection(sections, host).map((j) => [j.id, j]));
  const all: ClusterJob[] = [];
  for (const id of order) {
    const pbs = pbsJobs.get(id);
    const record = byId.get(id);
    if (!pbs || !record) continue; // PBS no longer knows it
    all.push({
      id, role: record.role, state: pbs.state, stateInfo: pbsState(pbs.state), pbs, workers: [],
      adaptive: adopted.includes(id) || adaptiveIds.has(id), submittedAt: record.submittedAt,
    });
  }
  const workerJobIds = all.filter((j) => j.role === 'worker').map((j) => j.id);
  const jobsById = new Map(all.map((j) => [j.id, j]));
  const otherWorkers: WorkerStatus[] = [];
  for (const w of status?.workers ?? []) {
    const id = (w.pbsJobId && jobsById.has(w.pbsJobId) ? w.pbsJobId : undefined) ?? jobIdOfWorker(w.name, input.workerPrefix, workerJobIds);
    const job = id ? jobsById.get(id) : undefined;
    if (job) job.workers.push(w);
    else otherWorkers.push(w);
  }
  // The newest scheduler job of the cluster is the one that matters.
  const schedulerJob = [...all].reverse().find((j) => j.role === 'scheduler' && j.stateInfo.active)
    ?? [...all].reverse().find((j) => j.role === 'scheduler');

  if (status) {
    scheduler = {
      state: 'running', address: status.scheduler.address, dashboard: status.dashboard ?? undefined,
      jobId: status.scheduler.pbsJobId ?? undefined, placement: status.scheduler.placement ?? undefined,
      host: status.scheduler.host ?? undefined, details: status.scheduler,
    };
  } else if (statusDoc && !statusDoc.ok) {
    scheduler = schedulerFromError(statusDoc, schedulerJob);
  } else if (sections.first('noruntime')) {
    scheduler = { state: 'not-deployed', problem: `The gadi-dask runtime is not installed on ${host} yet; \`up\` or \`scale\` installs it.` };
  } else {
    const said = [sections.first('status-err')?.body, sections.first('prologue')?.body].filter((t) => t?.trim()).join('\n');
    scheduler = {
      state: 'unknown', jobId: schedulerJob?.id,
      problem: `The status probe gave no answer${statusSection ? ` (exit status ${statusSection.tag[1]})` : ''}${said ? `: ${said.trim().split('\n').slice(-5).join(' | ')}` : ''}`,
    };
  }

  const jobs = all.filter((j) => j.stateInfo.active).sort((a, b) => (a.role === b.role ? 0 : a.role === 'scheduler' ? -1 : 1));
  const finishedJobs = all.filter((j) => !j.stateInfo.active).reverse();
  const activeWorkers = jobs.filter((j) => j.role === 'worker');
  const workers = status?.workers ?? [];
  return {
    cluster, host, takenAt, exists: true, scheduler, jobs, finishedJobs, otherWorkers,
    adaptive: status?.adaptive ?? undefined,
    counts: {
      workerJobs: activeWorkers.length,
      queuedWorkerJobs: activeWorkers.filter((j) => j.stateInfo.phase === 'pending').length,
      workers: workers.length,
      threads: workers.reduce((n, w) => n + (w.nthreads ?? 0), 0),
    },
  };
}
