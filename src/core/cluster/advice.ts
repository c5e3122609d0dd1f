// Right-sizing advice for a config from its cluster's history: information diagnostics, each with a quick fix that
// edits only the one key it is about and the SU effect by Gadi's formula (which may be none: cores can set the
// charge). Given only from at least MIN_FINISHED finished worker jobs, the newest RECENT of them.
import { parseConfigDocument, type YamlPath } from '../config/document';
import { gadiQueue, suCost } from '../config/queues';
import type { LintFix } from '../config/diagnostics';
import type { Range } from '../config/document';
import { formatSizePair, formatSu } from '../pbs/efficiency';
import { formatWalltime, parseBytes, parseWalltime } from '../units';
import type { ClusterReport, ReportJob } from './report';

export const MIN_FINISHED = 3;
/** The extension's notification to the language server carrying a cluster's HistoryFacts. */
export const HISTORY_NOTIFICATION = 'gadiDask/history';
const RECENT = 5;
/** Advise when the peak stays below this share of the request, and leave this much headroom above it. */
const MEMORY_USED_BELOW = 0.5;
const HEADROOM = 1.5;
/** Advise when the longest run ended before this share of the walltime. */
const WALLTIME_USED_BELOW = 0.25;
/** A walltime this many times the longest run: runs vary more in time than in memory. */
const WALLTIME_HEADROOM = 3;
const GiB = 2 ** 30;
const QUARTER_HOUR = 900;

export type AdviceCode = 'history/memory' | 'history/walltime';

export interface AdviceDiagnostic {
  range: Range;
  code: AdviceCode;
  message: string;
  fixes: LintFix[];
}

/** The facts advice needs, small enough to send to the language server. */
export interface HistoryFacts {
  cluster: string;
  jobs: { queue: string; ncpus?: number; memPeakBytes?: number; memRequestBytes?: number; walltimeSeconds?: number; walltimeLimitSeconds?: number }[];
}

/** The newest finished worker jobs of a report, as facts for advice. */
export function historyFacts(report: ClusterReport): HistoryFacts {
  const done = report.runs.flatMap((r) => r.jobs).filter((j: ReportJob) => j.role === 'worker' && j.finished);
  return {
    cluster: report.cluster,
    jobs: done.slice(-RECENT).map((j) => ({
      queue: j.queue, ncpus: j.efficiency.ncpus, memPeakBytes: j.efficiency.memPeakBytes, memRequestBytes: j.efficiency.memRequestBytes,
      walltimeSeconds: j.efficiency.walltimeSeconds, walltimeLimitSeconds: j.efficiency.walltimeLimitSeconds,
    })),
  };
}

const pbsPath = (key: string): YamlPath => ['jobqueue', 'pbs', key];

/** A scalar's value at `path` (a string or number as written), or undefined. */
function scalarAt(doc: ReturnType<typeof parseConfigDocument>, path: YamlPath): unknown {
  return (doc.nodeAt(path) as { value?: unknown } | undefined)?.value;
}

function fixFor(doc: ReturnType<typeof parseConfigDocument>, path: YamlPath, newText: string, title: string): { range: Range; fixes: LintFix[] } | undefined {
  const value = doc.valueRange(path);
  if (!value) return undefined;
  const range = doc.range(value);
  return { range, fixes: [{ title, edits: [{ range, newText }] }] };
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Advice on `text` (a config of `facts.cluster`) from its history; nothing from fewer than MIN_FINISHED jobs. */
export function adviseFromHistory(text: string, facts: HistoryFacts): AdviceDiagnostic[] {
  const jobs = facts.jobs;
  if (jobs.length < MIN_FINISHED) return [];
  const doc = parseConfigDocument(text);
  if (scalarAt(doc, pbsPath('name')) !== facts.cluster) return [];
  const out: AdviceDiagnostic[] = [];
  const n = jobs.length;
  const queue = gadiQueue(jobs[n - 1].queue);
  const ncpus = jobs[n - 1].ncpus;
  const used = jobs.map((j) => j.walltimeSeconds).filter((s): s is number => s !== undefined);
  const averageHours = used.length ? mean(used) : undefined;
  const charge = (memBytes: number | undefined, walltimeSeconds: number) =>
    queue && ncpus !== undefined ? suCost({ queue, ncpus, memBytes, walltimeSeconds }) : undefined;

  // Memory: every job peaked well below what it asked for.
  const peaks = jobs.map((j) => j.memPeakBytes);
  const requested = jobs[n - 1].memRequestBytes;
  const memoryText = scalarAt(doc, pbsPath('memory'));
  if (requested && peaks.every((p) => p !== undefined) && typeof memoryText === 'string') {
    const peak = Math.max(...(peaks as number[]));
    if (peak < MEMORY_USED_BELOW * requested) {
      const suggested = Math.max(1, Math.ceil((peak * HEADROOM) / GiB));
      const newText = `${suggested}GB`;
      let effect = '';
      if (averageHours !== undefined) {
        const before = charge(requested, averageHours);
        const after = charge(suggested * GiB, averageHours);
        if (before !== undefined && after !== undefined) {
          effect = after < before
            ? ` At these runs' walltime each job would be charged ${formatSu(after)} instead of ${formatSu(before)}.`
            : ` The SU charge stays ${formatSu(before)} a job: its ${ncpus} cores set it, not its memory.`;
        }
      }
      const fix = parseBytes(newText) < requested ? fixFor(doc, pbsPath('memory'), newText, `Set memory to ${newText}`) : undefined;
      if (fix) {
        out.push({
          ...fix, code: 'history/memory',
          message: `The last ${n} runs peaked at ${formatSizePair(peak, requested)} each job asked for: memory: ${newText} leaves half again as much.${effect}`,
        });
      }
    }
  }

  // Walltime: every run ended long before its limit.
  const limit = jobs[n - 1].walltimeLimitSeconds;
  const walltimeText = scalarAt(doc, pbsPath('walltime'));
  if (limit && used.length === n && (typeof walltimeText === 'string' || typeof walltimeText === 'number')) {
    const longest = Math.max(...used);
    if (longest < WALLTIME_USED_BELOW * limit && parseWalltime(walltimeText) === limit) {
      const suggested = Math.max(QUARTER_HOUR, Math.ceil((longest * WALLTIME_HEADROOM) / QUARTER_HOUR) * QUARTER_HOUR);
      const newText = `'${formatWalltime(suggested)}'`;
      const before = charge(requested, limit);
      const after = charge(requested, suggested);
      const effect = before !== undefined && after !== undefined
        ? ` The estimate before Scale drops from ${formatSu(before)} to ${formatSu(after)} a job; the charge stays what the jobs use, as walltime is charged as used.`
        : '';
      const fix = suggested < limit ? fixFor(doc, pbsPath('walltime'), newText, `Set walltime to ${formatWalltime(suggested)}`) : undefined;
      if (fix) {
        out.push({
          ...fix, code: 'history/walltime',
          message: `The last ${n} runs ended after at most ${formatWalltime(longest)} of a ${formatWalltime(limit)} walltime: ${formatWalltime(suggested)} would queue sooner.${effect}`,
        });
      }
    }
  }
  return out;
}
