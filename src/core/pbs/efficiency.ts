// What a PBS job used against what it asked for, and what it cost: CPU efficiency = cput ÷ (walltime × ncpus),
// peak memory against the request, walltime used against the limit, and the SU charge by Gadi's formula for the
// walltime used against the charge at the full walltime (the estimate shown before Scale). From qstat's own
// figures (pbs/qstat.ts reads `kb` sizes and HH:MM:SS durations exactly as PBS prints them).
import { gadiQueue, suCost } from '../config/queues';
import type { PbsJob } from './qstat';

export interface JobEfficiency {
  ncpus?: number;
  cputSeconds?: number;
  walltimeSeconds?: number;
  walltimeLimitSeconds?: number;
  /** cput ÷ (walltime × ncpus): 1 is every requested core busy all the time. */
  cpu?: number;
  /** The highest memory PBS (or the history) saw the job use, in bytes. */
  memPeakBytes?: number;
  memRequestBytes?: number;
  /** Peak ÷ request. */
  mem?: number;
  /** Walltime used ÷ limit. */
  walltime?: number;
  /** SU charged for the walltime used (Gadi charges walltime as used, cores and memory as requested). */
  suSpent?: number;
  /** SU for the full walltime: what the estimate before Scale showed for this job. */
  suEstimate?: number;
}

const ratio = (a: number | undefined, b: number | undefined) => (a === undefined || !b ? undefined : a / b);

/** The figures of one job; `peakMemBytes` (from the history's samples) raises what the newest qstat says. */
export function jobEfficiency(job: PbsJob, peakMemBytes?: number): JobEfficiency {
  const ncpus = job.requested.ncpus ?? job.used?.ncpus;
  const walltimeSeconds = job.used?.walltimeSeconds;
  const cputSeconds = job.used?.cputSeconds;
  const seen = [job.used?.memBytes, peakMemBytes].filter((n): n is number => n !== undefined);
  const memPeakBytes = seen.length ? Math.max(...seen) : undefined;
  const memRequestBytes = job.requested.memBytes;
  const walltimeLimitSeconds = job.requested.walltimeSeconds;
  const queue = gadiQueue(job.queue);
  const charge = (seconds: number | undefined) =>
    queue && ncpus !== undefined && seconds !== undefined ? suCost({ queue, ncpus, memBytes: memRequestBytes, walltimeSeconds: seconds }) : undefined;
  return {
    ncpus, cputSeconds, walltimeSeconds, walltimeLimitSeconds, memPeakBytes, memRequestBytes,
    cpu: ratio(cputSeconds, walltimeSeconds !== undefined && ncpus !== undefined ? walltimeSeconds * ncpus : undefined),
    mem: ratio(memPeakBytes, memRequestBytes),
    walltime: ratio(walltimeSeconds, walltimeLimitSeconds),
    suSpent: charge(walltimeSeconds),
    suEstimate: charge(walltimeLimitSeconds),
  };
}

// PBS's own unit names (its GB is 2^30 bytes), so a figure reads like the request it is held against.
const PBS_UNITS: [string, number][] = [['TB', 2 ** 40], ['GB', 2 ** 30], ['MB', 2 ** 20], ['KB', 2 ** 10]];

function pbsUnit(bytes: number): [string, number] {
  return PBS_UNITS.find(([, s]) => bytes >= s) ?? ['B', 1];
}

function inUnit(bytes: number, size: number): string {
  return String(Number((bytes / size).toPrecision(bytes / size >= 100 ? 3 : 2)));
}

/** `21/192 GB`: both sizes in the unit of the larger, two or three significant digits. */
export function formatSizePair(used: number, of: number): string {
  const [unit, size] = pbsUnit(Math.max(used, of));
  return `${inUnit(used, size)}/${inUnit(of, size)} ${unit}`;
}

export function formatPercent(fraction: number): string {
  return `${Math.round(fraction * 100)}%`;
}

/** `CPU 34% · mem 21/192 GB`: what a job row shows; empty before PBS reports any use. */
export function efficiencySummary(e: JobEfficiency): string {
  const parts: string[] = [];
  if (e.cpu !== undefined) parts.push(`CPU ${formatPercent(e.cpu)}`);
  if (e.memPeakBytes !== undefined) {
    const [unit, size] = pbsUnit(e.memPeakBytes);
    parts.push(e.memRequestBytes ? `mem ${formatSizePair(e.memPeakBytes, e.memRequestBytes)}` : `mem ${inUnit(e.memPeakBytes, size)} ${unit}`);
  }
  return parts.join(' · ');
}

/** SU as the cost prompt prints them: three significant digits. */
export function formatSu(su: number): string {
  return `${Number(su.toPrecision(3)).toLocaleString('en-US')} SU`;
}

/** The figures as label and text, for a tooltip or a table: only those PBS reported. */
export function efficiencyRows(e: JobEfficiency): [string, string | undefined][] {
  const of = (part: number | undefined, fraction: number | undefined) => (part === undefined || fraction === undefined ? undefined : formatPercent(fraction));
  return [
    ['CPU efficiency', e.cpu !== undefined ? `${formatPercent(e.cpu)} of ${e.ncpus} core${e.ncpus === 1 ? '' : 's'} (CPU time ÷ walltime × cores)` : undefined],
    ['Peak memory', e.memPeakBytes !== undefined && e.memRequestBytes ? `${formatSizePair(e.memPeakBytes, e.memRequestBytes)} (${of(e.memPeakBytes, e.mem)} of the request)` : undefined],
    ['Walltime used', of(e.walltimeSeconds, e.walltime) && `${of(e.walltimeSeconds, e.walltime)} of the limit`],
    ['SU spent', e.suSpent !== undefined ? `${formatSu(e.suSpent)}${e.suEstimate !== undefined ? ` of ${formatSu(e.suEstimate)} at full walltime` : ''}` : undefined],
  ];
}
