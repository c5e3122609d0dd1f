// Commands on one PBS job: Cancel Job, Show Job Script, Open Job Output. A job comes from a tree node, or from
// arguments ({ jobId }) looked up in the clusters' last snapshots.
import { posix } from 'node:path';
import * as vscode from 'vscode';
import { core } from '../core';
import type { CancelledJob } from '../../core/cluster';
import { ACTIONS, Cancelled, NotConnectedError, UserFacingError } from '../errors';
import type { JobNode } from '../jobsTree';
import { shortJobId } from '../treeItems';
import { inertMessage } from '../inert';
import { withCancellableProgress } from '../progress';
import { configUri, confirm, isNode, nodeArg, type Context, type TargetArgs } from './context';

interface JobArgs {
  jobId?: string;
  selection?: boolean;
  confirm?: boolean;
  /** Open Job Output: 'o' for standard output, 'e' for standard error. */
  stream?: 'o' | 'e';
}

function jobArgs(arg: unknown): JobArgs {
  return typeof arg === 'object' && arg !== null && !isNode(arg) ? (arg as JobArgs) : typeof arg === 'string' ? { jobId: arg } : {};
}

/** Every job the view knows, as nodes: the clusters' active and finished jobs, and the other jobs listed. */
function knownJobs(ctx: Context): JobNode[] {
  const out: JobNode[] = [];
  for (const entry of ctx.model.list()) {
    for (const j of [...(entry.snapshot?.jobs ?? []), ...(entry.snapshot?.finishedJobs ?? [])]) {
      out.push({ kind: 'job', job: j.pbs, role: j.role, workers: j.workers, connection: entry.connection, entry, place: entry.id });
    }
  }
  for (const c of ctx.session.all()) {
    for (const job of ctx.model.otherJobs(c.key).jobs ?? []) {
      if (!out.some((n) => n.job.id === job.id)) out.push({ kind: 'job', job, role: 'other', workers: [], connection: c, place: `${c.key}|other` });
    }
  }
  return out;
}

/** The job to `verb` ("cancel", "open the output of"). */
async function jobFor(ctx: Context, given: unknown, verb: string, filter: (n: JobNode) => boolean = () => true): Promise<JobNode> {
  const arg = nodeArg(ctx, given);
  if (isNode(arg) && arg.kind === 'job') return arg;
  if (!ctx.session.all().length) throw new NotConnectedError(`to ${verb} a job`);
  const jobs = knownJobs(ctx).filter(filter);
  const id = jobArgs(arg).jobId;
  if (id) {
    const found = jobs.find((n) => n.job.id === id || shortJobId(n.job.id) === id);
    if (!found) throw new UserFacingError(`Job ${id} is not in the PBS Jobs view: refresh it, or check the id.`, [ACTIONS.refresh]);
    return found;
  }
  if (!jobs.length) throw new UserFacingError(`No PBS job to ${verb}: the PBS Jobs view lists none.`, [ACTIONS.refresh, ACTIONS.scale]);
  const picked = await vscode.window.showQuickPick(
    jobs.map((n) => ({ label: `${n.job.id} ${n.job.name}`, description: `${n.job.stateInfo.label} · ${n.entry?.cluster.name ?? 'other job'}`, node: n })),
    { title: `Gadi Dask: which job to ${verb}?`, matchOnDescription: true },
  );
  if (!picked) throw new Cancelled();
  return picked.node;
}

export async function cancelJob(ctx: Context, arg?: unknown): Promise<CancelledJob> {
  const args = jobArgs(arg);
  const node = await jobFor(ctx, arg, 'cancel', (n) => n.job.stateInfo.active);
  const { job } = node;
  if (args.confirm !== false) {
    const workers = node.workers.length;
    const detail = node.role === 'scheduler'
      ? `This is the scheduler's job of cluster ${node.entry?.cluster.name}: its workers lose their scheduler. To stop the whole cluster, use Shut Down Cluster instead.`
      : node.role === 'worker'
        ? `Its ${workers} Dask worker(s) stop; their tasks are recomputed on the other workers.${node.entry?.snapshot?.adaptive?.enabled ? ' Adaptive scaling may submit a new job in its place.' : ''}`
        : node.role === 'kernel'
          ? `This is the kernel next to cluster ${node.entry?.cluster.name}: the kernel stops and its notebook's variables are lost. The cluster keeps running.`
          : `It belongs to no Dask cluster of this workspace (${job.stateInfo.label.toLowerCase()} in ${job.queue}).`;
    if (!(await confirm(`Cancel PBS job ${job.id} (${job.name})?`, detail, 'Cancel Job'))) throw new Cancelled();
  }
  const where = node.entry ? `cluster ${node.entry.cluster.name}` : node.connection.label;
  const result = await withCancellableProgress(`Cancelling job ${job.id} of ${where}`, (p) => cancelOne(node, p.signal, p.report));
  ctx.log.info(`cancel ${job.id}: ${result.outcome}${result.message ? ` (${result.message.trim()})` : ''}`);
  if (result.outcome === 'error') throw new Error(`PBS did not cancel job ${job.id}: ${result.message?.trim() || 'no reason given'}`);
  if (result.outcome === 'gone') void vscode.window.showInformationMessage(inertMessage(`Job ${job.id} (${where}) had already left the queue.`));
  await ctx.refresher.now('action');
  return result;
}

