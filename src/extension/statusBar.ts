// The status bar item: the connected host and the active cluster's worker jobs and workers; a click opens the
// PBS Jobs view. "Active" is the cluster of the config in the editor, else the first one.
import * as vscode from 'vscode';
import type { ClusterEntry, ClusterModel } from './clusters';
import { core } from './core';
import type { Session } from './session';

export class StatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem('gadiDask.status', vscode.StatusBarAlignment.Left, 50);
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly session: Session, private readonly model: ClusterModel) {
    this.item.name = 'Dask on Gadi';
    this.item.command = { title: 'Show PBS Jobs', command: 'gadiDask.jobs.focus' };
    this.subscriptions = [
      session.onDidChange(() => this.update()),
      model.onDidChange(() => this.update()),
      vscode.window.onDidChangeActiveTextEditor(() => this.update()),
    ];
    this.update();
    this.item.show();
  }

  /** The text shown now (tests read it). */
  get text(): string {
    return this.item.text;
  }

  activeCluster(): ClusterEntry | undefined {
    const entries = this.model.list();
    const doc = vscode.window.activeTextEditor?.document.uri.toString();
    return entries.find((e) => e.config.uri.toString() === doc) ?? entries[0];
  }

  update(): void {
    const connections = this.session.all();
    if (!connections.length) {
      this.item.text = '$(debug-disconnect) Gadi Dask';
      this.item.tooltip = 'Dask on Gadi: not connected. Click to open the PBS Jobs view.';
      return;
    }
    const entry = this.activeCluster();
    const host = entry?.connection ?? connections[0];
    const state = host.transport.state;
    const icon = state === 'connected' ? '$(server-process)' : state === 'reconnecting' || state === 'connecting' ? '$(sync~spin)' : '$(warning)';
    const s = entry?.snapshot;
    const counts = s?.exists ? ` ${s.cluster}: ${s.counts.workerJobs} job${s.counts.workerJobs === 1 ? '' : 's'}, ${s.counts.workers} worker${s.counts.workers === 1 ? '' : 's'}` : entry ? ` ${entry.cluster.name}` : '';
    // The transport reconnects by itself with backoff; say so rather than show counts that may be stale.
    const link = state === 'reconnecting' ? ' · reconnecting…' : state === 'disconnected' ? ' · disconnected' : '';
    // A cluster with a target shows against it ("4/4 jobs · 1 replacement queued · next expiry 11:52").
    const target = s?.exists && s.adaptive ? core().targetSummary(s.adaptive, core().clockTime) : undefined;
    const shown = target && s?.exists ? ` ${s.cluster}: ${target.short}` : counts;
    const expiry = s ? core().schedulerExpiry(s) : undefined;
    this.item.text = `${icon} ${host.label}${link || (shown ? ` ·${shown}` : '')}${expiry ? ` · $(warning) ${expiry.short}` : ''}`;
    const lines = [`Dask on Gadi: ${host.label} (${state})`];
    const { count, last } = host.drops;
    if (count && last) lines.push(`The connection dropped ${count === 1 ? 'once' : `${count} times`} (last at ${last.toLocaleTimeString()}); it reconnects by itself.`);
    if (s?.exists) {
      lines.push(`Cluster ${s.cluster}: scheduler ${s.scheduler.state}, ${s.counts.workerJobs} worker jobs (${s.counts.queuedWorkerJobs} waiting), ${s.counts.workers} workers, ${s.counts.threads} threads`);
      if (target) lines.push(`Target: ${target.line}`);
      if (target?.givenUp) lines.push(`Stopped replacing jobs: ${target.givenUp.reason}`);
      if (s.scheduler.session) lines.push(`Scheduler in the persistent session ${s.scheduler.session.name}, with no walltime`);
      if (expiry) lines.push(expiry.message);
      lines.push(`As of ${s.takenAt.toLocaleTimeString()}`);
    }
    lines.push('Click to open the PBS Jobs view.');
    this.item.tooltip = lines.join('\n');
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.item.dispose();
  }
}
