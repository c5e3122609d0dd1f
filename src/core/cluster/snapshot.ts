// A cluster as one refresh sees it: its PBS jobs (the scheduler's, the workers' and its kernel's), the Dask workers
// nested under the job each one runs in, the scheduler's state and address, and adaptivity. Built from the output of
// the agent's snapshot answer (one exec); every part is typed, and output that cannot be read is an error that quotes it.
import { jobIdOfWorker } from '../pbs/jobScript';
import { parseQstatJson, QstatParseError, type PbsJob } from '../pbs/qstat';
import { describeExitStatus, pbsState, QDEL_EXIT_STATUSES, type PbsStateInfo } from '../pbs/states';
import { RemoteOutputError } from './errors';
import { KERNEL_ROLE, type Answer, type JournalJob, type KernelJournalJob } from './protocol';
import {
  checkDoc, statusDocSchema, type AdaptiveStatus, type DashboardInfo, type ErrorDoc, type RuntimeMetadata, type StatusOk,
  type WorkerStatus,
} from './runtimeDocs';

/** kernel: the job of the Jupyter server next to the cluster (kernel.ts); never counted as a worker or scheduler. */
export type JobRole = 'scheduler' | 'worker' | typeof KERNEL_ROLE;

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
  /** The cluster's journal records that it cancelled the job. */
  cancelled: boolean;
  /** For a finished job: how it ended, in a sentence (see describeEnd). */
  end?: string;
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
  dashboard?: DashboardInfo;
  /** The PBS job running (or about to run) the scheduler. */
  jobId?: string;
  placement?: string;
  host?: string;
  /** Placement persistent-session: the session's name and ssh host. */
  session?: { name: string; host?: string };
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
  /** Jobs still in the queue: the scheduler's first, then the kernel's, then workers' in submission order. */
  jobs: ClusterJob[];
  /** Jobs of the cluster that finished (within a day), newest first. */
  finishedJobs: ClusterJob[];
  /** Workers whose names carry none of the cluster's job ids. */
  otherWorkers: WorkerStatus[];
  adaptive?: AdaptiveStatus;
  /** Active worker jobs and connected workers, for a status line. */
  counts: { workerJobs: number; queuedWorkerJobs: number; workers: number; threads: number };
}

/** qstat's JSON as the agent passed it on (already held to PBS's shape there). */
export function readQstat(text: string, host: string): PbsJob[] {
  try {
    return parseQstatJson(text).jobs;
  } catch (e) {
    if (e instanceof QstatParseError) {
      throw new RemoteOutputError(`qstat on ${host} printed output that cannot be read: ${e.message}`, e.excerpt, { cause: e });
    }
    throw e;
  }
}

