// Text and JSON renderings of lifecycle results for stdout. JSON leaves out qstat's raw attributes (kept in the
// snapshot for the editor's tooltips) so that `status --json` stays readable.
import type { ClusterJob, ClusterSnapshot, DownResult, ScaleResult, UpResult } from '../core/cluster';
import type { AdaptResult, CancelledJob, ClusterReport, KernelStatus, SchedulerInfo, WorkersWaitResult } from '../core/cluster';
import { reportModel } from '../core/cluster/report';
import { clockTime, describeCount, targetSummary } from '../core/cluster';
import { QDEL_EXIT } from '../core/pbs/submit';
import { TLS_CERT_FILE, TLS_KEY_FILE } from '../core/cluster/names';
import { neutralizeLine } from '../core/serverText';
import { formatWalltime } from '../core/units';

export function toJson(value: unknown): string {
  return `${JSON.stringify(value, (key, v: unknown) => {
    if (key === 'raw') return undefined;
    if (v instanceof Error) return { name: v.name, message: v.message };
    return v;
  }, 2)}\n`;
}

/** Cells are one line each: a newline or tab in a remote field (a job name, a comment) would break the columns. */
function table(cells: string[][]): string {
  const rows = cells.map((r) => r.map(neutralizeLine));
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd()).join('\n');
}

function walltime(job: ClusterJob): string {
  const used = job.pbs.used?.walltimeSeconds;
  const limit = job.pbs.requested.walltimeSeconds;
  if (limit === undefined) return used === undefined ? '' : formatWalltime(used);
  return `${used === undefined ? '--' : formatWalltime(used)}/${formatWalltime(limit)}`;
}

function schedulerLine(s: SchedulerInfo): string {
  return `Scheduler running at ${s.address}${s.jobId ? ` (job ${s.jobId})` : ''}${s.session ? ` (persistent session ${s.session})` : ''}${s.dashboard ? `\nDashboard: ${s.dashboard.url}` : ''}\n` +
    `Scheduler file: ${s.schedulerFile}  (Client(scheduler_file=...${s.address.startsWith('tls://') ? `, security=Security(...)): the cluster's keys are ${TLS_CERT_FILE} and ${TLS_KEY_FILE} beside it` : '))'})`;
}

export function renderStatus(s: ClusterSnapshot): string {
  if (!s.exists) return `No cluster named ${s.cluster} on ${s.host}: it was never started there, or was purged.\n`;
  const out: string[] = [];
  const sched = s.scheduler;
  const where = sched.address ? ` at ${sched.address}` : '';
  out.push(`Cluster ${s.cluster} on ${s.host}: scheduler ${sched.state}${where}${sched.jobId ? ` (job ${sched.jobId})` : ''}` +
    `${sched.session ? ` (persistent session ${sched.session.name}${sched.session.host ? `, ${sched.session.host}` : ''})` : ''}`);
  if (sched.dashboard) out.push(`Dashboard: ${sched.dashboard.url}`);
  if (sched.problem && sched.state !== 'running') out.push(`  ${sched.problem}`);
  const target = targetSummary(s.adaptive, clockTime);
  if (target) {
    out.push(neutralizeLine(`Target: ${target.line}${target.error ? ` (${target.error})` : ''}`));
    if (target.givenUp) {
      out.push(neutralizeLine(`  Stopped replacing jobs: ${target.givenUp.reason}. Fix the cause, then scale again.`));
      if (target.givenUp.errorText) out.push(...target.givenUp.errorText.split('\n').map((l) => `  | ${neutralizeLine(l)}`));
    }
  }
  const c = s.counts;
  out.push(`${c.workerJobs} worker job(s) (${c.queuedWorkerJobs} queued), ${c.workers} worker(s), ${c.threads} thread(s)`);
  if (s.jobs.length) {
    const rows = [['JOB', 'ROLE', 'STATE', 'QUEUE', 'NODE', 'WALLTIME', 'WORKERS']];
    for (const j of s.jobs) {
      rows.push([j.id, j.role, j.stateInfo.label, j.pbs.queue, j.pbs.nodes.join(',') || '-', walltime(j), j.workers.map((w) => w.name).join(' ') || '-']);
      if (j.stateInfo.phase === 'pending' && j.pbs.comment) rows.push(['', '', '', '', '', '', `(${j.pbs.comment})`]);
    }
    out.push('', table(rows));
  }
  if (s.otherWorkers.length) out.push('', `Workers outside the cluster's jobs: ${s.otherWorkers.map((w) => w.name).join(', ')}`);
  if (s.finishedJobs.length) {
    out.push('', 'Finished:');
    for (const j of s.finishedJobs.slice(0, 10)) {
      out.push(`  ${j.id} ${j.role}: ${j.end ?? 'ended'}`);
    }
  }
  return `${out.join('\n')}\n`;
}

