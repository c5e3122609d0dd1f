// Scale Cluster and Adapt Cluster: ask for the size (the current one as default), show the SU cost of what will be
// submitted, then submit in one round trip under a cancellable progress notification that lasts until the workers
// are connected (`3/8 workers connected`, with PBS's reason for jobs still queued), the user dismisses it (the
// cluster goes on), or a bounded wait ends.
// Both also take their answers as arguments (executeCommand), so scripts and tests can drive them.
import * as vscode from 'vscode';
import { core } from '../core';
import type { AdaptResult, ScaleRequest, ScaleResult, WorkersWaitResult } from '../../core/cluster';
import type { ClusterEntry } from '../clusters';
import { costPrompt } from '../cost';
import { plural } from '../format';
import { Cancelled, UserFacingError } from '../errors';
import { inertMessage } from '../inert';
import { gateSubmission } from '../lintGate';
import { withCancellableProgress } from '../progress';
import { readSettings } from '../settings';
import { clusterFor, confirm, isNode, snapshotOf, type Context, type TargetArgs } from './context';
import { parseBounds, parseSize } from './sizes';

export interface ScaleArgs extends TargetArgs {
  jobs?: number;
  workers?: number;
  /** false skips the cost prompt (as the confirmScale setting does). */
  confirm?: boolean;
  /** false returns once the jobs are submitted, without waiting for their workers. */
  waitForWorkers?: boolean;
}

/** What Scale Cluster gives back: the scale, and the workers as the wait left them (none when not waited). */
export interface ScaleCommandResult extends ScaleResult {
  workers?: WorkersWaitResult;
}

/** How long Scale waits for the workers before it leaves them to the tree. */
const WORKERS_WAIT_MS = 10 * 60_000;

export interface AdaptArgs extends TargetArgs {
  minimum?: number;
  maximum?: number;
  off?: boolean;
  confirm?: boolean;
}

function scaleArgs(arg: unknown): ScaleArgs {
  if (typeof arg === 'number') return { jobs: arg };
  if (typeof arg === 'object' && arg !== null && !isNode(arg)) return arg as ScaleArgs;
  return {};
}

async function askSize(entry: ClusterEntry, current: number): Promise<ScaleRequest> {
  const { processes, threads } = entry.cluster.layout;
  const each = `each job runs ${plural(processes, 'worker')} of ${plural(threads, 'thread')}`;
  const text = await vscode.window.showInputBox({
    title: `Gadi Dask: scale cluster ${entry.cluster.name} on ${entry.connection.label}`,
    prompt: `Worker jobs to run (now ${current}; ${each}). Type a number of jobs, or e.g. 16w for workers.`,
    value: String(current),
    ignoreFocusOut: true,
    validateInput: (v) => {
      const size = parseSize(v);
      if (!size) return 'A whole number of jobs (4), or of workers with w (16w)';
      try {
        checkCeilingFor(entry, entry.cluster.jobsFor(size), 'Scaling the cluster');
        return undefined;
      } catch (e) {
        return (e as Error).message;
      }
    },
  });
  if (text === undefined) throw new Cancelled();
  return parseSize(text)!;
}

const SCHEDULER_ALIVE = new Set(['running', 'starting', 'queued']);

/** Job counts given as arguments (executeCommand) or computed from workers: whole numbers from 0. */
function checkJobCount(n: number, what: string): void {
  if (Number.isSafeInteger(n) && n >= 0) return;
  throw new UserFacingError(`${String(n)} is not a number of ${what}: give a whole number from 0.`, []);
}

/** The config's job ceiling (core's ceiling.ts), before the cost prompt: the refusal names it and its source. */
function checkCeilingFor(entry: ClusterEntry, jobs: number, what: string): void {
  const c = core();
  c.checkCeiling(c.jobCeiling(entry.config.config), jobs, what);
}

