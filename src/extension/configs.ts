// The cluster configs this window works with: the gadiDask.configFile setting, else every *.dask-cluster.yaml in
// the workspace. Each is parsed by the core (an open editor's unsaved text wins over the file on disk), and kept
// with its error when it does not parse, so the tree can say what is wrong instead of hiding the cluster.
import { basename } from 'node:path';
import * as vscode from 'vscode';
import type { ClusterConfig } from '../core/config/schema';
import { core } from './core';
import { Cancelled, NoConfigError } from './errors';
import { configFileSetting, readSettings } from './settings';

export const CONFIG_GLOB = '**/*.dask-cluster.{yaml,yml}';
const LAST_PICKED = 'gadiDask.lastConfig';
const MAX_CONFIGS = 50;

export interface ConfigEntry {
  uri: vscode.Uri;
  /** Workspace-relative path, for the user. */
  label: string;
  config?: ClusterConfig;
  error?: Error;
}

export interface ValidConfig extends ConfigEntry {
  config: ClusterConfig;
}

export class ConfigStore implements vscode.Disposable {
  private entries: ConfigEntry[] = [];
  private loading?: Promise<ConfigEntry[]>;
  private stale = true;
  private timer?: NodeJS.Timeout;
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly memento: vscode.Memento) {
    const watcher = vscode.workspace.createFileSystemWatcher(CONFIG_GLOB);
    const later = () => this.invalidate();
    this.subscriptions.push(
      watcher, watcher.onDidCreate(later), watcher.onDidChange(later), watcher.onDidDelete(later),
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (this.entries.some((x) => x.uri.toString() === e.document.uri.toString())) later();
      }),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('gadiDask.configFile')) later();
      }),
      vscode.workspace.onDidChangeWorkspaceFolders(later),
    );
  }

  /** Re-reads soon (edits come in bursts). */
  invalidate(): void {
    this.stale = true;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.load(), 300);
  }

  /** Every config, read again when something changed since the last read. */
  async list(): Promise<ConfigEntry[]> {
    if (!this.stale) return this.entries;
    return this.load();
  }

  /** What the last read found, without reading. */
  cached(): ConfigEntry[] {
    return this.entries;
  }

  async valid(): Promise<ValidConfig[]> {
    return (await this.list()).filter((e): e is ValidConfig => e.config !== undefined);
  }

  /**
   * The config a command works on: `uri` when given, else the setting's, else the one open in the editor, else
   * the only one, else the one picked last, else the user picks. Throws NoConfigError when there is none and the
   * config's own error when it does not parse.
   */
  async choose(purpose: string, uri?: vscode.Uri): Promise<ValidConfig> {
    const all = await this.list();
    const byUri = (u: vscode.Uri) => all.find((e) => e.uri.toString() === u.toString());
    let entry: ConfigEntry | undefined;
    if (uri) entry = byUri(uri) ?? (await this.read(uri));
    const setting = configFileSetting(readSettings());
    if (!entry && setting) entry = byUri(setting) ?? (await this.read(setting));
    if (!entry) {
      const editor = vscode.window.activeTextEditor?.document;
      if (editor?.languageId === 'dask-cluster') entry = byUri(editor.uri) ?? (await this.read(editor.uri));
    }
    if (!entry && all.length === 1) entry = all[0];
    if (!entry && all.length === 0) throw new NoConfigError();
    if (!entry) {
      const last = this.memento.get<string>(LAST_PICKED);
      const items = all.map((e) => ({
        label: e.config ? core().clusterNameOf(e.config) : basename(e.uri.fsPath),
        description: e.label,
        detail: e.error ? `$(error) ${e.error.message}` : e.config?.connection?.host ? `on ${e.config.connection.host}` : undefined,
        entry: e,
      }));
      items.sort((a, b) => Number(b.entry.uri.toString() === last) - Number(a.entry.uri.toString() === last));
      const picked = await vscode.window.showQuickPick(items, { title: `Gadi Dask: which cluster config ${purpose}?`, matchOnDescription: true });
      if (!picked) throw new Cancelled();
      entry = picked.entry;
    }
    if (entry.error) throw entry.error;
    if (!entry.config) throw new NoConfigError(`${entry.label} could not be read.`);
    await this.memento.update(LAST_PICKED, entry.uri.toString());
    return entry as ValidConfig;
  }

  dispose(): void {
    clearTimeout(this.timer);
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
  }

  private load(): Promise<ConfigEntry[]> {
    this.loading ??= (async () => {
      this.stale = false;
      try {
        const setting = configFileSetting(readSettings());
        const uris = setting ? [setting] : await vscode.workspace.findFiles(CONFIG_GLOB, '**/node_modules/**', MAX_CONFIGS);
        uris.sort((a, b) => a.fsPath.localeCompare(b.fsPath));
        this.entries = await Promise.all(uris.map((u) => this.read(u)));
        this.changed.fire();
        return this.entries;
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  private async read(uri: vscode.Uri): Promise<ConfigEntry> {
    const label = vscode.workspace.asRelativePath(uri, false);
    try {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
      const text = open ? open.getText() : new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
      return { uri, label, config: core().parseClusterConfig(text, uri.fsPath) };
    } catch (e) {
      const { ConfigFileError } = core();
      const error = e instanceof ConfigFileError ? e : new ConfigFileError(`Cannot read the cluster config ${uri.fsPath}: ${(e as Error).message}`, uri.fsPath, { cause: e });
      return { uri, label, error };
    }
  }
}
