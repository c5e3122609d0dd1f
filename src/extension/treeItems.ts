// How each kind of node in the PBS Jobs view looks: label, description, state icon and colour, Markdown tooltip,
// and the contextValue that picks its menu items (package.json "menus" match on it).
import * as vscode from 'vscode';
import type { ClusterSnapshot, DiscoveredCluster, SchedulerState, WalltimeNotice, WorkerStatus } from '../core/cluster';
import type { PbsJob } from '../core/pbs/qstat';
import { efficiencyRows, efficiencySummary, jobEfficiency } from '../core/pbs/efficiency';
import { describeExitStatus } from '../core/pbs/states';
import type { ClusterEntry } from './clusters';
import {
  clusterContext, foundClusterContext, jobContext, messageContext, WORKER_CONTEXT, type JobRole, type Severity,
} from './contextValues';
import { core } from './core';
import { formatSize } from './format';

export type { JobRole, Severity };

/** A job's id without the server suffix: `12345678` for `12345678.gadi-pbs`. */
export function shortJobId(id: string): string {
  return id.split('.')[0];
}

interface StateLook {
  icon: string;
  color?: string;
}

// One look per PBS state letter (pbs/states.ts): green runs, yellow waits, orange is stopped by someone, red failed.
const STATE_LOOKS: Record<string, StateLook> = {
  Q: { icon: 'clock', color: 'charts.yellow' },
  H: { icon: 'debug-pause', color: 'charts.orange' },
  W: { icon: 'watch', color: 'charts.yellow' },
  T: { icon: 'arrow-swap', color: 'charts.blue' },
  R: { icon: 'play-circle', color: 'charts.green' },
  B: { icon: 'play-circle', color: 'charts.green' },
  E: { icon: 'debug-step-out', color: 'charts.yellow' },
  S: { icon: 'debug-pause', color: 'charts.orange' },
  U: { icon: 'debug-pause', color: 'charts.orange' },
  X: { icon: 'pass', color: 'disabledForeground' },
  M: { icon: 'arrow-right', color: 'disabledForeground' },
};

/** The job's state as an icon and colour; `icon` keeps the colour and draws another shape (the kernel's job). */
export function jobIcon(job: PbsJob, icon?: string): vscode.ThemeIcon {
  let look = STATE_LOOKS[job.state] ?? { icon: 'question', color: 'charts.purple' };
  if (job.state === 'F') {
    look = job.exitStatus === undefined || job.exitStatus === 0 ? { icon: 'pass', color: 'disabledForeground' } : { icon: 'error', color: 'charts.red' };
  }
  return new vscode.ThemeIcon(icon ?? look.icon, look.color ? new vscode.ThemeColor(look.color) : undefined);
}

const NOTICE_ICON = () => new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.orange'));

function walltime(job: PbsJob): string {
  const requested = job.requested.walltimeSeconds;
  const used = job.used?.walltimeSeconds;
  if (requested === undefined && used === undefined) return '';
  const { formatWalltime } = core();
  return `${used === undefined ? '–' : formatWalltime(used)} / ${requested === undefined ? '–' : formatWalltime(requested)}`;
}

function nodesText(job: PbsJob): string {
  if (!job.nodes.length) return '';
  return job.nodes.length === 1 ? job.nodes[0] : `${job.nodes[0]} +${job.nodes.length - 1}`;
}

