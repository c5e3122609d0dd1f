// Waiting on a cluster: for its scheduler to run, for its workers to connect. The cluster goes on either way; a wait
// only watches (the scheduler all along, PBS by snapshots at a gentle, growing pause).
import { jobIdOfWorker } from '../pbs/jobScript';
import { JOB_ID } from '../pbs/submit';
import { AbortedError } from '../remote/errors';
import { setSafeTimeout } from '../timers';
import type { ScaleResult, SchedulerInfo, WaitOptions, WorkersCount, WorkersWaitOptions, WorkersWaitResult } from './actions';
import { callOptions, PROBE_CALL_TIMEOUT_MS, PROBE_TIMEOUT_SECONDS, STATUS_TIMEOUT_MS, type ClusterCore } from './clusterCore';
import { SchedulerTimeoutError } from './errors';
import type { Answer } from './protocol';
import { checkDoc, statusDocSchema } from './runtimeDocs';
import { readProbe } from './schedulerProbe';
import type { ClusterSnapshot } from './snapshot';

/** A pause that a cancellation ends with the same AbortedError the transport gives. */
function sleep(ms: number, what: string, signal?: AbortSignal): Promise<void> {
  const cancelled = () => new AbortedError(`${what} was cancelled.`);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelled());
    const timer = setSafeTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(cancelled());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Waits until `jobs` worker jobs have all their Dask workers connected (processes per job × jobs), the signal
 * aborts, or the timeout passes. The scheduler is watched all along (the agent asks it, never PBS, until its workers
 * change); PBS only by snapshots at a gentle, growing pause, for the jobs' states and queue comments. The cluster
 * goes on either way: the jobs keep their place in the queue.
 */
export async function waitForWorkers(core: ClusterCore, jobs: number, options: WorkersWaitOptions = {}): Promise<WorkersWaitResult> {
  const perJob = core.layout.processes;
  const expected = jobs * perJob;
  const timeoutMs = options.timeoutMs ?? 600_000;
  const started = Date.now();
  const progress = core.progress(options);
  const firstPause = options.pollMs ?? FIRST_SNAPSHOT_PAUSE_MS;
  let pause = firstPause;
  // Right after a scale, its answer names the worker jobs and PBS has just been asked: the scheduler alone is asked
  // until the first snapshot is due. Otherwise the wait starts with one.
  const scaled = options.after ? jobsLeftBy(options.after) : undefined;
  let answer = scaled ? undefined : await core.snapshotAnswer(options);
  let watched: Watched = answer ? watchedIn(answer) : { status: null, workersSeen: [] };
  let snapshotDue = Date.now() + pause;
  let said = '';
  let pbsSaid: string | undefined;
  for (;;) {
    const snapshot = answer ? core.snapshotOf(answer.exists ? { ...answer, ...watched } : answer) : undefined;
    const pbsNow = snapshot ? pbsAnswer(snapshot) : undefined;
    if (pbsSaid !== undefined && pbsNow !== pbsSaid) {
      // PBS's answer moved: more may follow soon (the next job starting, one ending), so look again soon.
      pause = firstPause;
      snapshotDue = Math.min(snapshotDue, Date.now() + pause);
    }
    pbsSaid = pbsNow;
    const count = snapshot ? workersCount(snapshot, perJob, expected) : scaledCount(watched.status, scaled ?? [], core.name, perJob, expected);
    const waitedMs = Date.now() - started;
    const message = describeCount(count);
    if (message !== said) {
      options.onCount?.(count);
      progress(message);
      said = message;
    }
    if (count.connected >= expected) return { ...count, done: true, timedOut: false, waitedMs };
    const cannotReach = snapshot ? shortOfJobs(snapshot, jobs) : undefined;
    if (cannotReach) return { ...count, done: false, timedOut: false, waitedMs, cannotReach };
    if (waitedMs >= timeoutMs) return { ...count, done: false, timedOut: true, waitedMs };
    const leftMs = Math.min(snapshotDue, started + timeoutMs) - Date.now();
    if (leftMs > 0 && (answer?.exists ?? true)) {
      const w = await core.call('workers', { cluster: core.name, seen: watched.workersSeen ?? null, waitSeconds: leftMs / 1000, probeTimeout: PROBE_TIMEOUT_SECONDS },
        `the workers of cluster ${core.name}`, { timeoutMs: leftMs + STATUS_TIMEOUT_MS, signal: options.signal });
      watched = { status: w.status, workersSeen: w.workersSeen };
    } else if (leftMs > 0) {
      await sleep(leftMs, `Waiting for the workers of cluster ${core.name}`, options.signal);
    }
    if (Date.now() >= snapshotDue) {
      answer = await core.snapshotAnswer(options);
      watched = watchedIn(answer);
      pause = Math.min(pause * 1.5, options.maxPollMs ?? MAX_SNAPSHOT_PAUSE_MS);
      snapshotDue = Date.now() + pause;
    }
  }
}

/** What the scheduler said last: from a snapshot, then from each `workers` answer. */
type Watched = { status: Record<string, unknown> | null; workersSeen?: unknown };

function watchedIn(answer: Answer<'snapshot'>): Watched {
  return answer.exists ? { status: answer.status, workersSeen: answer.workersSeen } : { status: null, workersSeen: null };
}

/** The first pause between two snapshots of a workers wait, and the longest it grows to while PBS says the same. */
export const FIRST_SNAPSHOT_PAUSE_MS = 1000;
export const MAX_SNAPSHOT_PAUSE_MS = 15_000;

/** What PBS said of the cluster's jobs in a snapshot (ids, states, comments): a change speeds the snapshots up. */
function pbsAnswer(s: ClusterSnapshot): string {
  return JSON.stringify([s.jobs.map((j) => [j.id, j.state, j.pbs.comment ?? '']), s.finishedJobs.map((j) => j.id)]);
}

