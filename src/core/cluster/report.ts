// The cluster report: every job the cluster's history (history.jsonl, kept by the agent) knows, with its figures
// (pbs/efficiency.ts), grouped into runs: jobs whose lives (submitted to ended) overlap belong to one run, so a
// scale-up, its workers and their scheduler are one run and the next day's start is another.
import { formatPercent, formatSizePair, formatSu, jobEfficiency, type JobEfficiency } from '../pbs/efficiency';
import { formatWalltime } from '../units';
import { parsePbsSize } from '../units';
import type { Answer, HistoryJob } from './protocol';
import { readQstat } from './snapshot';

export interface ReportJob {
  id: string;
  role: 'scheduler' | 'worker';
  name: string;
  queue: string;
  state: string;
  finished: boolean;
  exitStatus?: number;
  submitted?: Date;
  started?: Date;
  ended?: Date;
  efficiency: JobEfficiency;
  /** Highest memory each Dask worker of the job reported to the scheduler, bytes by worker name. */
  workerPeaks: Record<string, number>;
}

export interface ReportRun {
  start?: Date;
  end?: Date;
  jobs: ReportJob[];
  suSpent: number;
  suEstimate: number;
  /** Σ cput ÷ Σ (walltime × ncpus) over the run's jobs that report both. */
  cpu?: number;
}

export interface ClusterReport {
  cluster: string;
  host: string;
  generatedAt: Date;
  exists: boolean;
  runs: ReportRun[];
  warnings: string[];
}

function peakBytes(job: HistoryJob): number | undefined {
  try {
    return job.peak.mem === undefined ? undefined : parsePbsSize(job.peak.mem);
  } catch {
    return undefined; // an unreadable peak leaves qstat's own figure
  }
}

/** The jobs of a history answer with their figures, oldest first. */
export function reportJobs(jobs: readonly HistoryJob[], host: string): ReportJob[] {
  const attrs: Record<string, unknown> = {};
  for (const j of jobs) attrs[j.id] = { Job_Owner: '', Job_Name: j.id, job_state: '?', queue: '', ...j.attrs };
  // qstat's own reader: the history keeps qstat's attributes as PBS printed them.
  const parsed = new Map(readQstat(JSON.stringify({ Jobs: attrs }), host).map((p) => [p.id, p]));
  const out: ReportJob[] = [];
  for (const j of jobs) {
    const pbs = parsed.get(j.id);
    if (!pbs) continue;
    const seen = (t: number | null | undefined) => (t ? new Date(t * 1000) : undefined);
    out.push({
      id: j.id, role: j.role, name: pbs.name, queue: pbs.queue, state: pbs.state, finished: pbs.state === 'F' || pbs.state === 'X',
      exitStatus: pbs.exitStatus,
      submitted: pbs.times.created ?? pbs.times.queued ?? seen(j.firstSeen),
      started: pbs.times.started,
      ended: pbs.times.ended ?? (pbs.state === 'F' ? seen(j.lastSeen) : undefined),
      efficiency: jobEfficiency(pbs, peakBytes(j)),
      workerPeaks: j.workers,
    });
  }
  return out.sort((a, b) => (a.submitted?.getTime() ?? 0) - (b.submitted?.getTime() ?? 0));
}

/** Jobs whose lives overlap, as runs, oldest first; a job still running extends its run to now. */
export function groupRuns(jobs: readonly ReportJob[], now = new Date()): ReportRun[] {
  const runs: ReportRun[] = [];
  let current: ReportRun | undefined;
  let reach = -Infinity;
  for (const job of jobs) {
    const start = job.submitted?.getTime() ?? job.started?.getTime() ?? 0;
    const end = job.ended?.getTime() ?? (job.finished ? start : now.getTime());
    if (!current || start > reach) {
      current = { start: job.submitted ?? job.started, jobs: [], suSpent: 0, suEstimate: 0 };
      runs.push(current);
      reach = -Infinity;
    }
    current.jobs.push(job);
    reach = Math.max(reach, end);
    current.end = new Date(reach);
  }
  for (const run of runs) {
    let cput = 0;
    let capacity = 0;
    for (const { efficiency: e } of run.jobs) {
      run.suSpent += e.suSpent ?? 0;
      run.suEstimate += e.suEstimate ?? 0;
      if (e.cputSeconds !== undefined && e.walltimeSeconds !== undefined && e.ncpus !== undefined) {
        cput += e.cputSeconds;
        capacity += e.walltimeSeconds * e.ncpus;
      }
    }
    run.cpu = capacity ? cput / capacity : undefined;
    if (!run.jobs.every((j) => j.finished)) run.end = undefined; // still going
  }
  return runs;
}

