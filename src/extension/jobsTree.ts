// The PBS Jobs view: clusters → their PBS jobs → the Dask workers inside each job, clusters started elsewhere (no
// config here; read-only), the user's other PBS jobs, and problems as message nodes (never pop-ups). Empty while
// nothing is connected, so the welcome content shows. Children come from the model's last snapshots: expanding a
// node never waits on the cluster, except "Other PBS jobs", which is fetched the first time it is opened.
import * as vscode from 'vscode';
import type { ClusterJob, DiscoveredCluster, WorkerStatus } from '../core/cluster';
import type { PbsJob } from '../core/pbs/qstat';
import type { ClusterEntry, ClusterModel } from './clusters';
import type { Connection, Session } from './session';
import { clusterItem, foundClusterItem, jobItem, messageItem, workerItem, type JobRole, type Severity } from './treeItems';
import { FINISHED_JOBS_CONTEXT, OTHER_JOBS_CONTEXT } from './contextValues';
import { inertItem } from './inert';
import { core } from './core';

export interface ClusterNode {
  kind: 'cluster';
  entry: ClusterEntry;
}

export interface JobNode {
  kind: 'job';
  job: PbsJob;
  role: JobRole;
  workers: WorkerStatus[];
  connection: Connection;
  /** The cluster it belongs to (not for other jobs). */
  entry?: ClusterEntry;
  /** Where it sits in the tree, for a unique id. */
  place: string;
}

export interface WorkerNode {
  kind: 'worker';
  worker: WorkerStatus;
  entry: ClusterEntry;
  place: string;
}

export interface MessageNode {
  kind: 'message';
  id: string;
  text: string;
  severity: Severity;
  command?: vscode.Command;
  tooltip?: string;
}

export interface FinishedNode {
  kind: 'finished';
  entry: ClusterEntry;
}

export interface OtherJobsNode {
  kind: 'otherJobs';
  connection: Connection;
}

/** A cluster on the account that no config of this workspace names (found at connect): shown, not managed. */
export interface FoundClusterNode {
  kind: 'foundCluster';
  connection: Connection;
  cluster: DiscoveredCluster;
}

export type Node = ClusterNode | JobNode | WorkerNode | MessageNode | FinishedNode | OtherJobsNode | FoundClusterNode;

/** Every kind of node, so a command can tell a tree node from its own arguments; typed to miss none. */
export const NODE_KINDS = ['cluster', 'job', 'worker', 'message', 'finished', 'otherJobs', 'foundCluster'] as const satisfies readonly Node['kind'][];
const _allKinds: Node['kind'] extends (typeof NODE_KINDS)[number] ? true : never = true;
void _allKinds;