/** The worker jobs a scale left: those there before that it did not cancel, and those it submitted. */
export function jobsLeftBy(r: Pick<ScaleResult, 'before' | 'cancelled' | 'submitted'>): string[] {
  const gone = new Set(r.cancelled.filter((c) => c.outcome !== 'error').map((c) => c.id));
  return [...r.before.map((j) => j.id).filter((id) => !gone.has(id)), ...r.submitted];
}

/** Before the first snapshot: the scheduler's workers counted against the jobs a scale left, as workersCount does. */
export function scaledCount(status: unknown, jobIds: readonly string[], prefix: string, perJob: number, expected: number): WorkersCount {
  const doc = status ? checkDoc(statusDocSchema, status, 'the status probe (run.py status)') : undefined;
  const perJobSeen = new Map<string, number>();
  for (const w of doc?.ok ? doc.workers : []) {
    if (w.status === 'closing' || w.status === 'closed') continue;
    const id = (w.pbsJobId && jobIds.includes(w.pbsJobId) ? w.pbsJobId : undefined) ?? jobIdOfWorker(w.name, prefix, jobIds);
    if (id) perJobSeen.set(id, (perJobSeen.get(id) ?? 0) + 1);
  }
  const connected = Math.min(expected, [...perJobSeen.values()].reduce((n, k) => n + Math.min(perJob, k), 0));
  return { connected, expected, queued: [] };
}

/**
 * Polls until the scheduler of `jobId` (or, without one, any scheduler of the cluster) runs: the scheduler file is
 * there and runtime.json says running for that job. Fails when the job ends first, with the end of its log.
 */
export async function waitForScheduler(core: ClusterCore, jobId: string | undefined, options: WaitOptions = {}): Promise<SchedulerInfo> {
  if (jobId !== undefined && !JOB_ID.test(jobId)) throw new RangeError(`'${jobId}' is not a PBS job id`);
  const progress = core.progress(options);
  const timeoutMs = options.timeoutMs ?? 600_000;
  const started = Date.now();
  let pause = options.pollMs ?? 1000;
  let said = '';
  const tell = (message: string) => {
    if (message !== said) progress(message);
    said = message;
  };
  for (;;) {
    const answer = await core.call('probe', { cluster: core.name, ...(jobId ? { jobId } : {}) }, `the scheduler of cluster ${core.name}`, callOptions(PROBE_CALL_TIMEOUT_MS, options));
    const probe = readProbe(answer, jobId, core.name, core.paths.schedulerFile);
    if (probe.info) {
      tell(`Scheduler of ${core.name} running at ${probe.info.address}${probe.info.dashboard ? `, dashboard ${probe.info.dashboard.url}` : ''}`);
      return probe.info;
    }
    tell(probe.waiting);
    const waited = Date.now() - started;
    if (waited >= timeoutMs) {
      throw new SchedulerTimeoutError(
        `The scheduler of cluster ${core.name} is not running after ${Math.round(waited / 1000)} s: ${probe.waiting}. ` +
          (jobId ? `Its job ${jobId} keeps its place in the queue; check again later with status, or run down to cancel it.` : 'Check again later with status.'),
        jobId, waited);
    }
    await sleep(Math.min(pause, timeoutMs - waited), `Waiting for the scheduler of cluster ${core.name}`, options.signal);
    pause = Math.min(pause * 1.5, options.maxPollMs ?? 5000);
  }
}

/** Connected workers counted per worker job (at most its processes each), and the queued jobs with PBS's reason. */
export function workersCount(s: ClusterSnapshot, perJob: number, expected: number): WorkersCount {
  const jobs = s.jobs.filter((j) => j.role === 'worker' && j.stateInfo.active);
  const connected = Math.min(expected, jobs.reduce((n, j) => n + Math.min(perJob, j.workers.filter((w) => w.status !== 'closing' && w.status !== 'closed').length), 0));
  const queued = jobs.filter((j) => j.stateInfo.phase === 'pending').map((j) => (j.pbs.comment ? { id: j.id, comment: j.pbs.comment } : { id: j.id }));
  return { connected, expected, queued };
}

/**
 * Why `jobs` worker jobs can no longer all be there (fewer of the cluster's are left in PBS: they ended, or were
 * cancelled), or undefined while they can. Waiting longer would only wait out the timeout.
 */
export function shortOfJobs(s: ClusterSnapshot, jobs: number): string | undefined {
  if (!s.exists) return `cluster ${s.cluster} no longer exists`;
  const left = s.jobs.filter((j) => j.role === 'worker').length;
  if (left >= jobs) return undefined;
  const ended = s.finishedJobs.filter((j) => j.role === 'worker').map((j) => j.id);
  return `only ${left} of the ${jobs} worker job(s) asked for ${left === 1 ? 'is' : 'are'} left in PBS` +
    `${ended.length ? ` (ended: ${ended.slice(0, 5).join(', ')}${ended.length > 5 ? ', …' : ''})` : ''}; scale again to replace them`;
}

/** `3/8 workers connected; 2 jobs queued (Not Running: Insufficient amount of resource: ncpus)`. */
export function describeCount(c: WorkersCount): string {
  const reasons = [...new Set(c.queued.map((q) => q.comment).filter(Boolean))];
  const queued = c.queued.length ? `; ${c.queued.length} job${c.queued.length === 1 ? '' : 's'} queued${reasons.length ? ` (${reasons.join('; ')})` : ''}` : '';
  return `${c.connected}/${c.expected} worker${c.expected === 1 ? '' : 's'} connected${queued}`;
}
