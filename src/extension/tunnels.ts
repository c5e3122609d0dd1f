// SSH tunnels to the clusters' dashboards: one per cluster, reused while the scheduler keeps its dashboard address,
// closed when the cluster shuts down or its connection closes.
import * as vscode from 'vscode';
import type { DashboardInfo } from '../core/cluster/runtimeDocs';
import type { ForwardHandle } from '../core/remote/transport';
import type { ClusterEntry } from './clusters';
import { core } from './core';

interface Tunnel {
  handle: ForwardHandle;
  /** `host:port` of the dashboard on the cluster side. */
  remote: string;
  connectionKey: string;
}

export class Tunnels implements vscode.Disposable {
  private readonly tunnels = new Map<string, Tunnel>();

  constructor(private readonly log: vscode.LogOutputChannel) {}

  /** A local port that reaches the dashboard on the cluster side (through its door when the cluster is secured). */
  async open(entry: ClusterEntry, dashboard: DashboardInfo, signal?: AbortSignal): Promise<number> {
    const remote = `${dashboard.host}:${dashboard.port}${dashboard.tls ? ' (TLS)' : ''}`;
    const existing = this.tunnels.get(entry.id);
    if (existing?.remote === remote && entry.connection.transport.state !== 'closed') return existing.handle.localPort;
    if (existing) await this.close(entry.id);
    const handle = await core().abortable(entry.cluster.forwardDashboard(dashboard), signal, (late) => late.close());
    this.tunnels.set(entry.id, { handle, remote, connectionKey: entry.connection.key });
    this.log.info(`Dashboard of ${entry.cluster.name}: 127.0.0.1:${handle.localPort} → ${remote} via ${entry.connection.label}.`);
    return handle.localPort;
  }

  localPort(entryId: string): number | undefined {
    return this.tunnels.get(entryId)?.handle.localPort;
  }

  async close(entryId: string): Promise<void> {
    const t = this.tunnels.get(entryId);
    if (!t) return;
    this.tunnels.delete(entryId);
    await t.handle.close().catch(() => undefined);
    this.log.info(`Closed the dashboard tunnel 127.0.0.1:${t.handle.localPort} → ${t.remote}.`);
  }

  async closeConnection(connectionKey: string): Promise<void> {
    for (const [id, t] of [...this.tunnels]) if (t.connectionKey === connectionKey) await this.close(id);
  }

  dispose(): void {
    for (const id of [...this.tunnels.keys()]) void this.close(id);
  }
}