/**
 * A cluster's job goes through its cluster (lock, workers retired first), the kernel's through the kernel's own stop;
 * another job of the user through the agent's qdel.
 */
async function cancelOne(node: JobNode, signal: AbortSignal, onProgress: (m: string) => void): Promise<CancelledJob> {
  const { job } = node;
  if (node.entry && node.role === 'kernel') return node.entry.cluster.cancelKernelJob(job.id, { signal, onProgress });
  if (node.entry && node.role !== 'other') {
    const r = await node.entry.cluster.cancelJobs([job.id], { signal, onProgress });
    return r.cancelled[0];
  }
  const { manager } = node.connection;
  const [result] = await core().cancelOtherJobs(node.connection.transport, [job.id], { signal, onProgress, deployer: manager.deployer, agent: manager.agent });
  return result;
}

export async function showJobScript(ctx: Context, arg?: unknown): Promise<string> {
  let text: string;
  let path: string;
  if (isNode(arg) && arg.kind === 'job') {
    if (!arg.entry || arg.role === 'other') {
      throw new UserFacingError(`Job ${arg.job.id} is not from a Dask cluster of this workspace; PBS does not keep its script where the extension can read it.`, []);
    }
    const { cluster } = arg.entry;
    const file = arg.role === 'kernel' ? cluster.kernelScriptPath : `${cluster.paths.cluster}/${arg.role === 'scheduler' ? 'scheduler.pbs' : 'worker.pbs'}`;
    path = `/${arg.connection.label}/${cluster.name}/${shortJobId(arg.job.id)}.pbs`;
    try {
      // The copy on the cluster is what qsub got for the latest jobs; the config may have changed since.
      text = (await arg.connection.transport.readFile(file)).toString('utf8');
    } catch (e) {
      if (!(e instanceof core().RemoteFileError)) throw e;
      ctx.log.warn(`${e.message} Showing the script the config makes now.`);
      text = arg.role === 'scheduler' ? cluster.schedulerJobScript() : arg.role === 'kernel' ? cluster.kernelJobScript() : cluster.workerJobScript();
    }
  } else {
    // No connection needed: the worker job script follows from the config alone, as Cluster.workerJobScript makes it.
    const entry = isNode(arg) && 'entry' in arg && arg.entry ? arg.entry : undefined;
    const config = entry?.config ?? (await ctx.configs.choose('for the job script', configUri(arg as TargetArgs | undefined)));
    const name = core().clusterNameOf(config.config);
    text = entry?.cluster.workerJobScript() ?? core().renderJobScript(config.config.jobqueue.pbs, core().workerScriptContext(config.config, core().clusterPaths(name)));
    path = `/${name}/worker.pbs`;
  }
  await ctx.documents.show(path, text, 'shellscript');
  return text;
}

export async function openJobOutput(ctx: Context, arg?: unknown): Promise<string> {
  const args = jobArgs(arg);
  const node = await jobFor(ctx, arg, 'open the output of');
  const { job } = node;
  const files = [
    { stream: 'o' as const, label: 'Standard output', path: job.outputPath },
    { stream: 'e' as const, label: 'Standard error', path: job.errorPath },
  ].filter((f): f is { stream: 'o' | 'e'; label: string; path: string } => !!f.path);
  if (!files.length) throw new UserFacingError(`PBS names no output file for job ${job.id}.`, [ACTIONS.refresh]);
  let file = files.find((f) => f.stream === args.stream);
  if (!file && args.stream) throw new UserFacingError(`PBS names no ${args.stream === 'o' ? 'output' : 'error'} file for job ${job.id}.`, [ACTIONS.refresh]);
  if (!file) {
    const distinct = files.filter((f, i) => files.findIndex((g) => g.path === f.path) === i);
    if (distinct.length === 1) file = distinct[0];
    else {
      const picked = await vscode.window.showQuickPick(distinct.map((f) => ({ label: f.label, description: f.path, file: f })), { title: `Gadi Dask: output of job ${job.id}` });
      if (!picked) throw new Cancelled();
      file = picked.file;
    }
  }
  let text: string;
  try {
    text = (await node.connection.transport.readFile(file.path)).toString('utf8');
  } catch (e) {
    if (e instanceof core().RemoteFileError && e.code === 'ENOENT' && job.stateInfo.active) {
      throw new UserFacingError(`Job ${job.id} is ${job.stateInfo.label.toLowerCase()}: PBS copies its output to ${file.path} when it ends.`, [ACTIONS.refresh]);
    }
    throw e;
  }
  await ctx.documents.show(`/${node.connection.label}/${posix.basename(file.path)}`, text, 'log');
  return text;
}