export function renderUp(r: UpResult): string {
  const lines = [`Runtime ${r.deploy.version} ${r.deploy.uploaded ? 'installed' : 'already installed'}`];
  const a = r.scheduler.action;
  if (r.scheduler.info) lines.push(schedulerLine(r.scheduler.info));
  else if (a.kind === 'answers') lines.push(`Scheduler already running${a.address ? ` at ${a.address}` : ''}`);
  else if (a.kind === 'job-exists') lines.push(`Scheduler job ${a.jobId} already in the queue (state ${a.state})`);
  else if (a.kind === 'submitted') lines.push(`Scheduler job ${a.jobId} submitted`);
  return `${[...lines, ...r.warnings.map((w) => `warning: ${w}`)].join('\n')}\n`;
}

/** Jobs PBS let go of on one line; each one qdel failed on on its own, with PBS's reason (it is still there). */
function cancelLines(cancelled: readonly CancelledJob[]): string[] {
  const done = cancelled.filter((c) => c.outcome !== 'error');
  const failed = cancelled.filter((c) => c.outcome === 'error');
  return [
    ...(done.length ? [`Cancelled: ${done.map((c) => c.id).join(' ')}`] : []),
    ...failed.map((c) => `Not cancelled: ${c.id}: ${c.message ?? 'qdel failed'}${c.exitCode ? ` (qdel exit ${c.exitCode})` : ''}; it may still run: check with status, then cancel it again`),
  ];
}

export function renderScale(r: ScaleResult): string {
  const lines: string[] = [];
  const now = r.before.length + r.submitted.length - r.cancelled.filter((c) => c.outcome !== 'error').length;
  if (r.submitted.length) lines.push(`Submitted: ${r.submitted.join(' ')}`);
  lines.push(...cancelLines(r.cancelled));
  if (!r.submitted.length && !r.cancelled.length) lines.push(`Already at ${r.targetJobs} worker job(s)`);
  lines.push(`Worker jobs: ${now} (asked for ${r.targetJobs})`);
  if (r.adaptWasOn) lines.push('Adaptivity was turned off');
  if (r.holding) lines.push(`The scheduler holds ${r.holding} worker job(s): a job that ends is replaced, one near its walltime gets a successor first. scale 0 or down to stop.`);
  if (r.scheduler?.info) lines.push(schedulerLine(r.scheduler.info));
  for (const e of r.errors) lines.push(`error: ${e.message}`);
  for (const w of r.warnings) lines.push(`warning: ${w}`);
  return `${lines.join('\n')}\n`;
}

export function renderAdapt(r: AdaptResult): string {
  const lines = r.enabled
    ? [`Adaptive between ${r.minimum} and ${r.maximum} worker jobs (${r.adopted} existing job(s) adopted); the scheduler adds and removes jobs from now on`]
    : ['Adaptivity off; the jobs are left as they are'];
  if (r.scheduler?.info) lines.push(schedulerLine(r.scheduler.info));
  return `${[...lines, ...r.warnings.map((w) => `warning: ${w}`)].join('\n')}\n`;
}

