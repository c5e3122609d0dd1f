// A job that ends at its walltime takes something with it, so the tree (and for the scheduler the status bar) says
// so ahead of time. The scheduler's job (placement job): every worker, result and client goes with it, so an hour
// and ten minutes before, long enough to finish, save results or move the work to a scheduler in a persistent
// session. The kernel's job: its notebook's variables go with it, so ten minutes before, long enough to save them.
import { formatWalltime } from '../units';
import { KERNEL_ROLE } from './protocol';
import type { ClusterJob, ClusterSnapshot, JobRole } from './snapshot';

export const SCHEDULER_EXPIRY_NOTICE_SECONDS = 70 * 60;
export const KERNEL_EXPIRY_NOTICE_SECONDS = 10 * 60;

export interface WalltimeNotice {
  jobId: string;
  /** Walltime left, from the snapshot's walltime used and asked for. */
  secondsLeft: number;
  /** For the status bar or a row: `scheduler ends in 42m`. */
  short: string;
  /** For a tooltip: what ends, when, and what to do. */
  message: string;
}

export type SchedulerExpiry = WalltimeNotice;

/** The running job of `role` whose walltime ends within `notice` seconds, with the seconds left. */
function endingJob(s: ClusterSnapshot | undefined, role: JobRole, notice: number, now: Date): { job: ClusterJob; limit: number; left: number } | undefined {
  if (!s?.exists) return undefined;
  const job = s.jobs.find((j) => j.role === role && j.stateInfo.phase === 'running' && !j.cancelled);
  const limit = job?.pbs.requested.walltimeSeconds;
  const used = job?.pbs.used?.walltimeSeconds;
  if (!job || limit === undefined || used === undefined) return undefined;
  // qstat's walltime used is as of the snapshot; the clock has moved on since.
  const left = Math.max(0, limit - used - Math.max(0, (now.getTime() - s.takenAt.getTime()) / 1000));
  return left > notice ? undefined : { job, limit, left };
}

/** The running scheduler job's walltime left, when it is within the notice period; undefined otherwise. */
export function schedulerExpiry(s: ClusterSnapshot | undefined, now: Date = new Date()): SchedulerExpiry | undefined {
  const ending = endingJob(s, 'scheduler', SCHEDULER_EXPIRY_NOTICE_SECONDS, now);
  if (!ending) return undefined;
  const { job, limit, left } = ending;
  return {
    jobId: job.id,
    secondsLeft: left,
    short: `scheduler ends in ${formatLeft(left)}`,
    message: `The scheduler's job ${job.id} reaches its walltime (${formatWalltime(limit)}) in ${formatLeft(left)}: the scheduler, ` +
      'every worker, the results they hold and every client connection end then. Gather or save results before; for ' +
      'longer work run the scheduler in a persistent session (scheduler.placement: persistent-session).',
  };
}

/** The running kernel job's walltime left, when it is within the notice period; undefined otherwise. */
export function kernelExpiry(s: ClusterSnapshot | undefined, now: Date = new Date()): WalltimeNotice | undefined {
  const ending = endingJob(s, KERNEL_ROLE, KERNEL_EXPIRY_NOTICE_SECONDS, now);
  if (!ending) return undefined;
  const { job, limit, left } = ending;
  return {
    jobId: job.id,
    secondsLeft: left,
    short: `kernel ends in ${formatLeft(left)}`,
    message: `The kernel's job ${job.id} reaches its walltime (${formatWalltime(limit)}) in ${formatLeft(left)}: the kernel ` +
      'and every variable of its notebook end then. Save what you need now; for longer sessions give the kernel a ' +
      'longer walltime (kernel.walltime).',
  };
}

function formatLeft(seconds: number): string {
  const minutes = Math.floor(seconds / 60);
  return minutes >= 60 ? `${Math.floor(minutes / 60)}h ${minutes % 60}m` : `${minutes}m`;
}