const md = (text: string) => text.replace(/[\\`*_{}[\]()#+\-.!|<>]/g, '\\$&');

/** A PBS job's row; `notice`: its walltime ends soon (the kernel's job), said on the row and in its tooltip. */
export function jobItem(job: PbsJob, role: JobRole, workers: readonly WorkerStatus[], id: string, notice?: WalltimeNotice): vscode.TreeItem {
  const label = role === 'kernel' ? `Kernel job ${shortJobId(job.id)}` : `${shortJobId(job.id)} ${core().jobDisplayName(job.name)}`;
  const item = new vscode.TreeItem(label, workers.length ? vscode.TreeItemCollapsibleState.Collapsed : vscode.TreeItemCollapsibleState.None);
  item.id = id;
  item.description = [notice ? `⚠ ${notice.short}` : undefined, job.stateInfo.label, job.queue, walltime(job), efficiencySummary(jobEfficiency(job)), nodesText(job)]
    .filter(Boolean).join(' · ');
  item.iconPath = notice ? NOTICE_ICON() : jobIcon(job, role === 'kernel' ? 'notebook' : undefined);
  item.contextValue = jobContext(role, job.stateInfo.phase);
  item.tooltip = jobTooltip(job, role, workers.length, notice);
  return item;
}

function jobTooltip(job: PbsJob, role: JobRole, workers: number, notice?: WalltimeNotice): vscode.MarkdownString {
  const rows: [string, string | undefined][] = [
    ['Walltime ends', notice?.message],
    ['State', `${job.state}: ${job.stateInfo.meaning}`],
    ['Why', job.comment],
    ['Queue', job.queue],
    ['Project', job.project],
    ['Cores', job.requested.ncpus?.toString()],
    ['Memory', job.requested.memBytes !== undefined ? formatSize(job.requested.memBytes) : undefined],
    ['GPUs', job.requested.ngpus?.toString()],
    ['Walltime', walltime(job)],
    ['CPU time', job.used?.cputSeconds !== undefined ? core().formatWalltime(job.used.cputSeconds) : undefined],
    ['Memory used', job.used?.memBytes !== undefined ? formatSize(job.used.memBytes) : undefined],
    ...efficiencyRows(jobEfficiency(job)),
    ['Nodes', job.nodes.join(', ') || undefined],
    ['Submitted', job.times.created?.toLocaleString()],
    ['Started', job.times.started?.toLocaleString()],
    ['Ended', job.times.ended?.toLocaleString()],
    ['Exit', job.exitStatus !== undefined ? describeExitStatus(job.exitStatus) : undefined],
    ['Output', job.outputPath],
    ['Errors', job.errorPath !== job.outputPath ? job.errorPath : undefined],
    ['Dask workers', role === 'other' || (role === 'kernel' && !workers) ? undefined : String(workers)],
  ];
  const t = new vscode.MarkdownString();
  t.appendMarkdown(`**${md(job.id)}** ${md(job.name)}${role === 'other' ? '' : ` — ${role} job`}\n\n`);
  t.appendMarkdown('| | |\n|---|---|\n');
  for (const [k, v] of rows) if (v) t.appendMarkdown(`| ${k} | ${md(v).replace(/\n/g, ' ')} |\n`);
  return t;
}

export function workerItem(worker: WorkerStatus, id: string): vscode.TreeItem {
  const item = new vscode.TreeItem(worker.name, vscode.TreeItemCollapsibleState.None);
  item.id = id;
  const mem = worker.memory;
  const threads = worker.nthreads ?? undefined;
  item.description = [
    threads !== undefined ? `${threads} thread${threads === 1 ? '' : 's'}` : undefined,
    mem?.used != null ? `${formatSize(mem.used)} / ${mem.limit != null ? formatSize(mem.limit) : '–'}` : undefined,
    `${worker.processing ?? 0} task${worker.processing === 1 ? '' : 's'}`,
  ].filter(Boolean).join(' · ');
  const ok = !worker.status || worker.status === 'running';
  item.iconPath = new vscode.ThemeIcon('pulse', new vscode.ThemeColor(ok ? 'charts.green' : 'charts.yellow'));
  item.contextValue = WORKER_CONTEXT;
  const t = new vscode.MarkdownString();
  t.appendMarkdown(`**${md(worker.name)}** — Dask worker\n\n| | |\n|---|---|\n`);
  const rows: [string, string | null | undefined][] = [
    ['Address', worker.address],
    ['Host', worker.host],
    ['Status', worker.status],
    ['Threads', threads?.toString()],
    ['Memory', mem?.used != null ? `${formatSize(mem.used)} used${mem.managed != null ? `, ${formatSize(mem.managed)} managed` : ''}${mem.limit != null ? ` of ${formatSize(mem.limit)}` : ''}` : undefined],
    ['Tasks processing', String(worker.processing ?? 0)],
    ['PBS job', worker.pbsJobId],
    ['Last seen', worker.lastSeen],
  ];
  for (const [k, v] of rows) if (v) t.appendMarkdown(`| ${k} | ${md(v)} |\n`);
  item.tooltip = t;
  return item;
}

const SCHEDULER_LOOKS: Record<SchedulerState, StateLook> = {
  running: { icon: 'server-process', color: 'charts.green' },
  starting: { icon: 'server-process', color: 'charts.yellow' },
  queued: { icon: 'server-process', color: 'charts.yellow' },
  unreachable: { icon: 'server-process', color: 'charts.red' },
  stopped: { icon: 'server-process' },
  'not-deployed': { icon: 'server-process' },
  unknown: { icon: 'server-process', color: 'charts.orange' },
};

export function clusterState(snapshot: ClusterSnapshot | undefined): SchedulerState | 'loading' {
  return snapshot ? (snapshot.exists ? snapshot.scheduler.state : 'stopped') : 'loading';
}

/** A cluster found on the account without a config here: its recorded state, read-only. */
export function foundClusterItem(c: DiscoveredCluster, host: string, id: string): vscode.TreeItem {
  const item = new vscode.TreeItem(c.name, vscode.TreeItemCollapsibleState.None);
  item.id = id;
  const state = c.running ? 'running' : c.state ?? 'unknown';
  const jobs = c.jobs.length;
  item.description = [host, state, `${jobs} recorded job${jobs === 1 ? '' : 's'}`, 'no config here'].join(' · ');
  item.iconPath = new vscode.ThemeIcon(c.running ? 'server-process' : 'circle-outline');
  item.contextValue = foundClusterContext(c.running);
  const t = new vscode.MarkdownString();
  t.appendMarkdown(`**${md(c.name)}** on ${md(host)}, started from elsewhere: no \`*.dask-cluster.yaml\` of this workspace names it.\n\n`);
  t.appendMarkdown('Open or create a config with `jobqueue.pbs.name` set to this name to manage it here.');
  if (c.address) t.appendMarkdown(`\n\nScheduler: ${md(c.address)}`);
  item.tooltip = t;
  return item;
}

