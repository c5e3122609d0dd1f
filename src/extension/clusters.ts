// What the PBS Jobs view and the status bar show: for each open connection, the clusters of the configs that name
// its host, each with its last snapshot (or the error of the last refresh), the user's other PBS jobs, and the
// clusters on the account that no config here names (listed at connect and on manual refreshes only). A refresh is
// one Cluster.status() round trip per cluster; concurrent requests share the refresh in flight.
import * as vscode from 'vscode';
import type { Cluster, ClusterSnapshot, DiscoveredCluster } from '../core/cluster';
import type { PbsJob } from '../core/pbs/qstat';
import { core } from './core';
import type { ConfigEntry, ConfigStore, ValidConfig } from './configs';
import { targetOf, type Connection, type Session } from './session';
import { readSettings } from './settings';

export type RefreshReason = 'timer' | 'manual' | 'action' | 'visible' | 'connected' | 'config';

export interface ClusterEntry {
  /** Stable across refreshes: the connection and the config file. */
  readonly id: string;
  readonly connection: Connection;
  readonly config: ValidConfig;
  readonly cluster: Cluster;
  snapshot?: ClusterSnapshot;
  /** The last refresh failed with this (the snapshot, if any, is older). */
  error?: unknown;
  refreshing: boolean;
}

export interface OtherJobs {
  jobs?: PbsJob[];
  error?: unknown;
  loading: boolean;
  /** Fetched once the node was opened; refreshed by manual refreshes only. */
  wanted: boolean;
}

/** Clusters found on the account (~/.gadi-dask/clusters): asked once per connection and on manual refreshes. */
export interface FoundClusters {
  clusters?: DiscoveredCluster[];
  error?: unknown;
}

export class ClusterModel implements vscode.Disposable {
  private entries = new Map<string, ClusterEntry>();
  private readonly other = new Map<string, OtherJobs>();
  private readonly found = new Map<string, FoundClusters>();
  private invalid: ConfigEntry[] = [];
  private inFlight?: Promise<boolean>;
  private again?: { reason: RefreshReason; promise: Promise<boolean> };
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly added = new vscode.EventEmitter<void>();
  /** A cluster appeared (a connection opened, a config was added): it wants a refresh. */
  readonly onDidAddCluster = this.added.event;
  private readonly subscriptions: vscode.Disposable[];

  constructor(private readonly session: Session, private readonly configs: ConfigStore, private readonly log: vscode.LogOutputChannel) {
    this.subscriptions = [
      session.onDidChange(() => void this.sync()),
      configs.onDidChange(() => void this.sync()),
    ];
  }

  list(): ClusterEntry[] {
    return [...this.entries.values()];
  }

  /** Configs that do not parse, for message nodes. */
  invalidConfigs(): ConfigEntry[] {
    return this.invalid;
  }

  forConnection(key: string): ClusterEntry[] {
    return this.list().filter((e) => e.connection.key === key);
  }

  byConfig(uri: vscode.Uri): ClusterEntry | undefined {
    return this.list().find((e) => e.config.uri.toString() === uri.toString());
  }

  otherJobs(connectionKey: string): OtherJobs {
    let o = this.other.get(connectionKey);
    if (!o) {
      o = { loading: false, wanted: false };
      this.other.set(connectionKey, o);
    }
    return o;
  }

  /** Clusters on `connectionKey`'s account that no config of this workspace names. */
  elsewhere(connectionKey: string): FoundClusters {
    const f = this.found.get(connectionKey) ?? {};
    const here = new Set(this.forConnection(connectionKey).map((e) => e.cluster.name));
    return { ...f, clusters: f.clusters?.filter((c) => !here.has(c.name)) };
  }

  /** Lists the clusters on the account (one exec); the tree shows the ones without a config here. */
  async discover(connectionKey: string): Promise<void> {
    const connection = this.session.get(connectionKey);
    if (!connection) return;
    const f: FoundClusters = this.found.get(connectionKey) ?? {};
    this.found.set(connectionKey, f);
    try {
      f.clusters = await core().discoverClusters(connection.transport, { deployer: connection.manager.deployer, agent: connection.manager.agent });
      f.error = undefined;
    } catch (e) {
      f.error = e;
      this.log.warn(`Listing the clusters on ${connection.label} failed: ${(e as Error).message}`);
    }
    this.changed.fire();
  }