/** Journal entries as job records. */
export function jobRecords(jobs: readonly (JournalJob | KernelJournalJob)[]): JobRecord[] {
  return jobs.map((j) => ({ id: j.id, role: j.role, submittedAt: j.submitted ? new Date(j.submitted * 1000) : undefined }));
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

/**
 * How a finished job of the cluster ended. A job the cluster cancelled ends with SIGTERM's statuses (143, 271) or 0:
 * that is its retirement, not a failure of its script; any other status is what happened before the qdel took.
 */
export function describeEnd(job: { role: JobRole; cancelled: boolean; pbs: Pick<PbsJob, 'exitStatus' | 'times'> }): string {
  const status = job.pbs.exitStatus;
  const said = status === undefined ? undefined : describeExitStatus(status);
  if (!job.cancelled) return said ?? 'ended';
  if (status !== undefined && !QDEL_EXIT_STATUSES.includes(status)) return `cancelled by the cluster; before that, ${said}`;
  const code = status === undefined ? '' : ` (exit status ${status})`;
  if (job.role === KERNEL_ROLE) return job.pbs.times.started ? `kernel stopped, its job cancelled${code}` : `kernel stopped while queued${code}`;
  if (!job.pbs.times.started) return `cancelled by the cluster while queued${code}`;
  return job.role === 'worker' ? `retired and cancelled by the cluster${code}` : `stopped and cancelled by the cluster${code}`;
}

/** Where a role's jobs sit in the list: the scheduler's first, then the kernel's, then the workers'. */
const ROLE_ORDER: Record<JobRole, number> = { scheduler: 0, [KERNEL_ROLE]: 1, worker: 2 };

/** The kernel's job that is queued or running, if any. */
export function activeKernelJob(s: ClusterSnapshot | undefined): ClusterJob | undefined {
  return s?.jobs.find((j) => j.role === KERNEL_ROLE && !j.cancelled);
}

export interface SnapshotInput {
  cluster: string;
  host: string;
  /** The worker name prefix (jobqueue.pbs.name). */
  workerPrefix: string;
  answer: Answer<'snapshot'>;
  takenAt?: Date;
}

/** The snapshot from the agent's snapshot answer. */
export function buildSnapshot(input: SnapshotInput): ClusterSnapshot {
  const { answer, cluster, host } = input;
  const takenAt = input.takenAt ?? new Date();
  const empty = { workerJobs: 0, queuedWorkerJobs: 0, workers: 0, threads: 0 };
  if (!answer.exists) {
    return {
      cluster, host, takenAt, exists: false, scheduler: { state: 'stopped', problem: `No cluster named ${cluster} on ${host}.` },
      jobs: [], finishedJobs: [], otherWorkers: [], counts: empty,
    };
  }
  const records = jobRecords(answer.jobs);
  const adopted = answer.jobs.filter((j) => j.adopted).map((j) => j.id);
  const cancelled = new Set([...answer.jobs, ...answer.kernelJobs].filter((j) => j.cancelled).map((j) => j.id));
  const byId = new Map<string, JobRecord>();
  for (const r of records) if (!byId.has(r.id) || r.role === 'scheduler') byId.set(r.id, r);
  // The kernel's own journal: its ids are never the cluster's, so they cannot shadow a worker's record.
  for (const r of jobRecords(answer.kernelJobs)) if (!byId.has(r.id)) byId.set(r.id, r);
  for (const id of answer.adaptive) if (!byId.has(id)) byId.set(id, { id, role: 'worker' });
  const order = [...byId.keys()];

  // The status document first: adaptivity tells which jobs it owns.
  let status: StatusOk | undefined;
  let scheduler: SchedulerSnapshot | undefined;
  const statusDoc = answer.status ? checkDoc(statusDocSchema, answer.status, 'the status probe (run.py status)') : undefined;
  if (statusDoc?.ok) status = statusDoc;
  const adaptiveIds = new Set([...(status?.adaptive?.jobs ?? []).map((j) => j.id), ...answer.adaptive]);
  for (const id of adaptiveIds) if (!byId.has(id)) { byId.set(id, { id, role: 'worker' }); order.push(id); }

  const pbsJobs = new Map(readQstat(answer.qstat, host).map((j) => [j.id, j]));
  const all: ClusterJob[] = [];
  for (const id of order) {
    const pbs = pbsJobs.get(id);
    const record = byId.get(id);
    if (!pbs || !record) continue; // PBS no longer knows it
    all.push({
      id, role: record.role, state: pbs.state, stateInfo: pbsState(pbs.state), pbs, workers: [],
      adaptive: adopted.includes(id) || adaptiveIds.has(id), submittedAt: record.submittedAt, cancelled: cancelled.has(id),
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
      ...(status.scheduler.session ? { session: { name: status.scheduler.session.name, host: status.scheduler.session.host ?? undefined } } : {}),
    };
  } else if (statusDoc && !statusDoc.ok) {
    scheduler = schedulerFromError(statusDoc, schedulerJob);
  } else {
    const said = [answer.statusStderr, answer.prologue].filter((t) => t.trim()).join('\n');
    scheduler = {
      state: 'unknown', jobId: schedulerJob?.id,
      problem: `The status probe gave no answer${answer.statusRc !== null ? ` (exit status ${answer.statusRc})` : ''}${said ? `: ${said.trim().split('\n').slice(-5).join(' | ')}` : ''}`,
    };
  }

  const jobs = all.filter((j) => j.stateInfo.active).sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role]);
  const finishedJobs = all.filter((j) => !j.stateInfo.active).reverse();
  for (const j of finishedJobs) j.end = describeEnd(j);
  // A job the cluster cancelled may stay R for seconds while PBS ends it: it is leaving, not a worker job (the agent
  // counts it so too).
  const activeWorkers = jobs.filter((j) => j.role === 'worker' && !j.cancelled);
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
