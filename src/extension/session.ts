// Connections to clusters: one transport per host, shared by every cluster config that names it, opened on demand
// and kept until Disconnect. SSH sign-in prompts go through EditorPrompt; the transport logs to the extension's
// log channel, which only ever receives messages the core marks safe (no secrets).
import { hostname } from 'node:os';
import * as vscode from 'vscode';
import type { ClusterManager } from '../core/cluster';
import { isGadiHost } from '../core/config/site';
import type { ClusterConfig } from '../core/config/schema';
import type { SshTransport, SshTransportPool } from '../core/remote/sshTransport';
import type { ConnectionState, Transport, TransportLogger } from '../core/remote/transport';
import { VERSION } from '../core/version';
import { core } from './core';
import { UserFacingError } from './errors';
import type { EditorPrompt } from './prompts';
import { readSettings, type Settings } from './settings';

export type TransportKind = 'ssh' | 'local';

export interface Target {
  /** What identifies the connection: `user@host`, `host`, or `local`. */
  key: string;
  kind: TransportKind;
  /** For the user: the ssh alias, or this machine's name. */
  label: string;
}

export interface Connection extends Target {
  readonly transport: Transport;
  readonly manager: ClusterManager;
  /** How often the link dropped and the transport set out to reconnect (the status bar's tooltip says so). */
  readonly drops: { count: number; last?: Date };
}

export function logAdapter(log: vscode.LogOutputChannel): TransportLogger {
  return { debug: (m) => log.debug(m), info: (m) => log.info(m), warn: (m) => log.warn(m) };
}

/** auto: local when this editor already runs on a Gadi login node (or the host the config names), ssh otherwise. */
export function transportKind(settings: Settings, config: ClusterConfig | undefined, localHost = hostname()): TransportKind {
  if (settings.transport !== 'auto') return settings.transport;
  const host = config?.connection?.host;
  if (isGadiHost(localHost)) return 'local';
  return host !== undefined && host.toLowerCase() === localHost.toLowerCase() ? 'local' : 'ssh';
}

export function targetOf(config: ClusterConfig, settings: Settings, configName: string): Target {
  const kind = transportKind(settings, config);
  if (kind === 'local') return { key: 'local', kind, label: hostname() };
  const conn = config.connection;
  if (!conn?.host) {
    throw new UserFacingError(
      `${configName} has no connection.host: add \`connection: {host: <ssh alias>}\` naming your ~/.ssh/config alias for the cluster, or set gadiDask.transport to local when VS Code runs on the cluster.`,
      [{ title: 'Open Config', command: 'gadiDask.openConfig' }, { title: 'Open Settings', command: 'workbench.action.openSettings', args: ['gadiDask.transport'] }],
    );
  }
  const key = conn.user ? `${conn.user}@${conn.host}` : conn.host;
  return { key, kind, label: key };
}