  /** Matches the entries to the open connections and the current configs (no remote calls). */
  async sync(): Promise<void> {
    const settings = readSettings();
    const all = await this.configs.list();
    const next = new Map<string, ClusterEntry>();
    const invalid = all.filter((c) => c.error);
    for (const config of all) {
      if (!config.config) continue;
      let key: string;
      try {
        key = targetOf(config.config, settings, config.label).key;
      } catch {
        continue; // no host: shown when a command needs it
      }
      const connection = this.session.get(key);
      if (!connection) continue;
      const id = `${connection.key}|${config.uri.toString()}`;
      const old = this.entries.get(id);
      if (old && old.config.config === config.config && old.connection === connection) {
        next.set(id, old);
        continue;
      }
      let cluster: Cluster;
      try {
        cluster = connection.manager.cluster(config.config);
      } catch (e) {
        invalid.push({ ...config, error: e as Error }); // e.g. a jobqueue.pbs.name that cannot name a cluster
        continue;
      }
      // An edited config keeps showing the cluster's last state until the next refresh.
      const keep = old && old.cluster.name === cluster.name ? { snapshot: old.snapshot, error: old.error } : {};
      next.set(id, { id, connection, config: config as ValidConfig, cluster, refreshing: false, ...keep });
    }
    this.invalid = invalid;
    for (const key of [...this.other.keys()]) if (!this.session.get(key)) this.other.delete(key);
    for (const key of [...this.found.keys()]) if (!this.session.get(key)) this.found.delete(key);
    // Once per connection: a new connection has no entry yet (discover adds it before its exec).
    for (const c of this.session.all()) if (!this.found.has(c.key)) void this.discover(c.key);
    const added = [...next.keys()].some((k) => !this.entries.has(k));
    this.entries = next;
    this.changed.fire();
    if (added) this.added.fire();
  }

  /**
   * Takes a snapshot of every cluster (one exec each, in parallel) and resolves true when all succeeded. A request
   * made while one runs waits for it and then runs once more, so an action's result is never missed.
   */
  refresh(reason: RefreshReason): Promise<boolean> {
    if (!this.inFlight) {
      this.inFlight = this.run(reason).finally(() => (this.inFlight = undefined));
      return this.inFlight;
    }
    if (reason === 'timer' || reason === 'visible') return this.inFlight;
    if (!this.again) {
      const promise = this.inFlight.then(() => {
        const r = this.again!.reason;
        this.again = undefined;
        return this.refresh(r);
      });
      this.again = { reason, promise };
    }
    return this.again.promise;
  }

  /** Fetches the user's other PBS jobs on `connectionKey`. */
  async refreshOtherJobs(connectionKey: string): Promise<void> {
    const connection = this.session.get(connectionKey);
    if (!connection) return;
    const o = this.otherJobs(connectionKey);
    o.wanted = true;
    o.loading = true;
    this.changed.fire();
    try {
      const ours = this.forConnection(connectionKey).flatMap((e) => [...(e.snapshot?.jobs ?? []), ...(e.snapshot?.finishedJobs ?? [])].map((j) => j.id));
      o.jobs = await core().listOtherJobs(connection.transport, { exclude: ours, deployer: connection.manager.deployer, agent: connection.manager.agent });
      o.error = undefined;
    } catch (e) {
      o.error = e;
      this.log.warn(`Listing the PBS jobs on ${connection.label} failed: ${(e as Error).message}`);
    } finally {
      o.loading = false;
      this.changed.fire();
    }
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
    this.added.dispose();
  }

  private async run(reason: RefreshReason): Promise<boolean> {
    const entries = this.list();
    if (!entries.length) {
      if (reason === 'manual') await Promise.all([...this.found.keys()].map((key) => this.discover(key)));
      return true;
    }
    this.log.debug(`Refreshing ${entries.length} cluster(s) (${reason}).`);
    for (const e of entries) e.refreshing = true;
    this.changed.fire();
    const results = await Promise.all(entries.map(async (e) => {
      try {
        e.snapshot = await e.cluster.status();
        e.error = undefined;
        return true;
      } catch (err) {
        e.error = err;
        this.log.warn(`Refreshing cluster ${e.cluster.name} on ${e.connection.label} failed: ${(err as Error).message}`);
        return false;
      } finally {
        e.refreshing = false;
      }
    }));
    if (reason === 'manual') {
      await Promise.all([
        ...[...this.other.entries()].filter(([, o]) => o.wanted).map(([key]) => this.refreshOtherJobs(key)),
        ...[...this.found.keys()].map((key) => this.discover(key)),
      ]);
    }
    this.changed.fire();
    return results.every(Boolean);
  }
}
