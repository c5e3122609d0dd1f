// The per-user job ceiling: how many jobs one user may have queued or running at once, where that number comes from,
// and the setting that changes it. Scale and adapt are held to it before anything is submitted: here against the
// request alone, and by the agent against all of the user's live jobs.
import { GADI_MAX_JOBS_PER_USER, GADI_MAX_JOBS_SOURCE } from '../config/queues';
import type { ClusterConfig } from '../config/schema';
import { JobCeilingError } from './errors';

/** Where the ceiling is set: the cluster config file's key. */
export const MAX_JOBS_SETTING = 'scheduler.max-jobs';

export interface JobCeiling {
  max: number;
  /** Names the number's origin: the config key, or the default's source. */
  source: string;
}

export function jobCeiling(config: ClusterConfig): JobCeiling {
  const set = config.scheduler['max-jobs'];
  if (set !== undefined) return { max: set, source: `${MAX_JOBS_SETTING} in the cluster config` };
  return { max: GADI_MAX_JOBS_PER_USER, source: `the default: ${GADI_MAX_JOBS_SOURCE}; set ${MAX_JOBS_SETTING} in the cluster config to change it` };
}

/** `a ceiling of 300 jobs queued or running per user (the default: …)`. */
export function describeCeiling(c: JobCeiling): string {
  return `a ceiling of ${c.max} jobs queued or running per user (${c.source})`;
}

/** Refuses `jobs` worker jobs when they alone pass the ceiling; `what` names the request (`Scaling cluster demo`). */
export function checkCeiling(c: JobCeiling, jobs: number, what: string): void {
  if (jobs <= c.max) return;
  throw new JobCeilingError(`${what} to ${jobs} worker jobs is refused: that is above ${describeCeiling(c)}. Nothing was submitted.`, c.max);
}

/** What the agent counted when it refused: every live job of the user's, and the ones the request would add. */
export interface CeilingCount {
  userJobs: number;
  adding: number;
}

export function ceilingRefusal(c: JobCeiling, count: CeilingCount, what: string): JobCeilingError {
  return new JobCeilingError(
    `${what} would make ${count.userJobs + count.adding} jobs of yours queued or running (${count.userJobs} now, all clusters ` +
      `and other jobs included, and ${count.adding} new), above ${describeCeiling(c)}. Nothing was submitted. Ask for fewer, ` +
      'or cancel jobs you no longer need.', c.max);
}
