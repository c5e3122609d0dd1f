// Feeds the language server the history of each connected cluster, for its right-sizing advice: fetched in the
// background after a successful refresh, at most once every few minutes per cluster (never in the way of typing or
// of the tree), and withdrawn when the cluster leaves the view (disconnected: no advice from stale facts).
import * as vscode from 'vscode';
import type { HistoryFacts } from '../core/cluster/advice';
import type { ClusterReport } from '../core/cluster/report';
import type { ClusterModel } from './clusters';
import { core } from './core';

const EVERY_MS = 5 * 60_000;

export class HistoryFeed implements vscode.Disposable {
  private readonly fetched = new Map<string, { at: number; cluster: string }>();
  private readonly inFlight = new Set<string>();
  private readonly subscription: vscode.Disposable;

  constructor(private readonly model: ClusterModel, private readonly send: (facts: HistoryFacts) => void, private readonly log: vscode.LogOutputChannel) {
    this.subscription = model.onDidChange(() => this.update());
  }

  /** A report read for another reason (the Cluster Report command) counts as a fetch. */
  take(id: string, report: ClusterReport): void {
    this.fetched.set(id, { at: Date.now(), cluster: report.cluster });
    this.send(core().historyFacts(report));
  }

  private update(): void {
    const live = new Set<string>();
    for (const e of this.model.list()) {
      live.add(e.id);
      const last = this.fetched.get(e.id);
      if (!e.snapshot?.exists || e.error || e.refreshing || this.inFlight.has(e.id) || (last && Date.now() - last.at < EVERY_MS)) continue;
      this.inFlight.add(e.id);
      e.cluster.report().then(
        (r) => this.take(e.id, r),
        (err: unknown) => {
          this.fetched.set(e.id, { at: Date.now(), cluster: e.cluster.name });
          this.log.debug(`Reading the history of ${e.cluster.name} failed: ${(err as Error).message}`);
        },
      ).finally(() => this.inFlight.delete(e.id));
    }
    for (const [id, { cluster }] of this.fetched) {
      if (live.has(id)) continue;
      this.fetched.delete(id);
      this.send({ cluster, jobs: [] });
    }
  }

  dispose(): void {
    this.subscription.dispose();
  }
}