export async function scaleCluster(ctx: Context, arg?: unknown): Promise<ScaleCommandResult> {
  const args = scaleArgs(arg);
  const entry = await clusterFor(ctx, arg, 'to scale', true);
  const snapshot = await snapshotOf(ctx, entry).catch(() => undefined); // the size prompt can go without it
  const current = snapshot?.counts.workerJobs ?? 0;
  let request: ScaleRequest;
  if (args.jobs !== undefined) request = { jobs: args.jobs };
  else if (args.workers !== undefined) request = { workers: args.workers };
  else request = await askSize(entry, current);
  let target: number;
  try {
    target = entry.cluster.jobsFor(request);
  } catch (e) {
    throw new UserFacingError(`${(e as Error).message}: give a whole number of jobs or workers.`, []);
  }
  checkJobCount(target, 'worker jobs');
  checkCeilingFor(entry, target, `Scaling cluster ${entry.cluster.name}`);
  await gateSubmission(entry.config.uri);

  const newJobs = Math.max(0, target - current);
  const withScheduler = target > 0 && entry.config.config.scheduler.placement === 'job' && !SCHEDULER_ALIVE.has(snapshot?.scheduler.state ?? 'stopped');
  if ((newJobs > 0 || withScheduler) && args.confirm !== false && readSettings().confirmScale) {
    const cost = costPrompt(entry.config.config, entry.cluster.name, entry.connection.label, newJobs, withScheduler, target);
    const button = `Submit ${plural(newJobs + (withScheduler ? 1 : 0), 'Job')}`;
    if (!(await confirm(cost.message, cost.detail, button))) throw new Cancelled();
  }

  const title = `Scaling ${entry.cluster.name} on ${entry.connection.label} to ${plural(target, 'worker job')}`;
  const result = await withCancellableProgress(title, async ({ report: onProgress, signal }): Promise<ScaleCommandResult> => {
    const r = await entry.cluster.scale({ jobs: target }, { wait: false, onProgress, signal });
    // The notification stays until the tree shows what was submitted.
    onProgress('updating the PBS Jobs view…');
    await ctx.refresher.now('action');
    const shown = new Set(entry.snapshot?.jobs.map((j) => j.id) ?? []);
    const missing = r.submitted.filter((id) => !shown.has(id));
    if (missing.length) ctx.log.warn(`Submitted jobs not yet listed by PBS: ${missing.join(', ')}`);
    if (r.stopped || target === 0 || args.waitForWorkers === false) return r;
    let workers;
    try {
      workers = await entry.cluster.waitForWorkers(target, { signal, onProgress, timeoutMs: WORKERS_WAIT_MS });
    } catch (e) {
      void ctx.refresher.now('action');
      if (e instanceof core().AbortedError) return r; // dismissed: the cluster goes on, the tree follows it
      throw e;
    }
    // The last count ("2/2 workers connected") stays on screen until the tree shows those workers.
    await ctx.refresher.now('action');
    return { ...r, workers };
  });
  for (const w of result.warnings) ctx.log.warn(w);
  const done = [
    result.submitted.length ? `submitted ${plural(result.submitted.length, 'job')} (${result.submitted.join(', ')})` : '',
    result.cancelled.length ? `cancelled ${plural(result.cancelled.length, 'job')}` : '',
  ].filter(Boolean).join(', ') || `already at ${plural(target, 'worker job')}`;
  ctx.log.info(`Scale ${entry.cluster.name}: ${done}${result.stopped ? ' (cancelled)' : ''}.`);
  if (result.stopped) {
    const what = result.submitted.length ? `${done} before it stopped; every one is tracked and shown in the PBS Jobs view` : 'nothing was submitted';
    void vscode.window.showInformationMessage(inertMessage(`Scale of cluster ${entry.cluster.name} cancelled: ${what}.`));
  } else if (result.errors.length) {
    void vscode.window.showWarningMessage(inertMessage(`Cluster ${entry.cluster.name}: ${done}, but PBS refused the rest: ${result.errors[0].message}`), 'Show Log')
      .then((b) => b && ctx.log.show());
  } else if (result.workers?.cannotReach) {
    void vscode.window.showWarningMessage(inertMessage(`Cluster ${entry.cluster.name}: ${core().describeCount(result.workers)}; stopped waiting: ${result.workers.cannotReach}.`));
  } else if (result.workers?.timedOut) {
    void vscode.window.showWarningMessage(inertMessage(`Cluster ${entry.cluster.name}: ${core().describeCount(result.workers)} after ${Math.round(result.workers.waitedMs / 60_000)} min; the jobs keep their place in the queue.`));
  } else if (result.adaptWasOn) {
    void vscode.window.showInformationMessage(inertMessage(`Cluster ${entry.cluster.name}: ${done}. Adaptive scaling is now off.`));
  }
  return result;
}