export function clusterItem(entry: ClusterEntry): vscode.TreeItem {
  const s = entry.snapshot;
  const state = clusterState(s);
  const item = new vscode.TreeItem(entry.cluster.name, vscode.TreeItemCollapsibleState.Expanded);
  item.id = entry.id;
  const shown = state === 'loading' ? 'loading…' : state === 'not-deployed' || (s && !s.exists) ? 'not started' : state;
  const parts = [entry.connection.label, shown];
  if (s?.exists) {
    parts.push(`${s.counts.workerJobs} job${s.counts.workerJobs === 1 ? '' : 's'}`);
    parts.push(`${s.counts.workers} worker${s.counts.workers === 1 ? '' : 's'}`);
  }
  const target = s?.adaptive ? core().targetSummary(s.adaptive, core().clockTime) : undefined;
  if (target) parts.push(target.line);
  const expiry = s ? core().schedulerExpiry(s) : undefined;
  if (expiry) parts.push(`⚠ ${expiry.short}`);
  const kernelEnds = s ? core().kernelExpiry(s) : undefined;
  if (kernelEnds) parts.push(`⚠ ${kernelEnds.short}`);
  if (s?.scheduler.session) parts.push(`scheduler in session ${s.scheduler.session.name}`);
  item.description = parts.join(' · ');
  const look = state === 'loading' ? { icon: 'loading~spin' } : SCHEDULER_LOOKS[state];
  item.iconPath = entry.error || expiry || kernelEnds ? NOTICE_ICON()
    : new vscode.ThemeIcon(look.icon, look.color ? new vscode.ThemeColor(look.color) : undefined);
  item.contextValue = clusterContext(state, !!s?.scheduler.dashboard, !!s?.adaptive?.enabled);
  const t = new vscode.MarkdownString();
  t.appendMarkdown(`**${md(entry.cluster.name)}** on ${md(entry.connection.label)}\n\n| | |\n|---|---|\n`);
  const rows: [string, string | undefined][] = [
    ['Config', entry.config.label],
    ['Scheduler', s ? `${state}${s.scheduler.placement ? ` (${s.scheduler.placement})` : ''}` : undefined],
    // Where the scheduler lives: its persistent session, or its job (with the walltime that ends it).
    ['Persistent session', s?.scheduler.session ? `${s.scheduler.session.name}${s.scheduler.session.host ? ` (${s.scheduler.session.host})` : ''}, no walltime` : undefined],
    ['Scheduler walltime', expiry?.message],
    ['Kernel walltime', kernelEnds?.message],
    ['Address', s?.scheduler.address],
    ['Dashboard', s?.scheduler.dashboard?.url],
    ['Scheduler job', s?.scheduler.jobId],
    ['Worker jobs', s ? `${s.counts.workerJobs} (${s.counts.queuedWorkerJobs} waiting)` : undefined],
    ['Workers', s ? `${s.counts.workers} with ${s.counts.threads} threads` : undefined],
    ['Target', target?.line],
    ['Stopped replacing jobs', target?.givenUp ? `${target.givenUp.reason}. Fix the cause, then scale again.` : undefined],
    ['Job error output', target?.givenUp?.errorText],
    ['Controller', target?.error],
    ['Note', s?.scheduler.problem],
    ['Last refresh', s?.takenAt.toLocaleTimeString()],
    ['Refresh failed', entry.error ? (entry.error as Error).message : undefined],
  ];
  for (const [k, v] of rows) if (v) t.appendMarkdown(`| ${k} | ${md(v).replace(/\n/g, ' ')} |\n`);
  item.tooltip = t;
  return item;
}


export function messageItem(text: string, severity: Severity, id: string, command?: vscode.Command, tooltip?: string): vscode.TreeItem {
  const item = new vscode.TreeItem(text, vscode.TreeItemCollapsibleState.None);
  item.id = id;
  const icons: Record<Severity, vscode.ThemeIcon> = {
    error: new vscode.ThemeIcon('error', new vscode.ThemeColor('charts.red')),
    warning: new vscode.ThemeIcon('warning', new vscode.ThemeColor('charts.yellow')),
    info: new vscode.ThemeIcon('info'),
    loading: new vscode.ThemeIcon('loading~spin'),
  };
  item.iconPath = icons[severity];
  item.tooltip = tooltip ?? text;
  item.contextValue = messageContext(severity);
  if (command) item.command = command;
  return item;
}
