// With placement job the scheduler ends at its job's walltime, and every worker, result and client goes with it.
// The tree and the status bar say so ahead of time: an hour and ten minutes before, long enough to finish, save
// results or move the work to a scheduler in a persistent session.
import { formatWalltime } from '../units';
import type { ClusterSnapshot } from './snapshot';

export const SCHEDULER_EXPIRY_NOTICE_SECONDS = 70 * 60;

export interface SchedulerExpiry {
  jobId: string;
  /** Walltime left, from the snapshot's walltime used and asked for. */
  secondsLeft: number;
  /** For the status bar: `scheduler ends in 42m`. */
  short: string;
  /** For a tooltip: what ends, when, and what to do. */
  message: string;
}

/** The running scheduler job's walltime left, when it is within the notice period; undefined otherwise. */
export function schedulerExpiry(s: ClusterSnapshot | undefined, now: Date = new Date()): SchedulerExpiry | undefined {
  if (!s?.exists) return undefined;
  const job = s.jobs.find((j) => j.role === 'scheduler' && j.stateInfo.phase === 'running');
  const limit = job?.pbs.requested.walltimeSeconds;
  const used = job?.pbs.used?.walltimeSeconds;
  if (!job || limit === undefined || used === undefined) return undefined;
  // qstat's walltime used is as of the snapshot; the clock has moved on since.
  const secondsLeft = Math.max(0, limit - used - Math.max(0, (now.getTime() - s.takenAt.getTime()) / 1000));
  if (secondsLeft > SCHEDULER_EXPIRY_NOTICE_SECONDS) return undefined;
  const left = formatLeft(secondsLeft);
  return {
    jobId: job.id,
    secondsLeft,
    short: `scheduler ends in ${left}`,
    message: `The scheduler's job ${job.id} reaches its walltime (${formatWalltime(limit)}) in ${left}: the scheduler, ` +
      'every worker, the results they hold and every client connection end then. Gather or save results before; for ' +
      'longer work run the scheduler in a persistent session (scheduler.placement: persistent-session).',
  };
}

function formatLeft(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${minutes}m`;
}
