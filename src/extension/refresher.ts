// When the PBS Jobs view refreshes: on a timer only while the view is visible (NCI asks users not to poll qstat
// when nobody looks), with exponential backoff after failures, plus at once on demand (manual refresh, after an
// action, when the view becomes visible with stale data).
import * as vscode from 'vscode';
import { setSafeTimeout } from '../core/timers';
import type { ClusterModel, RefreshReason } from './clusters';
import { readSettings } from './settings';

const MAX_BACKOFF_FACTOR = 16;

export class Refresher implements vscode.Disposable {
  private timer?: NodeJS.Timeout;
  private failures = 0;
  private lastRun = 0;
  private visible = false;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly model: ClusterModel, view: vscode.TreeView<unknown>, private readonly log: vscode.LogOutputChannel) {
    this.visible = view.visible;
    this.subscriptions = [
      view.onDidChangeVisibility((e) => {
        this.visible = e.visible;
        if (!e.visible) return this.stop();
        if (Date.now() - this.lastRun >= this.intervalMs()) void this.now('visible');
        else this.schedule();
      }),
      model.onDidAddCluster(() => void this.now('connected')),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('gadiDask.refreshInterval')) this.schedule();
      }),
    ];
  }

  /** Refreshes now; resolves true when every cluster answered. */
  async now(reason: RefreshReason): Promise<boolean> {
    this.stop();
    this.lastRun = Date.now();
    let ok = false;
    try {
      ok = await this.model.refresh(reason);
    } finally {
      this.failures = ok ? 0 : this.failures + 1;
      this.schedule();
    }
    return ok;
  }

  /** The pause before the next timed refresh: the interval, doubled after each failure in a row. */
  delayMs(): number {
    return this.intervalMs() * Math.min(MAX_BACKOFF_FACTOR, 2 ** this.failures);
  }

  dispose(): void {
    this.stop();
    for (const s of this.subscriptions) s.dispose();
  }

  private intervalMs(): number {
    return readSettings().refreshIntervalSeconds * 1000;
  }

  private schedule(): void {
    this.stop();
    if (!this.visible || this.model.list().length === 0) return;
    const delay = this.delayMs();
    if (this.failures) this.log.debug(`Next refresh in ${Math.round(delay / 1000)} s after ${this.failures} failed refresh(es).`);
    this.timer = setSafeTimeout(() => void this.now('timer'), delay); // the interval is a user setting
  }

  private stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }
}