export async function adaptCluster(ctx: Context, arg?: unknown): Promise<AdaptResult> {
  const args: AdaptArgs = typeof arg === 'object' && arg !== null && !isNode(arg) ? (arg as AdaptArgs) : arg === 'off' ? { off: true } : {};
  const entry = await clusterFor(ctx, arg, 'to make adaptive', true);
  const snapshot = await snapshotOf(ctx, entry).catch(() => undefined);
  let bounds: { minimum: number; maximum: number } | 'off';
  if (args.off) bounds = 'off';
  else if (args.minimum !== undefined && args.maximum !== undefined) bounds = { minimum: args.minimum, maximum: args.maximum };
  else {
    const a = snapshot?.adaptive;
    const value = a?.enabled ? `${a.min ?? 0}-${a.max ?? 1}` : `0-${Math.max(1, snapshot?.counts.workerJobs ?? 4)}`;
    const text = await vscode.window.showInputBox({
      title: `Gadi Dask: adaptive scaling of ${entry.cluster.name}`,
      prompt: 'Fewest and most worker jobs, e.g. 0-4. The scheduler keeps the cluster in these bounds by itself, with or without VS Code. Type off to stop.',
      value,
      ignoreFocusOut: true,
      validateInput: (v) => {
        const b = parseBounds(v);
        if (!b) return 'Two whole numbers, fewest first (0-4), or off';
        try {
          if (b !== 'off') checkCeilingFor(entry, b.maximum, 'Adaptive scaling of the cluster up');
          return undefined;
        } catch (e) {
          return (e as Error).message;
        }
      },
    });
    if (text === undefined) throw new Cancelled();
    bounds = parseBounds(text)!;
  }
  if (bounds !== 'off') {
    checkJobCount(bounds.minimum, 'the fewest worker jobs');
    checkJobCount(bounds.maximum, 'the most worker jobs');
    checkCeilingFor(entry, bounds.maximum, `Adaptive scaling of cluster ${entry.cluster.name} up`);
    await gateSubmission(entry.config.uri); // turning adaptivity off submits nothing
  }
  if (bounds !== 'off' && args.confirm !== false && readSettings().confirmScale) {
    const withScheduler = entry.config.config.scheduler.placement === 'job' && !SCHEDULER_ALIVE.has(snapshot?.scheduler.state ?? 'stopped');
    const cost = costPrompt(entry.config.config, entry.cluster.name, entry.connection.label, bounds.maximum, withScheduler);
    const message = `Let cluster ${entry.cluster.name} grow to ${plural(bounds.maximum, 'worker job')} by itself?`;
    if (!(await confirm(message, `At the most:\n${cost.detail}`, 'Turn On Adaptive Scaling'))) throw new Cancelled();
  }
  const title = bounds === 'off' ? `Turning adaptive scaling of ${entry.cluster.name} off` : `Making ${entry.cluster.name} adaptive (${bounds.minimum}–${bounds.maximum} jobs)`;
  return withCancellableProgress(title, async ({ report, signal }) => {
    const r = await entry.cluster.adapt(bounds, { wait: false, onProgress: report, signal });
    for (const w of r.warnings) ctx.log.warn(w);
    await ctx.refresher.now('action');
    return r;
  });
}