export function buildReport(cluster: string, host: string, answer: Answer<'history'>, now = new Date()): ClusterReport {
  if (!answer.exists) return { cluster, host, generatedAt: now, exists: false, runs: [], warnings: [] };
  return { cluster, host, generatedAt: now, exists: true, runs: groupRuns(reportJobs(answer.jobs, host), now), warnings: answer.warnings };
}

/** The report as plain JSON (dates as ISO strings), for `gadi-dask report --json` and the webview. */
export function reportJson(report: ClusterReport): unknown {
  return JSON.parse(JSON.stringify(report));
}

const pct = (f: number | undefined) => (f === undefined ? '--' : formatPercent(f));
const su = (n: number | undefined) => (n === undefined ? '--' : formatSu(n));

export const REPORT_COLUMNS = ['Job', 'Role', 'State', 'Queue', 'CPU', 'Peak memory', 'Of request', 'Walltime', 'SU', 'At full walltime'];

/** One table row per job, as text: the CLI's table and the report view's. */
export function reportRow(j: ReportJob): string[] {
  const e = j.efficiency;
  return [
    j.id, j.role, j.exitStatus !== undefined ? `${j.state} (exit ${j.exitStatus})` : j.state, j.queue, pct(e.cpu),
    e.memPeakBytes !== undefined && e.memRequestBytes ? formatSizePair(e.memPeakBytes, e.memRequestBytes) : '--', pct(e.mem),
    e.walltimeSeconds !== undefined ? `${formatWalltime(e.walltimeSeconds)}/${e.walltimeLimitSeconds !== undefined ? formatWalltime(e.walltimeLimitSeconds) : '--'}` : '--',
    su(e.suSpent), su(e.suEstimate),
  ];
}

/** A run's one-line summary. */
export function runTitle(run: ReportRun, n: number): string {
  const when = `${run.start?.toISOString().replace('.000', '') ?? '?'} to ${run.end?.toISOString().replace('.000', '') ?? 'now'}`;
  const priced = run.jobs.some((j) => j.efficiency.suSpent !== undefined);
  const cost = priced ? `${formatSu(run.suSpent)} spent of ${formatSu(run.suEstimate)} estimated` : 'no SU figure (not a Gadi queue)';
  return `Run ${n + 1}: ${when}: ${cost}, CPU ${pct(run.cpu)}`;
}

/** What the report view draws: series for its charts and the tables, everything already in words and numbers. */
export interface ReportModel {
  title: string;
  runs: { label: string; suSpent: number; suEstimate: number }[];
  jobs: { label: string; cpuPercent: number | null; memPeakGiB: number | null; memRequestGiB: number | null }[];
  tables: { title: string; columns: string[]; rows: string[][] }[];
  notes: string[];
}

export function reportModel(r: ClusterReport): ReportModel {
  const GiB = 2 ** 30;
  const gib = (b: number | undefined) => (b === undefined ? null : Number((b / GiB).toPrecision(3)));
  const notes = [...r.warnings];
  if (!r.exists) notes.unshift(`No cluster named ${r.cluster} on ${r.host}: it was never started there, or was purged.`);
  else if (!r.runs.length) notes.unshift('No job of this cluster is recorded yet.');
  return {
    title: `Cluster ${r.cluster} on ${r.host}`,
    runs: r.runs.map((run, n) => ({ label: `Run ${n + 1}`, suSpent: run.suSpent, suEstimate: run.suEstimate })),
    jobs: r.runs.flatMap((run) => run.jobs).map((j) => ({
      label: j.id.split('.')[0], cpuPercent: j.efficiency.cpu === undefined ? null : Math.round(j.efficiency.cpu * 1000) / 10,
      memPeakGiB: gib(j.efficiency.memPeakBytes), memRequestGiB: gib(j.efficiency.memRequestBytes),
    })),
    tables: r.runs.map((run, n) => ({ title: runTitle(run, n), columns: REPORT_COLUMNS, rows: run.jobs.map(reportRow) })),
    notes,
  };
}