const SHOW_LOG: vscode.Command = { title: 'Show Log', command: 'gadiDask.showLog' };

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class JobsTreeProvider implements vscode.TreeDataProvider<Node>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly subscription: vscode.Disposable;

  constructor(private readonly session: Session, private readonly model: ClusterModel) {
    this.subscription = vscode.Disposable.from(
      model.onDidChange(() => this.changed.fire(undefined)),
      session.onDidChange(() => this.changed.fire(undefined)),
    );
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  /** Every item is made inert here: labels, descriptions and tooltips quote PBS and the scheduler. */
  getTreeItem(node: Node): vscode.TreeItem {
    return inertItem(this.itemFor(node));
  }

  private itemFor(node: Node): vscode.TreeItem {
    switch (node.kind) {
      case 'cluster':
        return clusterItem(node.entry);
      case 'job': {
        // The kernel's job warns before its walltime ends: its notebook's variables go with it.
        const notice = node.role === 'kernel' ? core().kernelExpiry(node.entry?.snapshot) : undefined;
        return jobItem(node.job, node.role, node.workers, `${node.place}|${node.job.id}`, notice?.jobId === node.job.id ? notice : undefined);
      }
      case 'worker':
        return workerItem(node.worker, `${node.place}|${node.worker.name}`);
      case 'message':
        return messageItem(node.text, node.severity, node.id, node.command, node.tooltip);
      case 'finished': {
        const n = node.entry.snapshot?.finishedJobs.length ?? 0;
        const item = new vscode.TreeItem('Finished jobs', vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.entry.id}|finished`;
        item.description = `${n} in the last day`;
        item.iconPath = new vscode.ThemeIcon('history');
        item.contextValue = FINISHED_JOBS_CONTEXT;
        return item;
      }
      case 'foundCluster':
        return foundClusterItem(node.cluster, node.connection.label, `${node.connection.key}|found|${node.cluster.name}`);
      case 'otherJobs': {
        const item = new vscode.TreeItem('Other PBS jobs', vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `${node.connection.key}|other`;
        const other = this.model.otherJobs(node.connection.key);
        item.description = other.jobs ? `${this.otherJobsOf(node.connection).length} on ${node.connection.label}` : node.connection.label;
        item.tooltip = `Your PBS jobs on ${node.connection.label} that belong to no cluster of this workspace (listed when opened).`;
        item.iconPath = new vscode.ThemeIcon('list-unordered');
        item.contextValue = OTHER_JOBS_CONTEXT;
        return item;
      }
    }
  }

  async getChildren(node?: Node): Promise<Node[]> {
    if (!node) return this.roots();
    switch (node.kind) {
      case 'cluster':
        return this.clusterChildren(node.entry);
      case 'job':
        return node.entry
          ? node.workers.map((worker) => ({ kind: 'worker', worker, entry: node.entry!, place: `${node.place}|${node.job.id}` }))
          : [];
      case 'finished':
        return (node.entry.snapshot?.finishedJobs ?? []).map((j) => this.jobNode(j, node.entry, `${node.entry.id}|finished`));
      case 'otherJobs':
        return this.otherJobChildren(node.connection);
      default:
        return [];
    }
  }

  /** The parent of a node, so the view can reveal it; clusters' direct children and the other jobs are resolved. */
  getParent(node: Node): Node | undefined {
    if (node.kind === 'job' && node.entry && node.place === node.entry.id) return { kind: 'cluster', entry: node.entry };
    if (node.kind === 'job' && node.role === 'other' && !node.entry) return { kind: 'otherJobs', connection: node.connection };
    return undefined;
  }

  private roots(): Node[] {
    const out: Node[] = [];
    const connections = this.session.all();
    for (const c of connections) {
      const entries = this.model.forConnection(c.key);
      for (const entry of entries) out.push({ kind: 'cluster', entry });
      if (!entries.length) {
        out.push(this.message(`${c.key}|noconfig`, `No cluster config in this workspace names ${c.label}`, 'info',
          { title: 'Create Cluster Config', command: 'gadiDask.createClusterConfig' }));
      }
      const found = this.model.elsewhere(c.key);
      for (const cluster of found.clusters ?? []) out.push({ kind: 'foundCluster', connection: c, cluster });
      if (found.error && !found.clusters) {
        out.push(this.message(`${c.key}|found|error`, `Listing the clusters on ${c.label} failed: ${errorText(found.error)}`, 'warning', SHOW_LOG));
      }
      out.push({ kind: 'otherJobs', connection: c });
    }
    if (!connections.length) return out; // the welcome content explains how to connect
    for (const bad of this.model.invalidConfigs()) {
      out.push(this.message(`invalid|${bad.uri.toString()}`, `${bad.label}: ${errorText(bad.error)}`, 'error',
        { title: 'Open Config', command: 'vscode.open', arguments: [bad.uri] }));
    }
    return out;
  }

  private clusterChildren(entry: ClusterEntry): Node[] {
    const out: Node[] = [];
    const s = entry.snapshot;
    if (entry.error) {
      out.push(this.message(`${entry.id}|error`, `Refresh failed: ${errorText(entry.error)}`, 'error', SHOW_LOG));
    }
    if (!s) {
      if (!entry.error) out.push(this.message(`${entry.id}|loading`, 'Asking the cluster…', 'loading'));
      return out;
    }
    if (!s.exists) {
      out.push(this.message(`${entry.id}|absent`, `Not started on ${entry.connection.label}: Scale Cluster starts it`, 'info',
        { title: 'Scale Cluster', command: 'gadiDask.scaleCluster', arguments: [{ kind: 'cluster', entry }] }));
      return out;
    }
    const problem = s.scheduler.problem;
    if (problem && s.scheduler.state !== 'running') {
      const severity: Severity = s.scheduler.state === 'unreachable' || s.scheduler.state === 'unknown' ? 'warning' : 'info';
      out.push(this.message(`${entry.id}|scheduler`, problem, severity));
    }
    for (const job of s.jobs) out.push(this.jobNode(job, entry, entry.id));
    if (s.otherWorkers.length) {
      for (const worker of s.otherWorkers) out.push({ kind: 'worker', worker, entry, place: `${entry.id}|stray` });
    }
    if (!s.jobs.length && !s.otherWorkers.length) {
      out.push(this.message(`${entry.id}|nojobs`, 'No jobs in the queue', 'info'));
    }
    if (s.finishedJobs.length) out.push({ kind: 'finished', entry });
    return out;
  }

  private jobNode(job: ClusterJob, entry: ClusterEntry, place: string): JobNode {
    return { kind: 'job', job: job.pbs, role: job.role, workers: job.workers, connection: entry.connection, entry, place };
  }

  private otherJobsOf(connection: Connection): PbsJob[] {
    const ours = new Set<string>();
    for (const e of this.model.forConnection(connection.key)) {
      for (const j of [...(e.snapshot?.jobs ?? []), ...(e.snapshot?.finishedJobs ?? [])]) ours.add(j.id);
    }
    return (this.model.otherJobs(connection.key).jobs ?? []).filter((j) => !ours.has(j.id));
  }

  private async otherJobChildren(connection: Connection): Promise<Node[]> {
    const other = this.model.otherJobs(connection.key);
    if (!other.wanted) await this.model.refreshOtherJobs(connection.key);
    const id = `${connection.key}|other`;
    if (other.error && !other.jobs) return [this.message(`${id}|error`, errorText(other.error), 'error', SHOW_LOG)];
    const jobs = this.otherJobsOf(connection);
    if (!jobs.length) return [this.message(`${id}|none`, other.loading ? 'Asking PBS…' : 'No other jobs', other.loading ? 'loading' : 'info')];
    return jobs.map((job) => ({ kind: 'job', job, role: 'other', workers: [], connection, place: id }));
  }

  private message(id: string, text: string, severity: Severity, command?: vscode.Command): MessageNode {
    return { kind: 'message', id, text, severity, command };
  }
}