/** The kernel next to the cluster: its job's state and where its server listens (the token stays on the cluster). */
export function renderKernel(k: KernelStatus): string {
  const lines: string[] = [];
  if (k.stopped !== undefined) {
    lines.push(k.stopped.length ? `Kernel stopped: ${k.stopped.join(', ')}` : 'No kernel was running');
    if (k.exiting?.length) lines.push(`Still exiting in PBS: ${k.exiting.join(' ')}`);
    lines.push(...(k.errors ?? []).map((e) => `error: ${e}`));
    return `${lines.join('\n')}\n`;
  }
  const where = k.jobId ? `job ${k.jobId}` : k.pid ? `login node, pid ${k.pid}` : '';
  if (k.state === 'none') lines.push('No kernel is running (start one with gadi-dask kernel start)');
  else if (k.state === 'queued') lines.push(`Kernel: ${where} queued${k.comment ? `: ${k.comment}` : ''}`);
  else if (k.state === 'starting') lines.push(`Kernel: ${where} starting its Jupyter server`);
  else lines.push(`Kernel: ${where} running`, `Listening on ${k.host}:${k.port}${k.node ? ` (node ${k.node})` : ''}${k.startedAt ? ` since ${k.startedAt}` : ''}`);
  return `${lines.join('\n')}\n`;
}

export function renderDown(r: DownResult): string {
  if (!r.existed) return 'No such cluster: nothing to do\n';
  const lines = [r.wasRunning ? 'Scheduler stopped' : 'No scheduler was running'];
  lines.push(...(r.cancelled.length ? cancelLines(r.cancelled) : ['No job left to cancel']));
  if (r.exiting.length) lines.push(`Still exiting in PBS: ${r.exiting.join(' ')}`);
  if (r.kernel.stopped.length) lines.push(`Kernel stopped: ${r.kernel.stopped.join(' ')}`);
  if (r.purged) lines.push('Cluster directory removed');
  if (r.sessionLeft) lines.push(r.sessionLeft);
  if (r.kernelLeft) lines.push(r.kernelLeft);
  return `${[...lines, ...r.warnings.map((w) => `warning: ${w}`)].join('\n')}\n`;
}

export function renderReport(r: ClusterReport): string {
  const model = reportModel(r);
  if (!r.runs.length) return `${model.notes.join('\n')}\n`;
  const out: string[] = [];
  for (const t of model.tables) out.push(t.title, table([t.columns.map((c) => c.toUpperCase()), ...t.rows]).replace(/^/gm, '  '));
  for (const w of r.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}

export function renderWorkers(w: WorkersWaitResult): string {
  const line = describeCount(w);
  if (w.done) return `Workers: ${line}\n`;
  if (w.cannotReach) return `Workers: ${line}; stopped waiting: ${w.cannotReach}\n`;
  const queued = w.queued.map((q) => `  ${q.id} queued${q.comment ? `: ${q.comment}` : ''}`);
  return [`Workers: ${line} after ${Math.round(w.waitedMs / 1000)} s; the jobs keep their place in the queue (check again with status)`, ...queued].join('\n') + '\n';
}

/** One line per job: what PBS did, in its own words, with qdel's exit status when it was not 0. */
export function renderCancel(results: readonly CancelledJob[]): string {
  return results.map((r) => {
    const said = r.message ? `: ${r.message}` : '';
    const rc = r.exitCode ? ` (qdel exit ${r.exitCode})` : '';
    if (r.outcome === 'deleted') return `${r.id}: cancelled${r.retiredWorkers?.length ? ` (${r.retiredWorkers.length} worker(s) retired first)` : ''}`;
    if (r.outcome === 'gone') {
      const why = r.exitCode === QDEL_EXIT.unknownJob ? 'PBS knows no such job' : r.exitCode === QDEL_EXIT.finished ? 'had already finished' : 'had already left the queue';
      return `${r.id}: ${why}${said}${rc}`;
    }
    return `${r.id}: not cancelled${said}${rc}`;
  }).join('\n') + '\n';
}
