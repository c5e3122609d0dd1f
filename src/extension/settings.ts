// The extension's settings, read in one place with their defaults, so every module sees the same values.
import { homedir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import * as vscode from 'vscode';

export type TransportSetting = 'auto' | 'ssh' | 'local';

export interface Settings {
  /** The cluster config to use; empty means: find *.dask-cluster.yaml in the workspace. */
  configFile: string;
  /** Seconds between refreshes of the PBS Jobs view while it is visible. */
  refreshIntervalSeconds: number;
  confirmScale: boolean;
  transport: TransportSetting;
  /** Overrides ~/.ssh/config (and skips the system one) when set. */
  sshConfigFile?: string;
  /** Overrides the known_hosts files ssh config names when set; accepted keys are added to it. */
  knownHostsFile?: string;
}

export const SECTION = 'gadiDask';
/** NCI asks for gentle polling: never more often than this. */
export const MIN_REFRESH_SECONDS = 5;

function expandHome(path: string): string {
  return path === '~' ? homedir() : path.startsWith('~/') ? join(homedir(), path.slice(2)) : path;
}

function optionalPath(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? expandHome(v) : undefined;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  const interval = c.get<number>('refreshInterval', 30);
  const transport = c.get<string>('transport', 'auto');
  return {
    configFile: c.get<string>('configFile', '').trim(),
    refreshIntervalSeconds: Number.isFinite(interval) ? Math.max(MIN_REFRESH_SECONDS, interval) : 30,
    confirmScale: c.get<boolean>('confirmScale', true),
    transport: transport === 'ssh' || transport === 'local' ? transport : 'auto',
    sshConfigFile: optionalPath(c.get<string>('ssh.configFile')),
    knownHostsFile: optionalPath(c.get<string>('ssh.knownHostsFile')),
  };
}

/** The configFile setting as an absolute path: relative ones are relative to the first workspace folder. */
export function configFileSetting(settings: Settings): vscode.Uri | undefined {
  if (!settings.configFile) return undefined;
  const path = expandHome(settings.configFile);
  if (isAbsolute(path)) return vscode.Uri.file(path);
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? vscode.Uri.joinPath(folder.uri, path) : undefined;
}
