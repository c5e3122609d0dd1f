// The words of the cost prompt shown before jobs are submitted: what one worker job asks for, its SU charge at full
// walltime from the Gadi queue table (core/config), the total for the new jobs, and the scheduler's own job when
// one will be started.
import type { JobCost } from '../core/config/cost';
import type { ClusterConfig } from '../core/config/schema';
import { formatSu } from '../core/pbs/efficiency';
import { core } from './core';
import { formatSize } from './format';

export interface CostPrompt {
  message: string;
  detail: string;
  /** Upper bound in SU for everything submitted, when every queue is known. */
  totalSu?: number;
}


function describe(cost: JobCost): string {
  const mem = cost.memBytes !== undefined ? `, ${formatSize(cost.memBytes)}` : '';
  return `${cost.ncpus} core${cost.ncpus === 1 ? '' : 's'}${mem}, walltime ${core().formatWalltime(cost.walltimeSeconds)} on ${cost.queue.name} (${cost.queue.suRate} SU per core-hour)`;
}

/** The scheduler job's charge (placement: job): one core and a few GB for the scheduler's walltime. */
export function schedulerJobCost(config: ClusterConfig): JobCost | undefined {
  const pbs = config.jobqueue.pbs;
  const { estimateJobCost, SCHEDULER_MEMORY, SCHEDULER_NCPUS, schedulerDirectives, schedulerQueue } = core();
  return estimateJobCost({
    ...pbs,
    cores: SCHEDULER_NCPUS,
    memory: SCHEDULER_MEMORY,
    queue: schedulerQueue(config),
    walltime: config.scheduler.walltime ?? pbs.walltime,
    'job-directives-skip': ['select'],
    'job-extra-directives': schedulerDirectives(config),
  });
}

/**
 * The prompt for submitting `newJobs` worker jobs (and a scheduler job when `withScheduler`). `holdJobs`: Scale's
 * target, which the scheduler keeps by replacing jobs as they end: its cost is by the hour, not by the walltime.
 */
export function costPrompt(config: ClusterConfig, cluster: string, host: string, newJobs: number, withScheduler: boolean, holdJobs?: number): CostPrompt {
  const pbs = config.jobqueue.pbs;
  const perJob = core().estimateJobCost(pbs);
  const lines: string[] = [];
  let total: number | undefined = 0;
  if (perJob) {
    lines.push(`Each worker job: ${describe(perJob)}: up to ${formatSu(perJob.su)}.`);
    if (newJobs > 1) lines.push(`${newJobs} new jobs: up to ${formatSu(perJob.su * newJobs)}.`);
    total += perJob.su * newJobs;
  } else {
    total = undefined;
    lines.push(`Queue ${pbs.queue ?? '(default)'} is not one of Gadi's, so the cost cannot be estimated.`);
  }
  if (withScheduler) {
    const s = schedulerJobCost(config);
    if (s) {
      lines.push(`The scheduler's own job: ${describe(s)}: up to ${formatSu(s.su)}.`);
      if (total !== undefined) total += s.su;
    } else {
      total = undefined;
      lines.push('Plus a small job for the scheduler.');
    }
  }
  if (total !== undefined) lines.push(`In all: up to ${formatSu(total)}.`);
  lines.push('Jobs are charged for the time they run, at most their walltime.');
  if (holdJobs && perJob) {
    const hourly = (perJob.su / perJob.walltimeSeconds) * 3600 * holdJobs;
    lines.push(`The cluster holds ${holdJobs} job${holdJobs === 1 ? '' : 's'}: each job that ends (its walltime, a failure) is replaced, ` +
      `so holding them costs ${holdJobs} × ${formatSu(hourly / holdJobs)} an hour = ${formatSu(hourly)} an hour, ${formatSu(hourly * 24)} a day, ` +
      'until you scale to 0 or shut the cluster down.');
  }
  const what = `${newJobs} worker job${newJobs === 1 ? '' : 's'}${withScheduler ? ' and a scheduler job' : ''}`;
  return { message: `Submit ${what} for cluster ${cluster} on ${host}?`, detail: lines.join('\n'), totalSu: total };
}