export class Session implements vscode.Disposable {
  private readonly connections = new Map<string, Connection>();
  private readonly opening = new Map<string, Promise<Connection>>();
  private readonly stateSubscriptions = new Map<string, { dispose(): void }>();
  private pool?: { pool: SshTransportPool; key: string };
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly log: vscode.LogOutputChannel, private readonly prompt: EditorPrompt) {}

  get(key: string): Connection | undefined {
    return this.connections.get(key);
  }

  all(): Connection[] {
    return [...this.connections.values()];
  }

  isConnecting(key: string): boolean {
    return this.opening.has(key);
  }

  state(key: string): ConnectionState | undefined {
    return this.connections.get(key)?.transport.state;
  }

  /** The open connection for `target`, or a new one (signing in now, so problems show at once). */
  /** `signal`: cancelling closes a half-open connection (the first caller's signal governs a shared opening). */
  connect(target: Target, signal?: AbortSignal): Promise<Connection> {
    const open = this.connections.get(target.key);
    if (open?.transport.state === 'failed') return this.retry(open);
    if (open) return Promise.resolve(open);
    let p = this.opening.get(target.key);
    if (!p) {
      p = this.open(target, signal).finally(() => this.opening.delete(target.key));
      this.opening.set(target.key, p);
      this.changed.fire();
    }
    return p;
  }

  /** Signing in failed after the link dropped (auth, host key): once the user fixed the cause, try once more. */
  private async retry(c: Connection): Promise<Connection> {
    this.log.info(`Signing in to ${c.label} again…`);
    const ssh = c.transport as Partial<SshTransport>;
    try {
      await ssh.reconnect?.();
      await this.prompt.commit();
    } catch (e) {
      this.prompt.discard();
      throw e;
    }
    this.changed.fire();
    return c;
  }

  async disconnect(key: string): Promise<void> {
    const c = this.connections.get(key);
    if (!c) return;
    this.connections.delete(key);
    this.stateSubscriptions.get(key)?.dispose();
    this.stateSubscriptions.delete(key);
    c.manager.close();
    await c.transport.close();
    this.log.info(`Disconnected from ${c.label}.`);
    await this.closeIdlePool();
    this.changed.fire();
  }

  async disconnectAll(): Promise<void> {
    for (const key of [...this.connections.keys()]) await this.disconnect(key);
  }

  dispose(): void {
    void this.disconnectAll().finally(() => this.pool?.pool.close());
    this.changed.dispose();
  }

  private async open(target: Target, signal?: AbortSignal): Promise<Connection> {
    const settings = readSettings();
    let transport: Transport;
    if (target.kind === 'local') {
      transport = new (core().LocalTransport)({ host: target.label, logger: logAdapter(this.log) });
    } else {
      const ssh = this.sshPool(settings).open(target.key);
      this.log.info(`Connecting to ${target.label} (${ssh.resolved.user}@${ssh.resolved.hostName}:${ssh.resolved.port})…`);
      try {
        await ssh.connect(signal); // on Cancel, the close below ends the half-open connection
        await this.prompt.commit();
      } catch (e) {
        this.prompt.discard();
        await ssh.close().catch(() => undefined);
        throw e;
      }
      transport = ssh;
    }
    // One agent for the whole connection: one login shell and prologue, not one per refresh.
    const manager = new (core().ClusterManager)(transport, {
      client: `VS Code (gadi-dask ${VERSION}) on ${hostname()}`,
      onProgress: (m) => this.log.info(m),
      mode: 'session',
    });
    const connection: Connection = { ...target, transport, manager, drops: { count: 0 } };
    this.connections.set(target.key, connection);
    this.stateSubscriptions.set(target.key, transport.onStateChange((change) => {
      if (change.state === 'reconnecting' && change.attempt === 1) {
        connection.drops.count++;
        connection.drops.last = new Date();
      }
      const why = change.error ? `: ${change.error.message}` : '';
      const message = `Connection to ${target.label} is ${change.state}${change.attempt ? ` (attempt ${change.attempt})` : ''}${why}`;
      if (change.state === 'connected') this.log.info(message);
      else this.log.warn(message);
      this.changed.fire();
    }));
    this.log.info(`Connected to ${target.label} (${target.kind}).`);
    this.changed.fire();
    return connection;
  }

  /** One pool for all ssh connections (one sign-in per host); a new one once the ssh settings changed. */
  private sshPool(settings: Settings): SshTransportPool {
    const key = JSON.stringify([settings.sshConfigFile, settings.knownHostsFile]);
    if (this.pool?.key !== key) {
      const old = this.pool?.pool;
      if (old && this.connections.size === 0) void old.close();
      this.pool = {
        key,
        pool: new (core().SshTransportPool)({
          prompt: this.prompt,
          logger: logAdapter(this.log),
          sshConfig: settings.sshConfigFile ? { configFile: settings.sshConfigFile, systemConfigFile: null } : undefined,
          knownHostsFiles: settings.knownHostsFile ? [settings.knownHostsFile] : undefined,
        }),
      };
    }
    return this.pool.pool;
  }

  private async closeIdlePool(): Promise<void> {
    if (this.connections.size === 0 && this.pool) {
      const { pool } = this.pool;
      this.pool = undefined;
      await pool.close();
    }
  }
}
